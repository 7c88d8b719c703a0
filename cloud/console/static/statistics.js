// Supervision statistics: one ECharts chart per statistic, drawn from the same rows as
// the table under it (#statistics-data: categories, the series to draw, the axis' unit,
// already in the reader's language). Bars, stacked bars, or a line of percentages.
(function () {
  "use strict";

  var COLOURS = ["#0b5cad", "#c2410c", "#2f9e44", "#7048e8", "#0c8599", "#e67700",
    "#a61e4d", "#5c7cfa", "#495057", "#2b8a3e", "#d6336c", "#1098ad", "#862e9c"];
  var node = document.getElementById("statistics-data");
  if (!node || typeof echarts === "undefined") return;
  var data = JSON.parse(node.textContent);

  function escape(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }

  // A class for the colour mark, not ECharts' own: that is a style="" the CSP refuses.
  function tooltip(items) {
    var list = Array.isArray(items) ? items : [items];
    if (!list.length) return "";
    var lines = [escape(list[0].name)];
    list.forEach(function (item) {
      var value = item.value === null || item.value === undefined ? "\u2013" : item.value;
      lines.push('<span class="tip-mark tip-' + (item.seriesIndex % COLOURS.length) + '"></span>' +
        escape(item.seriesName) + ": " + escape(value));
    });
    return lines.join("<br>");
  }

  function option(spec) {
    var line = spec.kind === "line";
    return {
      animation: false,
      color: COLOURS,
      // The legend below the plot, the unit above the axis: apart, so neither hides the other.
      grid: { left: 8, right: 16, top: 32, bottom: 32, containLabel: true },
      legend: { bottom: 0, left: 0, type: "scroll" },
      tooltip: { trigger: "axis", confine: true, formatter: tooltip },
      xAxis: { type: "category", data: spec.categories, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", name: spec.unit, minInterval: line ? 0 : 1, max: line ? 100 : null,
        min: 0 },
      series: spec.series.map(function (series) {
        return {
          type: line ? "line" : "bar",
          name: series.name,
          data: series.data,
          stack: spec.kind === "stacked" ? "all" : undefined,
          connectNulls: false,
          showSymbol: true,
          barMaxWidth: 48,
        };
      }),
    };
  }

  var charts = [];
  data.charts.forEach(function (spec) {
    var element = document.getElementById("chart-" + spec.name);
    if (!element) return;
    var chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    element.dataset.drawn = String(spec.series.length);
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
