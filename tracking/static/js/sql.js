/* The SQL explorer: runs the editor's query through POST /api/v1/sql with the member's session,
   shows the result as a table, draws a line chart when a column is a DateTime or Date, offers the
   result as CSV and JSON, and points at the line and column of an error.
   The chart element gets data-drawn="<points>" once drawn, which the browser test reads. */
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
  var MAX_SERIES = 8;
  var form = document.getElementById("sql-form");
  var editor = document.getElementById("sql-editor");
  var status = document.getElementById("status");
  var errorBox = document.getElementById("error");
  var table = document.getElementById("result");
  var chartFigure = document.getElementById("chart-figure");
  var chartEl = document.getElementById("result-chart");
  var csvButton = document.getElementById("download-csv");
  var jsonButton = document.getElementById("download-json");
  var last = null;
  var plot = null;

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function isTime(type) { return /^(Nullable\()?(DateTime|Date)/.test(type); }
  function isNumber(type) { return /^(Nullable\()?(U?Int\d+|Float64|Bool)/.test(type); }

  function epochSeconds(value, type) {
    if (value == null) { return null; }
    var text = /^(Nullable\()?Date\b(?!Time)/.test(type) ? value + "T00:00:00Z" : String(value).replace(" ", "T") + "Z";
    return Date.parse(text) / 1000;
  }

  function showError(detail, line, column) {
    errorBox.hidden = false;
    errorBox.textContent = detail + (line ? " (line " + line + ", column " + column + ")" : "");
    if (line) {
      var lines = editor.value.split("\n");
      var offset = 0;
      for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
      offset += Math.max(0, (column || 1) - 1);
      editor.focus();
      editor.setSelectionRange(offset, Math.min(editor.value.length, offset + 1));
    }
  }

  function renderTable(body) {
    table.innerHTML = "";
    var head = table.createTHead().insertRow();
    body.meta.forEach(function (column) {
      var th = document.createElement("th");
      th.textContent = column.name;
      var type = document.createElement("span");
      type.className = "type";
      type.textContent = column.type;
      th.appendChild(type);
      head.appendChild(th);
    });
    var tbody = table.createTBody();
    body.data.forEach(function (row) {
      var tr = tbody.insertRow();
      body.meta.forEach(function (column) {
        var value = row[column.name];
        tr.insertCell().textContent = value == null ? "NULL" : (typeof value === "object" ? JSON.stringify(value) : String(value));
      });
    });
  }

  function renderChart(body) {
    if (plot) { plot.destroy(); plot = null; }
    chartFigure.hidden = true;
    chartEl.removeAttribute("data-drawn");
    var time = body.meta.find(function (column) { return isTime(column.type); });
    var numbers = body.meta.filter(function (column) { return isNumber(column.type); });
    if (!time || !numbers.length || !body.data.length) { return; }
    var labels = body.meta.filter(function (column) { return column.type === "String"; });
    var rows = body.data.slice().sort(function (a, b) {
      return epochSeconds(a[time.name], time.type) - epochSeconds(b[time.name], time.type);
    });
    var xs = [];
    var index = {};
    rows.forEach(function (row) {
      var x = epochSeconds(row[time.name], time.type);
      if (!(x in index)) { index[x] = xs.length; xs.push(x); }
    });
    var series = {};
    var order = [];
    rows.forEach(function (row) {
      numbers.forEach(function (column) {
        var name = labels.length === 1 && numbers.length === 1 ? String(row[labels[0].name]) : column.name;
        if (!(name in series)) {
          if (order.length >= MAX_SERIES) { return; }
          series[name] = xs.map(function () { return null; });
          order.push(name);
        }
        var value = row[column.name];
        series[name][index[epochSeconds(row[time.name], time.type)]] = value == null ? null : Number(value);
      });
    });
    chartFigure.hidden = false;
    document.getElementById("chart-caption").textContent = order.join(", ") + " by " + time.name;
    var opts = {
      width: Math.max(chartEl.clientWidth, 280),
      height: 260,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true } },
      series: [{}].concat(order.map(function (name, i) {
        return { label: name, stroke: PALETTE[i % PALETTE.length], width: 2 };
      })),
    };
    plot = new uPlot(opts, [xs].concat(order.map(function (name) { return series[name]; })), chartEl);
    var points = 0;
    order.forEach(function (name) { series[name].forEach(function (v) { if (v != null) { points += 1; } }); });
    chartEl.dataset.drawn = String(points);
  }

  function csvField(value) {
    if (value == null) { return ""; }
    var text = typeof value === "object" ? JSON.stringify(value) : String(value);
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function download(name, type, text) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: type }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function run(event) {
    if (event) { event.preventDefault(); }
    errorBox.hidden = true;
    status.textContent = "Running…";
    var started = performance.now();
    fetch(form.dataset.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken"), "Accept": "application/json" },
      body: JSON.stringify({ query: editor.value }),
    }).then(function (response) {
      return response.text().then(function (text) { return { response: response, text: text }; });
    }).then(function (answer) {
      var type = answer.response.headers.get("Content-Type") || "";
      if (!answer.response.ok) {
        var problem = type.indexOf("json") >= 0 ? JSON.parse(answer.text) : { detail: answer.text };
        status.textContent = "";
        showError(problem.detail || ("HTTP " + answer.response.status), problem.line, problem.column);
        return;
      }
      if (type.indexOf("application/json") !== 0) {
        table.innerHTML = "";
        errorBox.hidden = false;
        errorBox.textContent = "The explorer shows FORMAT JSON results; remove the FORMAT clause.";
        status.textContent = "";
        return;
      }
      last = { text: answer.text, body: JSON.parse(answer.text) };
      renderTable(last.body);
      renderChart(last.body);
      csvButton.disabled = false;
      jsonButton.disabled = false;
      status.textContent = last.body.rows + " rows in " + Math.round(performance.now() - started) + " ms";
    }).catch(function (error) {
      status.textContent = "";
      showError(String(error));
    });
  }

  form.addEventListener("submit", run);
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { run(event); }
  });
  csvButton.addEventListener("click", function () {
    if (!last) { return; }
    var lines = [last.body.meta.map(function (column) { return csvField(column.name); }).join(",")];
    last.body.data.forEach(function (row) {
      lines.push(last.body.meta.map(function (column) { return csvField(row[column.name]); }).join(","));
    });
    download("query.csv", "text/csv", lines.join("\n") + "\n");
  });
  jsonButton.addEventListener("click", function () {
    if (last) { download("query.json", "application/json", last.text); }
  });
  document.querySelectorAll("button.insert").forEach(function (button) {
    button.addEventListener("click", function () {
      var start = editor.selectionStart;
      editor.setRangeText(button.dataset.insert, start, editor.selectionEnd, "end");
      editor.focus();
    });
  });
  document.querySelectorAll("button.load").forEach(function (button) {
    button.addEventListener("click", function () {
      editor.value = button.dataset.sql;
      var name = document.getElementById("save-name");
      if (name && button.dataset.name) { name.value = button.dataset.name; }
      editor.focus();
    });
  });
  var saveForm = document.getElementById("save-form");
  if (saveForm) {
    saveForm.addEventListener("submit", function () { document.getElementById("save-sql").value = editor.value; });
  }
})();
