// A site's charts: one ECharts line chart per water parameter, a line per station, and
// the values that came with a status flag (not normal) as orange triangles (a dashed
// line where the flag came without a value), named in the legend and the tooltip; the
// values the checks did not trust (stuck, spike, drift; in buckets, a bucket holding any)
// as crimson diamonds with their reasons; the GB 3838-2002 class bounds of the site's
// water body as grey horizontal lines labelled I..V (pH: its 6 and 9 band).
//
// Times arrive as epoch ms already shifted to the console's zone, and the charts run in
// UTC, so an axis label reads the same wall time as the page's tables.
// Data: <script type="application/json" id="site-data">; texts: #site-texts.
(function () {
  "use strict";

  var FLAG_COLOUR = "#c2410c";
  var UNTRUSTED_COLOUR = "#a61e4d";
  var BOUND_COLOUR = "#6b7785";
  var LINE_COLOURS = ["#0b5cad", "#2f9e44", "#7048e8", "#0c8599", "#5c7cfa"];

  function json(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var data = json("site-data");
  var words = json("site-texts") || {};
  if (!data || typeof echarts === "undefined") return;

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  // Shifted ms -> "2026-12-03 10:05", as the page's `when` writes it (to the minute).
  function wallTime(ms) {
    var t = new Date(ms);
    return t.getUTCFullYear() + "-" + pad(t.getUTCMonth() + 1) + "-" + pad(t.getUTCDate()) +
      " " + pad(t.getUTCHours()) + ":" + pad(t.getUTCMinutes());
  }

  function number(value, spec) {
    if (value === null || value === undefined) return "\u2013";
    return value.toFixed(spec.decimals) + (spec.unit ? " " + spec.unit : "");
  }

  function escape(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }

  function tooltip(spec) {
    return function (items) {
      var list = Array.isArray(items) ? items : [items];
      if (!list.length) return "";
      var lines = [escape(wallTime(list[0].value[0]))];
      list.forEach(function (item) {
        if (!item.data || (item.value[1] === null && !item.data.flag)) return;
        // A class, not ECharts' own marker: that is a style="" attribute the CSP refuses.
        var mark = item.data.flag ? "tip-mark tip-flag" : item.data.reasons ?
          "tip-mark tip-untrusted" : "tip-mark tip-line-" + (item.seriesIndex % LINE_COLOURS.length);
        var text = '<span class="' + mark + '"></span>' +
          escape(item.data.station || item.seriesName) + ": " +
          escape(number(item.value[1], spec));
        if (item.data.count > 1) text += " (" + item.data.count + " " + escape(words.values) + ")";
        if (item.data.flag) text += " \u26a0 " + escape(item.data.flag);
        if (item.data.reasons) text += " \u2715 " + escape(item.data.reasons);
        lines.push(text);
      });
      return lines.join("<br>");
    };
  }

  function lineSeries(spec) {
    return spec.lines.map(function (line, index) {
      return {
        type: "line",
        name: line.station,
        data: line.points.map(function (p) { return { value: p, station: line.station }; }),
        showSymbol: line.points.length <= 60,
        symbolSize: 5,
        connectNulls: false,
        lineStyle: { width: 2 },
        itemStyle: { color: LINE_COLOURS[index % LINE_COLOURS.length] },
      };
    });
  }

  function flaggedSeries(spec) {
    var withValue = spec.flagged.filter(function (f) { return f.value !== null; });
    var without = spec.flagged.filter(function (f) { return f.value === null; });
    return {
      type: "scatter",
      name: words.flagged,
      symbol: "triangle",
      symbolSize: 13,
      z: 5,
      itemStyle: { color: FLAG_COLOUR, borderColor: "#fff", borderWidth: 1 },
      data: withValue.map(function (f) {
        return { value: [f.time, f.value], station: f.station, flag: f.flag };
      }),
      markLine: without.length ? {
        symbol: "none",
        silent: false,
        lineStyle: { color: FLAG_COLOUR, type: "dashed" },
        label: { formatter: function (p) { return p.data.flag; }, color: FLAG_COLOUR },
        data: without.map(function (f) { return { xAxis: f.time, flag: f.flag }; }),
      } : undefined,
    };
  }

  function untrustedSeries(spec) {
    return {
      type: "scatter",
      name: words.untrusted,
      symbol: "diamond",
      symbolSize: 12,
      z: 4,
      itemStyle: { color: UNTRUSTED_COLOUR, borderColor: "#fff", borderWidth: 1 },
      data: spec.untrusted.map(function (u) {
        return { value: [u.time, u.value], station: u.station, reasons: u.reasons, count: u.count };
      }),
    };
  }

  // The class bounds: a series of no points of its own (so its legend item hides them).
  function boundsSeries(spec) {
    return {
      type: "scatter",
      name: words.bounds,
      data: [],
      itemStyle: { color: BOUND_COLOUR },
      markLine: {
        symbol: "none",
        silent: true,
        animation: false,
        lineStyle: { color: BOUND_COLOUR, type: [4, 3], width: 1 },
        label: { position: "insideEndTop", color: BOUND_COLOUR, fontSize: 11,
          formatter: function (p) { return p.data.label; } },
        data: spec.bounds.map(function (b) { return { yAxis: b.value, label: b.label }; }),
      },
    };
  }

  // The y axis takes in the values and the nearest bound beyond them on either side, so a
  // reader sees which classes the values lie between without far bounds flattening them.
  function yExtent(spec) {
    var values = [];
    spec.lines.forEach(function (line) {
      line.points.forEach(function (p) { if (p[1] !== null) values.push(p[1]); });
    });
    spec.flagged.forEach(function (f) { if (f.value !== null) values.push(f.value); });
    spec.untrusted.forEach(function (u) { values.push(u.value); });
    if (!values.length || !spec.bounds.length) return {};
    var low = Math.min.apply(null, values);
    var high = Math.max.apply(null, values);
    var bounds = spec.bounds.map(function (b) { return b.value; });
    var below = bounds.filter(function (b) { return b <= low; });
    var above = bounds.filter(function (b) { return b >= high; });
    if (below.length) low = Math.max.apply(null, below);
    if (above.length) high = Math.min.apply(null, above);
    var pad = (high - low) * 0.08 || Math.abs(high) * 0.05 || 1;
    return { min: low - pad, max: high + pad };
  }

  // The legend wraps on a narrow chart: room above the plot for as many rows as it needs.
  var measure = document.createElement("canvas").getContext("2d");
  measure.font = "12px sans-serif";
  function legendRows(spec, width) {
    var names = spec.lines.map(function (line) { return line.station; });
    if (spec.flagged.length) names.push(words.flagged);
    if (spec.untrusted.length) names.push(words.untrusted);
    if (spec.bounds.length) names.push(words.bounds);
    var rows = 1;
    var used = 0;
    names.forEach(function (name) {
      var item = 25 + 5 + measure.measureText(name).width + 12; // icon, gap, text, item gap
      if (used && used + item > width) { rows += 1; used = 0; }
      used += item;
    });
    return rows;
  }

  function gridTop(spec, element) {
    return 12 + 22 * legendRows(spec, element.clientWidth || 300);
  }

  function option(spec, element) {
    var series = lineSeries(spec);
    if (spec.flagged.length) series.push(flaggedSeries(spec));
    if (spec.untrusted.length) series.push(untrustedSeries(spec));
    if (spec.bounds.length) series.push(boundsSeries(spec));
    var extent = yExtent(spec);
    return {
      useUTC: true,
      animation: false,
      color: LINE_COLOURS,
      grid: { left: 8, right: 16, top: gridTop(spec, element), bottom: 8, containLabel: true },
      legend: { top: 0, left: 0, type: "plain", itemGap: 12 },
      tooltip: { trigger: "axis", confine: true, formatter: tooltip(spec) },
      xAxis: {
        type: "time",
        min: data.start,
        max: data.end,
        axisLabel: {
          hideOverlap: true,
          formatter: {
            year: "{yyyy}", month: "{yyyy}-{MM}", day: "{MM}-{dd}",
            hour: "{HH}:{mm}", minute: "{HH}:{mm}", second: "{HH}:{mm}:{ss}",
          },
        },
      },
      yAxis: Object.assign({
        type: "value",
        scale: true,
        // The padded ends are no round numbers: no labels there.
        axisLabel: { showMinLabel: extent.min === undefined ? null : false,
          showMaxLabel: extent.max === undefined ? null : false,
          formatter: function (v) { return String(+v.toFixed(spec.decimals)); } },
      }, extent),
      series: series,
    };
  }

  var charts = [];
  data.charts.forEach(function (spec) {
    var element = document.getElementById("chart-" + spec.parameter);
    if (!element) return;
    var chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(option(spec, element));
    charts.push({ chart: chart, spec: spec, element: element });
  });

  function resizeAll() {
    charts.forEach(function (drawn) {
      drawn.chart.setOption({ grid: { top: gridTop(drawn.spec, drawn.element) } });
      drawn.chart.resize();
    });
  }
  window.addEventListener("resize", resizeAll);
  if (typeof ResizeObserver !== "undefined") {
    var observer = new ResizeObserver(resizeAll);
    charts.forEach(function (drawn) { observer.observe(drawn.element); });
  }
})();
