// A supervised person's map: their active zones (FieldZones), today's track of the
// bracelet they wear (pieces of line cut where readings are missing, as on the device
// page) and the fixes that answered "locate now". Data: the JSON element #person-data,
// all WGS-84; every position goes through FieldMap.toMap to be drawn. The page lists the
// same facts in words below the map.
(function () {
  "use strict";

  var INK = "#0b5cad";

  function dot(lat, lon, options, tooltip) {
    var marker = L.circleMarker(FieldMap.toMap(lat, lon), options);
    if (tooltip) marker.bindTooltip(tooltip);
    return marker;
  }

  function drawTrack(map, track, bounds, texts) {
    track.segments.forEach(function (range) {
      var points = track.points.slice(range[0], range[1])
        .map(function (p) { return FieldMap.toMap(p[0], p[1]); });
      points.forEach(function (p) { bounds.extend(p); });
      if (points.length > 1) {
        L.polyline(points, { className: "track-line", color: INK, weight: 3, opacity: 0.85 }).addTo(map);
      } else if (points.length === 1) {
        L.circleMarker(points[0], { className: "track-dot", radius: 3, color: INK,
          fillColor: INK, fillOpacity: 1, weight: 1 }).addTo(map);
      }
    });
    if (track.last) {
      dot(track.last.lat, track.last.lon, { className: "track-last", radius: 6, color: "#fff",
        weight: 2, fillColor: "#b3261e", fillOpacity: 1 }, texts.last + " · " + track.last.time).addTo(map);
    }
  }

  function draw(element, data) {
    var texts = FieldMap.texts();
    var map = FieldMap.create(element);
    var bounds = L.latLngBounds([]);
    var zones = data.zones.map(function (zone) { return FieldZones.layer(zone).addTo(map); });
    zones.forEach(function (l) { bounds.extend(FieldZones.extent(l)); });
    if (data.track) drawTrack(map, data.track, bounds, texts);
    data.located.forEach(function (fix) {
      var at = FieldMap.toMap(fix.lat, fix.lon);
      bounds.extend(at);
      L.circle(at, { radius: fix.accuracy_m || 10, className: "located-accuracy", color: "#7048e8",
        weight: 1, fillOpacity: 0.1 }).addTo(map);
      dot(fix.lat, fix.lon, { className: "located", radius: 6, color: "#fff", weight: 2,
        fillColor: "#7048e8", fillOpacity: 1 }, texts.located + " · " + fix.time).addTo(map);
    });
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
    } else {
      map.setView(FieldMap.toMap(31.2304, 121.4737), 12);
    }
    element.dataset.zones = String(zones.length);
    element.dataset.ready = "true";
  }

  var element = document.getElementById("person-map");
  var data = FieldMap.data("person-data");
  if (element && data) draw(element, data);
})();
