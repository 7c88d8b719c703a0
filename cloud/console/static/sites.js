// The river sites' map: one marker per site with a position, its popup giving the name,
// river, latest sample time and values as the list below writes them (flags in words).
// Data comes from <script type="application/json" id="sites-data">, texts from
// #console-texts; everything is written with textContent, never as HTML.
(function () {
  "use strict";

  var element = document.getElementById("sites-map");
  if (!element) return;
  var sites = FieldMap.data("sites-data") || [];
  var words = FieldMap.texts();

  function node(tag, className, text) {
    var made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined && text !== null) made.textContent = text;
    return made;
  }

  function popup(site) {
    var box = node("div", "site-popup");
    var title = node("a", "site-popup-name", site.name);
    title.href = site.url;
    box.appendChild(node("strong")).appendChild(title);
    box.appendChild(node("div", "muted", site.river));
    if (!site.time) {
      box.appendChild(node("p", "no-sample", words.none_yet));
      return box;
    }
    box.appendChild(node("div", "sampled", words.latest + ": " + site.time + " (" + site.age + ")"));
    var list = node("dl", "readings");
    site.readings.forEach(function (reading) {
      var row = node("div", reading.flag ? "reading flagged" : "reading");
      row.appendChild(node("dt", null, reading.label));
      var value = node("dd", null, reading.text);
      if (reading.flag) value.appendChild(node("span", "flag", "\u26a0 " + reading.flag));
      row.appendChild(value);
      list.appendChild(row);
    });
    box.appendChild(list);
    var open = node("a", "site-popup-open", words.open);
    open.href = site.url;
    box.appendChild(open);
    return box;
  }

  function icon(site) {
    var state = !site.time ? "state-none" : site.flagged ? "state-flagged" : "state-normal";
    return L.divIcon({ className: "site-marker " + state, html: "", iconSize: [22, 22] });
  }

  var map = FieldMap.create(element);
  var drawn = [];
  sites.forEach(function (site) {
    if (site.lat === null || site.lon === null) return; // listed below, not drawn
    var position = FieldMap.toMap(site.lat, site.lon);
    var marker = L.marker(position, { icon: icon(site), title: site.name, keyboard: true });
    marker.bindTooltip(site.name, { direction: "top", offset: [0, -12] });
    marker.bindPopup(popup(site), { maxWidth: 280 });
    marker.addTo(map);
    drawn.push(position);
  });
  if (drawn.length) {
    map.fitBounds(L.latLngBounds(drawn), { padding: [50, 50], maxZoom: 14 });
  } else {
    map.setView([35, 105], 4); // no site placed yet: China, whole
  }
  window.addEventListener("resize", function () { map.invalidateSize(); });
})();
