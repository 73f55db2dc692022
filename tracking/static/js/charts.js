/* Draws every report chart with uPlot from the page's JSON, and keeps the realtime page fresh.
   Each chart element gets data-drawn="<points>" once drawn, which the browser test reads. */
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
  var plots = {};

  function utc(ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }

  function compact(v) {
    if (v == null) { return ""; }
    var abs = Math.abs(v);
    var units = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (abs >= units[i][0]) { return +(v / units[i][0]).toFixed(1) + units[i][1]; }
    }
    return +v.toFixed(abs < 1 ? 4 : 2) + "";
  }

  function toData(chart) {
    var names = Object.keys(chart.lines);
    var data = [chart.t];
    names.forEach(function (name) { data.push(chart.lines[name]); });
    return { names: names, data: data };
  }

  function countPoints(chart) {
    var n = 0;
    Object.keys(chart.lines).forEach(function (name) {
      chart.lines[name].forEach(function (v) { if (v) { n += 1; } });
    });
    return n;
  }

  function draw(el, chart) {
    var prepared = toData(chart);
    var series = [{}].concat(prepared.names.map(function (name, i) {
      var color = PALETTE[i % PALETTE.length];
      return { label: name, stroke: color, fill: prepared.names.length === 1 ? color + "22" : undefined, width: 2, spanGaps: false };
    }));
    var opts = {
      width: Math.max(el.clientWidth, 240),
      height: 220,
      tzDate: utc,
      series: series,
      scales: { x: { time: true } },
      axes: [{}, { size: 56, values: function (u, vals) { return vals.map(compact); } }],
      legend: { live: true },
    };
    el.innerHTML = "";
    plots[el.dataset.chart] = new uPlot(opts, prepared.data, el);
    el.dataset.drawn = String(countPoints(chart));
  }

  function drawAll(charts) {
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      var chart = charts[el.dataset.chart];
      if (chart) { draw(el, chart); }
    });
  }

  function resize() {
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      var plot = plots[el.dataset.chart];
      if (plot) { plot.setSize({ width: Math.max(el.clientWidth, 240), height: 220 }); }
    });
  }

  var FORMATS = {
    requests: "int", errors_5xx: "int", error_events: "int",
    avg_duration_ms: "ms"
  };

  function format(key, value) {
    if (value === null || value === undefined) { return "–"; }
    if (FORMATS[key] === "ms") { return value.toLocaleString(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + " ms"; }
    return Math.round(value).toLocaleString();
  }

  function refresh(url) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        document.querySelectorAll("[data-total]").forEach(function (el) {
          var key = el.dataset.total;
          if (key in body.totals) { el.textContent = format(key, body.totals[key]); }
        });
        var charts = {};
        Object.keys(body.series).forEach(function (name) {
          var s = body.series[name];
          charts[name] = { t: s.t.map(function (iso) { return Date.parse(iso) / 1000; }), lines: s.lines, unit: s.unit };
        });
        drawAll(charts);
        var stamp = document.getElementById("realtime-updated");
        if (stamp) { stamp.textContent = new Date(Date.parse(body.generated_at)).toISOString().slice(11, 19); }
      });
  }

  function start() {
    var source = document.getElementById("charts-data");
    if (!source) { return; }
    drawAll(JSON.parse(source.textContent));
    if (window.ResizeObserver) {
      new ResizeObserver(resize).observe(document.querySelector("main"));
    }
    var live = document.querySelector("[data-realtime-url]");
    if (live) { setInterval(function () { refresh(live.dataset.realtimeUrl); }, 5000); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
