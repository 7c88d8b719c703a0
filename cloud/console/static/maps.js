// What every console map shares: tiles from the deployment's settings (or none), the
// datum the tiles are drawn in, and the console's texts for scripts.
//
// Positions are stored and sent in WGS-84. With GCJ-02 tiles (console_tile_datum =
// "gcj02") a position is shifted to GCJ-02 only to be drawn (FieldMap.toMap), and
// anything a person draws is shifted back (FieldMap.fromMap) before it leaves the page.
// Outside China the two datums are the same and nothing moves (gcoord knows the border).
// Settings arrive as data- attributes of <body>; no inline script (the CSP forbids it).
(function () {
  "use strict";

  function settings() {
    var data = document.body.dataset;
    return {
      tileUrl: data.tileUrl || "",
      subdomains: data.tileSubdomains || "abc",
      attribution: data.tileAttribution || "",
      datum: data.tileDatum === "gcj02" ? "gcj02" : "wgs84",
    };
  }

  // [lat, lon] in WGS-84 -> [lat, lon] as the tiles draw it.
  function toMap(lat, lon) {
    if (settings().datum !== "gcj02") return [lat, lon];
    var shifted = gcoord.transform([lon, lat], gcoord.WGS84, gcoord.GCJ02);
    return [shifted[1], shifted[0]];
  }

  // [lat, lon] as drawn on the tiles -> [lat, lon] in WGS-84, to store.
  function fromMap(lat, lon) {
    if (settings().datum !== "gcj02") return [lat, lon];
    var back = gcoord.transform([lon, lat], gcoord.GCJ02, gcoord.WGS84);
    return [back[1], back[0]];
  }

  // A Leaflet map in `element`: the configured tiles, or a plain background.
  function create(element, options) {
    var config = settings();
    // Zoom bounds of the map itself: without tiles nothing else would set them.
    var map = L.map(element, Object.assign(
      { zoomControl: true, keyboard: true, minZoom: 2, maxZoom: 19 }, options || {}));
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, {
        subdomains: config.subdomains,
        attribution: config.attribution,
        maxZoom: 19,
      }).addTo(map);
    } else {
      element.classList.add("no-tiles");
      map.attributionControl.setPrefix(false);
    }
    return map;
  }

  // The page's texts for scripts, translated on the server: a JSON <script> element
  // (`<script type="application/json" id="console-texts">`), read, never executed.
  function texts() {
    var node = document.getElementById("console-texts");
    return node ? JSON.parse(node.textContent) : {};
  }

  // A JSON <script type="application/json" id="..."> element's value (data for a page).
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // "12 s", "5 min", "3 h", "2 d" since `isoTime`, in the page's language.
  function age(isoTime, now) {
    if (!isoTime) return "";
    var seconds = Math.max(0, Math.round(((now || Date.now()) - Date.parse(isoTime)) / 1000));
    var words = texts();
    if (seconds < 90) return seconds + " " + (words.seconds || "s");
    if (seconds < 90 * 60) return Math.round(seconds / 60) + " " + (words.minutes || "min");
    if (seconds < 36 * 3600) return Math.round(seconds / 3600) + " " + (words.hours || "h");
    return Math.round(seconds / 86400) + " " + (words.days || "d");
  }

  window.FieldMap = { settings: settings, toMap: toMap, fromMap: fromMap, create: create,
    texts: texts, data: data, age: age };
})();
