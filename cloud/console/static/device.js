// A bracelet's track on its device page: the pieces of line the server cut where
// readings are missing (so a hole is never drawn as a straight line), the late fixes as
// hollow orange rings, the first and the last fix. The data is the page's JSON element
// `#track-data` (WGS-84): `points` as [lat, lon], `segments` as [first, end) indices into
// them, `late` as [lat, lon, time]; every position goes through FieldMap.toMap to be
// drawn. The same facts are written out below the map for those who do not use it.
(function () {
  "use strict";

  var INK = "#0b5cad";
  var LATE = "#e67700";

  function ring(point, options, tooltip) {
    var marker = L.circleMarker(FieldMap.toMap(point.lat, point.lon), options);
    if (tooltip) marker.bindTooltip(tooltip + " · " + point.time);
    return marker;
  }

  function draw(element, data) {
    var texts = FieldMap.texts();
    var map = FieldMap.create(element);
    var bounds = L.latLngBounds([]);
    var drawn = 0;
    data.segments.forEach(function (range) {
      var points = data.points.slice(range[0], range[1])
        .map(function (p) { return FieldMap.toMap(p[0], p[1]); });
      points.forEach(function (p) { bounds.extend(p); });
      if (points.length > 1) {
        L.polyline(points, { className: "track-line", color: INK, weight: 3, opacity: 0.85 })
          .addTo(map);
      } else {
        // A piece of one fix: a dot, or it would not show at all.
        L.circleMarker(points[0], { className: "track-dot", radius: 3, color: INK,
          fillColor: INK, fillOpacity: 1, weight: 1 }).addTo(map);
      }
      drawn += 1;
    });
    data.late.forEach(function (late) {
      ring({ lat: late[0], lon: late[1], time: late[2] }, { className: "track-late", radius: 7, color: LATE, weight: 3, fill: false },
        texts.late).addTo(map);
    });
    if (data.first) {
      ring(data.first, { className: "track-first", radius: 6, color: "#fff", weight: 2,
        fillColor: "#2b8a3e", fillOpacity: 1 }, texts.first).addTo(map);
    }
    if (data.last) {
      ring(data.last, { className: "track-last", radius: 6, color: "#fff", weight: 2,
        fillColor: "#b3261e", fillOpacity: 1 }, texts.last).addTo(map);
    }
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
    element.dataset.drawn = String(drawn);
  }

  var element = document.getElementById("track-map");
  var data = FieldMap.data("track-data");
  if (element && data) draw(element, data);
})();
