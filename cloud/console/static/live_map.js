// The live map: bracelets as clustered markers with their status, an accuracy circle
// when zoomed in, and the age of each fix; kept current by the /console/live stream.
// The table under the map carries the same facts as text, for keyboards and screen
// readers, and is updated with the markers.
(function () {
  "use strict";

  var element = document.getElementById("live-map");
  if (!element) return;
  var words = FieldMap.texts();
  var state = document.querySelector(".live-state");
  var devicePage = element.dataset.devicePage;
  var CIRCLES_FROM_ZOOM = 13;

  var map = FieldMap.create(element, { center: [31.23, 121.47], zoom: 10 });
  var cluster = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
  var circles = L.layerGroup();

  var byId = {}; // id -> { marker, circle, row, device }

  function statusText(status) {
    return (words.statuses && words.statuses[status]) || status;
  }

  function icon(device) {
    return L.divIcon({
      className: "bracelet bracelet-" + device.status,
      html: '<span class="pin" aria-hidden="true"></span>',
      iconSize: [18, 18],
      iconAnchor: [9, 9],
      popupAnchor: [0, -8],
    });
  }

  function popup(device) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = device.id;
    box.appendChild(title);
    var lines = [
      statusText(device.status),
      words.accuracy + ": " + (device.accuracy_m == null ? "–" : device.accuracy_m + " m"),
      words.fix_age + ": " + (device.fix_at ? FieldMap.age(device.fix_at) : "–"),
      words.battery + ": " + (device.battery_pct == null ? "–" : device.battery_pct + " %"),
    ];
    lines.forEach(function (text) {
      var line = document.createElement("div");
      line.textContent = text;
      box.appendChild(line);
    });
    var link = document.createElement("a");
    link.href = devicePage + encodeURIComponent(device.id);
    link.textContent = words.open_device;
    box.appendChild(link);
    return box;
  }

  function updateRow(device) {
    var row = document.querySelector('tr[data-device="' + CSS.escape(device.id) + '"]');
    if (!row) return;
    row.querySelector('[data-cell="status"]').textContent = statusText(device.status);
    row.querySelector('[data-cell="position"]').textContent =
      device.lat == null ? "–" : device.lat.toFixed(5) + ", " + device.lon.toFixed(5);
    row.querySelector('[data-cell="accuracy"]').textContent =
      device.accuracy_m == null ? "–" : device.accuracy_m + " m";
    var age = row.querySelector('[data-cell="age"]');
    age.dataset.fixAt = device.fix_at || "";
    age.textContent = device.fix_at ? FieldMap.age(device.fix_at) : "–";
    row.querySelector('[data-cell="battery"]').textContent =
      device.battery_pct == null ? "–" : device.battery_pct + " %";
  }

  // Draw or move one bracelet; the first set also frames the map.
  function show(device) {
    var entry = byId[device.id];
    updateRow(device);
    if (device.lat == null || device.lon == null) return;
    var at = FieldMap.toMap(device.lat, device.lon);
    if (!entry) {
      var marker = L.marker(at, { icon: icon(device), keyboard: true, title: device.id, alt: device.id });
      var circle = L.circle(at, { radius: device.accuracy_m || 0, className: "accuracy", interactive: false });
      marker.bindPopup(function () { return popup(byId[device.id].device); });
      cluster.addLayer(marker);
      circles.addLayer(circle);
      entry = byId[device.id] = { marker: marker, circle: circle };
    } else {
      entry.marker.setLatLng(at);
      entry.marker.setIcon(icon(device));
      entry.circle.setLatLng(at);
      entry.circle.setRadius(device.accuracy_m || 0);
      if (entry.marker.isPopupOpen()) entry.marker.setPopupContent(popup(device));
    }
    entry.device = device;
    element.dataset.updated = String(Date.now());
  }

  function frame() {
    var placed = Object.keys(byId).map(function (id) { return byId[id].marker.getLatLng(); });
    if (placed.length === 1) map.setView(placed[0], 15);
    else if (placed.length > 1) map.fitBounds(L.latLngBounds(placed), { padding: [24, 24], maxZoom: 16 });
  }

  function circlesForZoom() {
    if (map.getZoom() >= CIRCLES_FROM_ZOOM) map.addLayer(circles);
    else map.removeLayer(circles);
  }

  // Frame the first set before the clusters join the map: no animation from a wrong zoom.
  (FieldMap.data("map-data") || []).forEach(show);
  frame();
  map.addLayer(cluster);
  circlesForZoom();
  map.on("zoomend", circlesForZoom);

  // Ages grow while nobody writes: redraw them every 5 s.
  setInterval(function () {
    document.querySelectorAll('[data-cell="age"]').forEach(function (cell) {
      var id = cell.parentElement.dataset.device;
      var device = byId[id] && byId[id].device;
      if (device && device.fix_at) cell.textContent = FieldMap.age(device.fix_at);
    });
  }, 5000);

  function setState(name, text) {
    state.dataset.state = name;
    state.textContent = text;
  }

  var stream = new EventSource(element.dataset.stream);
  stream.addEventListener("open", function () { setState("live", words.live); });
  stream.addEventListener("error", function () {
    if (stream.readyState === EventSource.CLOSED) setState("closed", words.signed_out);
    else setState("reconnecting", words.reconnecting);
  });
  stream.addEventListener("devices", function (event) {
    JSON.parse(event.data).forEach(show);
    setState("live", words.live);
  });
  stream.addEventListener("signed-out", function () {
    stream.close();
    setState("closed", words.signed_out);
  });

  // For people and tests who ask the page where it drew a bracelet.
  window.FieldLive = {
    map: map,
    drawnAt: function (id) {
      var entry = byId[id];
      if (!entry) return null;
      var at = entry.marker.getLatLng();
      return [at.lat, at.lng];
    },
    count: function () { return Object.keys(byId).length; },
  };
})();
