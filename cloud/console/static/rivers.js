// The rivers' map (and a river's small map): each river's course as a line in the colour
// of its worst site class now (dashed grey: not judged yet), each site a marker in the
// colour of its own class. A line opens its river's page, a marker its site's page (with
// the mouse, or Tab and Enter on a marker). The table beside the map says the same.
// Data: <script type="application/json" id="rivers-data">; texts: #console-texts. Names
// are written with textContent, never as HTML.
(function () {
  "use strict";

  var element = document.getElementById("rivers-map");
  if (!element) return;
  var data = FieldMap.data("rivers-data") || { rivers: [], sites: [] };
  var words = FieldMap.texts();

  // The class colours, as rivers.css paints the legend and the badges.
  var COLOURS = { "1": "#3ba7d9", "2": "#1d4fa3", "3": "#2b8a3e", "4": "#e0a800",
    "5": "#e8590c", "6": "#c92a2a", none: "#8a96a3" };

  // GeoJSON positions are [lon, lat]; Leaflet's are [lat, lon], shifted for the tiles.
  function latLngs(coordinates, depth) {
    if (depth === 0) return FieldMap.toMap(coordinates[1], coordinates[0]);
    return coordinates.map(function (part) { return latLngs(part, depth - 1); });
  }

  function courseLayer(river) {
    var course = river.course;
    var style = {
      color: COLOURS[river["class"]] || COLOURS.none,
      weight: 5,
      opacity: 0.9,
      dashArray: river["class"] === "none" ? "8 8" : null,
      className: "river-line class-" + river["class"],
    };
    if (course.type === "LineString") return L.polyline(latLngs(course.coordinates, 1), style);
    if (course.type === "MultiLineString") return L.polyline(latLngs(course.coordinates, 2), style);
    var area = Object.assign({}, style, { weight: 3, fillColor: style.color, fillOpacity: 0.25 });
    if (course.type === "Polygon") return L.polygon(latLngs(course.coordinates, 2), area);
    if (course.type === "MultiPolygon") return L.polygon(latLngs(course.coordinates, 3), area);
    return null;
  }

  function label(name, classLabel) {
    var box = document.createElement("div");
    var strong = document.createElement("strong");
    strong.textContent = name;
    box.appendChild(strong);
    box.appendChild(document.createElement("br"));
    box.appendChild(document.createTextNode((words["class"] || "Class") + ": " + classLabel));
    return box;
  }

  // The view first: Leaflet adds layers to a map without one only once it has it, and
  // the data- attributes go on the drawn elements.
  var map = FieldMap.create(element);
  var bounds = L.latLngBounds([]);
  var drawn = [];
  data.rivers.forEach(function (river) {
    var layer = river.course ? courseLayer(river) : null;
    if (!layer) return;
    layer.bindTooltip(label(river.name + " (" + river.code + ")", river.class_label), { sticky: true });
    layer.on("click", function () { window.location.href = river.url; });
    bounds.extend(layer.getBounds());
    drawn.push({ layer: layer, attributes: { "data-river": river.code, "data-class": river["class"] } });
  });
  data.sites.forEach(function (site) {
    var position = FieldMap.toMap(site.lat, site.lon);
    var icon = L.divIcon({ className: "site-marker river-site class-" + site["class"], html: "",
      iconSize: [18, 18] });
    var marker = L.marker(position, { icon: icon, title: site.name, keyboard: true,
      alt: site.name });
    marker.bindTooltip(label(site.name, site.class_label), { direction: "top", offset: [0, -10] });
    marker.on("click", function () { window.location.href = site.url; });
    bounds.extend(position);
    drawn.push({ layer: marker, attributes: { "data-site": site.id, "data-class": site["class"] } });
  });
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
  } else {
    map.setView([35, 105], 4); // nothing drawn yet: China, whole
  }
  drawn.forEach(function (item) {
    item.layer.addTo(map);
    var node = item.layer.getElement();
    if (!node) return;
    Object.keys(item.attributes).forEach(function (name) {
      node.setAttribute(name, item.attributes[name]);
    });
  });
  window.addEventListener("resize", function () { map.invalidateSize(); });
})();
