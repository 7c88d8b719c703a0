// An alert's map: the zone as stored (WGS-84: a circle or a polygon) and the fixes its
// explanation kept, each a circle of its accuracy coloured by its verdict for the zone
// (inside, outside, undecided), the newest update's fix drawn with a thicker edge. Every
// position goes through FieldMap.toMap to be drawn. Data: #alert-map-data; the same facts
// are in the table of fixes below the map.
(function () {
  "use strict";

  var element = document.getElementById("alert-map");
  var data = FieldMap.data("alert-map-data");
  if (!element || !data) return;
  var textsNode = document.getElementById("alerts-texts");
  var words = textsNode ? JSON.parse(textsNode.textContent) : {};
  var COLOURS = { inside: "#1e8e3e", outside: "#b3261e", undecided: "#6b7785" };

  var map = FieldMap.create(element);
  var bounds = L.latLngBounds([]);
  var drawn = { zone: 0, fixes: 0 };

  // A circle's box, worked out here: Leaflet knows a layer's bounds only once the map
  // has a view, which it gets from these very bounds.
  function extendByCircle(at, radius) {
    var dLat = radius / 111320;
    var dLon = radius / (111320 * Math.max(0.01, Math.cos(at[0] * Math.PI / 180)));
    bounds.extend([at[0] - dLat, at[1] - dLon]);
    bounds.extend([at[0] + dLat, at[1] + dLon]);
  }

  function drawZone(zone) {
    var colour = zone.rule === "exclusion" ? "#b3261e" : "#0b5cad";
    var style = { className: "zone zone-" + zone.rule, color: colour, weight: 2,
      fillColor: colour, fillOpacity: 0.08, dashArray: zone.rule === "exclusion" ? "6 4" : null };
    var layer;
    if (zone.shape === "circle") {
      var centre = FieldMap.toMap(zone.lat, zone.lon);
      layer = L.circle(centre, Object.assign({ radius: zone.radius_m }, style));
      extendByCircle(centre, zone.radius_m);
    } else if (zone.vertices && zone.vertices.length >= 3) {
      var corners = zone.vertices.map(function (v) { return FieldMap.toMap(v[0], v[1]); });
      layer = L.polygon(corners, style);
      corners.forEach(function (corner) { bounds.extend(corner); });
    }
    if (!layer) return;
    layer.bindTooltip(zone.name);
    layer.addTo(map);
    drawn.zone = 1;
  }

  function drawFix(fix) {
    var at = FieldMap.toMap(fix.lat, fix.lon);
    var colour = COLOURS[fix.verdict] || COLOURS.undecided;
    var label = (words[fix.verdict] || "") + " · " + fix.time +
      (fix.accuracy_m == null ? "" : " · " + words.accuracy + " " + fix.accuracy_m + " m");
    if (fix.accuracy_m) {
      var circle = L.circle(at, { radius: fix.accuracy_m, className: "fix-accuracy", color: colour,
        weight: fix.latest ? 3 : 1, fillColor: colour, fillOpacity: 0.15 });
      circle.addTo(map);
      extendByCircle(at, fix.accuracy_m);
    }
    L.circleMarker(at, { radius: 4, className: "fix-centre", color: "#fff", weight: 1,
      fillColor: colour, fillOpacity: 1 }).bindTooltip(label).addTo(map);
    bounds.extend(at);
    drawn.fixes += 1;
  }

  if (data.zone) drawZone(data.zone);
  data.fixes.forEach(drawFix);
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
  else map.setView([31.23, 121.47], 10);
  element.dataset.zone = String(drawn.zone);
  element.dataset.fixes = String(drawn.fixes);
})();
