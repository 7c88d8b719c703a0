// Zones on a map: inclusion zones green, exclusion zones red, inactive ones grey and
// dashed. Zones are stored in WGS-84 (circles {lat, lon, radius_m}, polygons {vertices:
// [[lat, lon], ...]}) and drawn through FieldMap.toMap, so they sit right on GCJ-02 tiles.
//
// The zone editor (an element #zone-map with the form #zone-form) draws with
// leaflet-geoman: one polygon or one circle at a time, or the zone being edited. Whatever
// is drawn is turned back into WGS-84 with FieldMap.fromMap and written into the form's
// hidden fields `shape` and `geometry` (JSON) before it is posted; the server stores it
// as it arrives. A circle's radius in metres is the same in both datums (the shift is a
// few hundred metres of translation, which changes no distance drawn at map scale).
(function () {
  "use strict";

  var COLOURS = { inclusion: "#2b8a3e", exclusion: "#c92a2a" };

  function style(zone) {
    var colour = zone.active === false ? "#868e96" : (COLOURS[zone.rule] || "#0b5cad");
    return {
      color: colour, weight: 2, fillColor: colour, fillOpacity: 0.15,
      dashArray: zone.active === false ? "6 6" : null,
      className: "zone zone-" + zone.rule + (zone.active === false ? " zone-inactive" : ""),
    };
  }

  // A Leaflet layer of a stored zone, in the tiles' datum.
  function layer(zone, extra) {
    var options = Object.assign(style(zone), extra || {});
    var g = zone.geometry;
    var drawn;
    if (zone.shape === "circle") {
      drawn = L.circle(FieldMap.toMap(g.lat, g.lon), Object.assign({ radius: g.radius_m }, options));
    } else {
      drawn = L.polygon(g.vertices.map(function (v) { return FieldMap.toMap(v[0], v[1]); }), options);
    }
    if (zone.name) drawn.bindTooltip(zone.name);
    return drawn;
  }

  // A drawn layer (in the tiles' datum) as a stored zone's shape and geometry (WGS-84).
  function geometryOf(drawn) {
    if (drawn instanceof L.Circle) {
      var centre = drawn.getLatLng();
      var back = FieldMap.fromMap(centre.lat, centre.lng);
      return { shape: "circle", geometry: { lat: back[0], lon: back[1], radius_m: drawn.getRadius() } };
    }
    var ring = drawn.getLatLngs()[0];
    return {
      shape: "polygon",
      geometry: { vertices: ring.map(function (p) { return FieldMap.fromMap(p.lat, p.lng); }) },
    };
  }

  // A zone layer's extent, as drawn; a circle's without asking the map (which has no view
  // yet before the first fit, and a circle's own getBounds needs one).
  function extent(drawn) {
    if (drawn instanceof L.Circle) return drawn.getLatLng().toBounds(2 * drawn.getRadius());
    return drawn.getBounds();
  }

  // The zones' extent on `map`, as drawn.
  function fit(map, layers) {
    var bounds = L.latLngBounds([]);
    layers.forEach(function (l) { bounds.extend(extent(l)); });
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
    return bounds.isValid();
  }

  window.FieldZones = { layer: layer, geometryOf: geometryOf, extent: extent, fit: fit };

  // ---------------------------------------------------------------- the editor

  function editor(element, form, data) {
    var map = FieldMap.create(element);
    var shapeField = form.elements.namedItem("shape");
    var geometryField = form.elements.namedItem("geometry");
    var status = document.getElementById("zone-drawn");
    var drawn = null;
    var others = [];

    (data.zones || []).forEach(function (zone) {
      if (data.editing && zone.id === data.editing.id) return;
      others.push(layer(zone, { pmIgnore: true, interactive: false }).addTo(map));
    });

    function record(target) {
      var value = geometryOf(target);
      shapeField.value = value.shape;
      geometryField.value = JSON.stringify(value.geometry);
      element.dataset.shape = value.shape;
      if (status) status.textContent = status.dataset[value.shape] || value.shape;
    }

    // The shape the form posts; a new drawing is written at once, the zone being edited
    // (whose stored geometry the form already holds, exactly) only once it is changed.
    function keep(target, isNew) {
      if (drawn && drawn !== target) map.removeLayer(drawn);
      drawn = target;
      target.on("pm:edit", function () { record(target); });
      if (isNew) record(target);
    }

    var rule = form.elements.namedItem("rule");
    function colour() {
      var zone = { rule: rule ? rule.value : "inclusion", active: true };
      map.pm.setPathOptions(style(zone));
      if (drawn) drawn.setStyle(style(zone));
    }

    map.pm.addControls({
      position: "topleft",
      drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawRectangle: false,
      drawText: false, cutPolygon: false, rotateMode: false,
      drawPolygon: true, drawCircle: true, editMode: true, dragMode: true, removalMode: false,
    });
    map.pm.setGlobalOptions({ allowSelfIntersection: false });
    map.on("pm:create", function (event) { keep(event.layer, true); colour(); });
    if (rule) rule.addEventListener("change", colour);
    colour();

    if (data.editing) {
      var existing = layer(data.editing).addTo(map);
      keep(existing, false);
      existing.pm.enable({ allowSelfIntersection: false });
      fit(map, [existing]);
    } else if (!fit(map, others)) {
      var centre = data.centre || [31.2304, 121.4737];
      map.setView(FieldMap.toMap(centre[0], centre[1]), 14);
    }
    element.dataset.ready = "true";
    window.FieldZoneEditor = {
      map: map,
      drawn: function () { return drawn; },
      record: function () { if (drawn) record(drawn); },
    };
  }

  var element = document.getElementById("zone-map");
  var form = document.getElementById("zone-form");
  var data = window.FieldMap && FieldMap.data("zone-data");
  if (element && form && data) editor(element, form, data);
})();
