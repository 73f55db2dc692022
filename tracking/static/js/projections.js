/* The dataset page follows its backfilling projections: while one is backfilling it reads
   GET /api/v1/datasets/<dataset>/projections with the member's session every two seconds and
   updates each row's state, progress bar, percentage and cursor; it stops once all are ready.
   The table gets data-live="<polls>" after each poll, which the browser test can read. */
(function () {
  "use strict";
  var table = document.getElementById("projections");
  if (!table || !table.dataset.api) { return; }
  var polls = 0;

  function backfilling() {
    return table.querySelector("tr[data-projection][data-state-value=backfilling]") !== null;
  }

  function update(projection) {
    var row = table.querySelector('tr[data-projection="' + projection.name + '"]');
    if (!row) { return; }
    var percent = Math.round(projection.backfill.progress * 100);
    row.dataset.stateValue = projection.state;
    row.querySelector("[data-state]").textContent = projection.state === "ready" ? "Ready" : "Backfilling";
    row.querySelector("progress").value = percent;
    row.querySelector("[data-progress]").textContent = percent + "%";
    var cursor = row.querySelector("[data-cursor]");
    if (cursor) {
      cursor.textContent = projection.state === "ready" || !projection.backfill.through
        ? "" : "through " + projection.backfill.through.slice(0, 16).replace("T", " ");
    }
  }

  function poll() {
    fetch(table.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (projections) {
        projections.forEach(update);
        polls += 1;
        table.dataset.live = String(polls);
        if (backfilling()) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  if (backfilling()) { window.setTimeout(poll, 2000); }
})();
