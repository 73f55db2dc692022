"""Per-project reports: selectors that turn rollups into totals, time series and tables.

Each ``report_*`` selector takes the project first, then a dataset of that project and a
``Window``. Counts are points weighted by ``_sample_interval``; sums are weighted sums of
the kind's doubles, as exact decimals. docs/reports.md defines every number.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import F

from projects.models import Project
from tracking.models import Dataset
from tracking.reports.db import Piece, report_reading, rollup_aggregate, rollup_top_keys, tier_bucket_rows, tier_readable
from tracking.reports.window import (
    PRESETS,
    Window,
    WindowInvalid,
    bucket_row_samples,
    bucket_starts,
    window_build,
    window_pieces,
    window_pieces_signed,
    window_preset,
)
from tracking.rollups.db import watermark_read
from tracking.rollups.layout import DAY, LATENCY_BOUNDS, PATH_LATENCY_BOUNDS, Kind, Layout, floor_to, layout_from_labels

TOP = 10
ZERO = Decimal(0)


@dataclass(frozen=True)
class Table:
    """Rows of one report table; ``columns`` are ``(key, heading)`` pairs in display order."""

    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Series:
    """A chart: bucket starts and one list of values per named line (0 where nothing happened)."""

    t: list[datetime]
    lines: dict[str, list[float | None]]
    unit: str = ""


@dataclass
class Report:
    name: str
    project: Project
    dataset: Dataset | None
    window: Window
    now: datetime
    totals: dict[str, object] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)

    @property
    def has_data(self) -> bool:
        return self.dataset is not None and self.dataset.last_write_at is not None


def percentile_from_bins(bins: dict[int, int], q: float, bounds: Sequence[float] = LATENCY_BOUNDS) -> float | None:
    """Nearest-rank percentile over latency bins, reported as the bin's upper bound (ms).

    The true value lies in the bin, so the answer is at most one bin width (5%, or 10% per
    path) above it (docs/reports.md).
    """
    total = sum(bins.values())
    if total <= 0:
        return None
    rank = q * total
    running = 0
    for bin_number in sorted(bins):
        running += bins[bin_number]
        if running >= rank:
            return bounds[min(bin_number, len(bounds) - 1)]
    return bounds[-1]


def _ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return None if not whole else Decimal(part) / Decimal(whole)


def status_class(status: str) -> str:
    return f"{status[0]}xx" if len(status) == 3 and status[0] in "12345" and status.isdigit() else "other"


#: A dataset's rows per bucket move with its traffic over days: a process counts them hourly.
BUCKET_ROWS_TTL = 3600.0
#: Entries kept before the cache starts over, so its memory stays bounded however many datasets report.
BUCKET_ROWS_CACHED = 4096
_bucket_rows_cache: dict[tuple[int, int], tuple[float, dict[str, float]]] = {}


def _bucket_rows(*, dataset_id: int, kind: int, now: datetime, coarse_until: datetime) -> dict[str, float]:
    """``reports.db.tier_bucket_rows`` for a ranking's cover, counted at most hourly per process."""
    cached = _bucket_rows_cache.get((dataset_id, kind))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    rows = tier_bucket_rows(dataset_id=dataset_id, kind=kind, samples=bucket_row_samples(now=now, coarse_until=coarse_until))
    if len(_bucket_rows_cache) >= BUCKET_ROWS_CACHED:
        _bucket_rows_cache.clear()
    _bucket_rows_cache[(dataset_id, kind)] = (time.monotonic() + BUCKET_ROWS_TTL, rows)
    return rows


class _Reader:
    """Runs rollup queries for one dataset, clamped to what its retention still holds."""

    def __init__(self, *, dataset: Dataset | None, window: Window, now: datetime) -> None:
        self.dataset = dataset
        self.window = window
        self.now = now
        self.layout: Layout = layout_from_labels(dataset.labels if dataset else None)
        self.oldest = floor_to(now - timedelta(days=dataset.retention_days), DAY) + DAY if dataset else now
        self.status_groups: list[tuple[Any, ...]] | None = None
        self.coarse_until = watermark_read(lock=False)

    def _pieces(
        self,
        readable: bool,
        *,
        series: bool = False,
        ranked_kind: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Piece]:
        """Signed pieces (``window_pieces_signed``) only for a ranking of ``ranked_kind``, which compares sums."""
        lo = max(start or self.window.start, self.oldest)
        hi = end or self.window.end
        if self.dataset is None or lo >= hi:
            return []
        if readable and ranked_kind is not None:
            bucket_rows = _bucket_rows(dataset_id=self.dataset.id, kind=ranked_kind, now=self.now, coarse_until=self.coarse_until)
            return window_pieces_signed(
                start=lo, end=hi, now=self.now, coarse_until=self.coarse_until, earliest=self.oldest, bucket_rows=bucket_rows
            )
        if readable:
            return window_pieces(
                start=lo, end=hi, now=self.now, coarse_until=self.coarse_until, step=self.window.step if series else None
            )
        return [Piece("raw", lo, hi)]

    def rows(
        self,
        kinds: Sequence[int],
        group_by: Sequence[str],
        *,
        series: bool = False,
        keys: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[tuple[Any, ...]]:
        pieces = self._pieces(tier_readable(kinds=kinds, group_by=group_by, keys=keys), series=series, start=start, end=end)
        if self.dataset is None or not pieces:
            return []
        return rollup_aggregate(
            dataset_id=self.dataset.id,
            layout=self.layout,
            pieces=pieces,
            kinds=kinds,
            group_by=group_by,
            step=self.window.step if series else None,
            keys=keys,
        )

    def top_keys(self, kind: int, *, rank: Literal["n", "s2"], limit: int) -> list[str]:
        """The window's ``limit`` keys of ``kind`` with the largest ``rank`` sums, ties by key."""
        pieces = self._pieces(tier_readable(kinds=[kind], group_by=["k1"], keys=None), ranked_kind=kind)
        if self.dataset is None or not pieces:
            return []
        return rollup_top_keys(dataset_id=self.dataset.id, layout=self.layout, pieces=pieces, kind=kind, rank=rank, limit=limit)

    def total(self, kind: int, *, start: datetime | None = None, end: datetime | None = None) -> tuple[int, Decimal, Decimal, Decimal]:
        rows = self.rows([kind], [], start=start, end=end)
        if not rows:
            return 0, ZERO, ZERO, ZERO
        n, s1, s2, s3 = rows[0]
        return int(n), s1, s2, s3

    def bins_all(self) -> dict[int, int]:
        """The latency histogram of all requests, from its own small rollup rows."""
        return {int(bin_text): int(n) for bin_text, n, *_ in self.rows([Kind.LATENCY_ALL], ["k2"])}

    def series(self, rows: list[tuple[Any, ...]], value: Callable[[tuple[Any, ...]], tuple[str, float]], unit: str = "") -> Series:
        """Dense lines from ``(t, ...)`` rows; ``value`` maps a row to (line name, amount)."""
        starts = bucket_starts(self.window)
        index = {moment: i for i, moment in enumerate(starts)}
        lines: dict[str, list[float | None]] = {}
        for row in rows:
            position = index.get(row[0])
            if position is None:
                continue
            name, amount = value(row)
            line = lines.setdefault(name, [0.0] * len(starts))
            line[position] = (line[position] or 0.0) + float(amount)
        return Series(t=starts, lines=dict(sorted(lines.items())), unit=unit)


def _status_groups(reader: _Reader) -> list[tuple[Any, ...]]:
    """Requests per status, from the tiers' path-less rows: the totals and the status table."""
    if reader.status_groups is None:
        reader.status_groups = reader.rows([Kind.REQUEST], ["k2"])
    return reader.status_groups


def _request_totals(reader: _Reader, report: Report) -> None:
    requests = server_errors = client_errors = 0
    duration = size = ZERO
    for status, count, s1, _s2, s3 in _status_groups(reader):
        n = int(count)
        requests += n
        duration += s1
        size += s3
        if status_class(status) == "5xx":
            server_errors += n
        elif status_class(status) == "4xx":
            client_errors += n
    report.totals.update(
        requests=requests,
        errors_5xx=server_errors,
        errors_4xx=client_errors,
        error_rate=_ratio(server_errors, requests),
        avg_duration_ms=_ratio(duration, requests),
        response_bytes=size,
        avg_response_bytes=_ratio(size, requests),
    )


def _percentiles(bins: dict[int, int]) -> dict[str, float | None]:
    return {"p50_ms": percentile_from_bins(bins, 0.50), "p95_ms": percentile_from_bins(bins, 0.95), "p99_ms": percentile_from_bins(bins, 0.99)}


def _top_paths(reader: _Reader, *, limit: int, rank: Literal["n", "s2"], with_bins: bool = False) -> list[tuple[str, Any, Any, Any, Any, dict[int, int]]]:
    """The ``limit`` paths with the most requests (``rank="n"``) or 5xx requests (``"s2"``), in
    that order, as ``(path, requests, duration, 5xx, bytes, latency bins)``.

    The ranking sums one integer per path; the measures, and the latency histograms when
    asked for, are then read for those paths only.
    """
    paths = reader.top_keys(Kind.PATH, rank=rank, limit=limit)
    if not paths:
        return []
    measures: dict[str, tuple[Any, ...]] = {}
    bins: dict[str, dict[int, int]] = defaultdict(dict)
    for kind, path, bin_text, n, s1, s2, s3 in reader.rows([Kind.PATH, Kind.LATENCY] if with_bins else [Kind.PATH], ["kind", "k1", "k2"], keys=paths):
        if kind == Kind.PATH:
            measures[path] = (int(n), s1, s2, s3)
        else:
            bins[path][int(bin_text)] = int(n)
    return [(path, *measures[path], bins.get(path, {})) for path in paths]


def _path_table(reader: _Reader, *, limit: int, with_p95: bool) -> Table:
    """Busiest paths; their p95 needs per-path histograms, so only Usage asks."""
    rows = []
    for path, n, duration, _fives, size, bins in _top_paths(reader, limit=limit, rank="n", with_bins=with_p95):
        row: dict[str, object] = {"path": path, "requests": n, "avg_duration_ms": _ratio(duration, n)}
        if with_p95:
            row["p95_ms"] = percentile_from_bins(bins, 0.95, PATH_LATENCY_BOUNDS)
        rows.append(row | {"bytes": size, "avg_bytes": _ratio(size, n)})
    heading = (reader.dataset.labels or {}).get(reader.layout.path, "path") if reader.dataset else "path"
    columns = [("path", heading), ("requests", "Requests"), ("avg_duration_ms", "Avg ms")]
    columns += [("p95_ms", "p95 ms")] if with_p95 else []
    columns += [("bytes", "Bytes"), ("avg_bytes", "Avg bytes")]
    return Table(columns=columns, rows=rows)


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _previous_month_start(moment: datetime) -> datetime:
    return _month_start(_month_start(moment) - timedelta(days=1))


def _future_edge(now: datetime) -> datetime:
    """Points may be stamped up to a day ahead; "to date" totals include them, as the seed's queries do."""
    return now + DAY


def report_overview(*, project: Project, dataset: Dataset | None, window: Window, now: datetime) -> Report:
    report = Report("overview", project, dataset, window, now)
    reader = _Reader(dataset=dataset, window=window, now=now)
    _request_totals(reader, report)
    report.totals.update(_percentiles(reader.bins_all()))
    by_kind = {kind: (n, s1, s2, s3) for kind, n, s1, s2, s3 in reader.rows([Kind.ERROR, Kind.AI, Kind.COST], ["kind"])}
    error_n = by_kind.get(Kind.ERROR, (0, ZERO, ZERO, ZERO))[0]
    ai = by_kind.get(Kind.AI, (0, ZERO, ZERO, ZERO))
    today = floor_to(now, DAY)
    report.totals.update(
        error_events=int(error_n),
        ai_tokens=ai[1],
        ai_cost_usd=ai[2],
        cost_usd=by_kind.get(Kind.COST, (0, ZERO, ZERO, ZERO))[1],
        cost_today_usd=reader.total(Kind.COST, start=today, end=_future_edge(now))[1],
        cost_month_usd=reader.total(Kind.COST, start=_month_start(now), end=_future_edge(now))[1],
    )
    report.tables["top_paths"] = _path_table(reader, limit=TOP, with_p95=False)
    request_rows = reader.rows([Kind.REQUEST], ["t", "k2"], series=True)
    report.series["requests"] = reader.series(request_rows, lambda row: ("requests", row[2]), "requests")
    report.series["errors_5xx"] = reader.series(
        [row for row in request_rows if status_class(row[1]) == "5xx"], lambda row: ("5xx", row[2]), "requests"
    )
    other_rows = reader.rows([Kind.COST, Kind.AI], ["t", "kind"], series=True)
    report.series["cost"] = reader.series(
        [row for row in other_rows if row[1] == Kind.COST], lambda row: ("cost_usd", row[3]), "USD"
    )
    report.series["ai_tokens"] = reader.series(
        [row for row in other_rows if row[1] == Kind.AI], lambda row: ("tokens", row[3]), "tokens"
    )
    return report


def report_usage(*, project: Project, dataset: Dataset | None, window: Window, now: datetime) -> Report:
    report = Report("usage", project, dataset, window, now)
    reader = _Reader(dataset=dataset, window=window, now=now)
    _request_totals(reader, report)
    request_rows = reader.rows([Kind.REQUEST], ["t", "k2"], series=True)
    report.series["requests_by_status"] = reader.series(request_rows, lambda row: (status_class(row[1]), row[2]), "requests")
    report.series["response_bytes"] = reader.series(request_rows, lambda row: ("bytes", row[5]), "bytes")
    report.tables["top_paths"] = _path_table(reader, limit=20, with_p95=True)
    per_status = {status: int(n) for status, n, *_ in _status_groups(reader)}
    report.tables["status_codes"] = Table(
        columns=[("status", "Status"), ("requests", "Requests")],
        rows=[{"status": status, "requests": n} for status, n in sorted(per_status.items(), key=lambda item: (-item[1], item[0]))],
    )
    users = sorted(reader.rows([Kind.USER], ["k1"]), key=lambda row: (-row[1], row[0]))
    report.tables["user_events"] = Table(
        columns=[("event_type", "Event type"), ("events", "Events"), ("count", "Count")],
        rows=[{"event_type": name, "events": int(n), "count": s1} for name, n, s1, *_ in users],
    )
    resources = sorted(reader.rows([Kind.RESOURCE], ["k1"]), key=lambda row: (-row[2], row[0]))
    report.tables["resources"] = Table(
        columns=[("resource_type", "Resource type"), ("usage", "Usage"), ("count", "Count"), ("events", "Events")],
        rows=[{"resource_type": name, "usage": s1, "count": s2, "events": int(n)} for name, n, s1, s2, _ in resources],
    )
    report.totals["user_events"] = sum(int(row[1]) for row in users)
    return report


def report_costs(*, project: Project, dataset: Dataset | None, window: Window, now: datetime) -> Report:
    report = Report("costs", project, dataset, window, now)
    reader = _Reader(dataset=dataset, window=window, now=now)
    cost_rows = reader.rows([Kind.COST], ["t", "k2"], series=True)
    report.series["cost_by_type"] = reader.series(cost_rows, lambda row: (row[1] or "(none)", row[3]), "USD")
    by_project = sorted(reader.rows([Kind.COST], ["k1", "k2"]), key=lambda row: (-row[3], row[0], row[1]))
    report.tables["cost_by_project"] = Table(
        columns=[("project_id", "Project"), ("cost_type", "Cost type"), ("total_usd", "Total USD"), ("events", "Events")],
        rows=[
            {"project_id": k1, "cost_type": k2, "total_usd": s1, "events": int(n)} for k1, k2, n, s1, _s2, _s3 in by_project
        ],
    )
    report.tables["ai_by_model"] = _ai_table(reader)
    month = _month_start(now)
    previous = _previous_month_start(now)
    this_month = reader.total(Kind.COST, start=month, end=_future_edge(now))[1]
    last_month = reader.total(Kind.COST, start=previous, end=month)[1]
    last_month_to_date = reader.total(Kind.COST, start=previous, end=min(previous + (now - month), month))[1]
    report.totals.update(
        cost_usd=sum((row[3] for row in by_project), ZERO),
        cost_events=sum(int(row[2]) for row in by_project),
        cost_month_usd=this_month,
        cost_last_month_usd=last_month,
        cost_last_month_to_date_usd=last_month_to_date,
        month_change=_ratio(this_month - last_month_to_date, last_month_to_date),
    )
    return report


def _ai_table(reader: _Reader) -> Table:
    models = sorted(reader.rows([Kind.AI], ["k1"]), key=lambda row: (-row[3], row[0]))
    return Table(
        columns=[("model", "Model"), ("tokens", "Tokens"), ("cost_usd", "Cost USD"), ("calls", "Calls")],
        rows=[{"model": name, "tokens": s1, "cost_usd": s2, "calls": int(n)} for name, n, s1, s2, _ in models],
    )


def report_errors(*, project: Project, dataset: Dataset | None, window: Window, now: datetime) -> Report:
    report = Report("errors", project, dataset, window, now)
    reader = _Reader(dataset=dataset, window=window, now=now)
    _request_totals(reader, report)
    request_rows = reader.rows([Kind.REQUEST], ["t", "k2"], series=True)
    requests = reader.series(request_rows, lambda row: ("requests", row[2]))
    server = reader.series(
        [row for row in request_rows if status_class(row[1]) == "5xx"], lambda row: ("5xx", row[2])
    )
    totals = requests.lines.get("requests", [0.0] * len(requests.t))
    fives = server.lines.get("5xx", [0.0] * len(requests.t))
    rate = [(100.0 * (f or 0.0) / r) if r else None for f, r in zip(fives, totals, strict=True)]
    report.series["error_rate"] = Series(t=requests.t, lines={"5xx_percent": rate}, unit="%")
    event_rows = reader.rows([Kind.ERROR], ["t"], series=True)
    report.series["error_events"] = reader.series(event_rows, lambda row: ("errors", row[1]), "errors")
    by_type = sorted(reader.rows([Kind.ERROR], ["k1"]), key=lambda row: (-row[1], row[0]))
    report.tables["errors_by_type"] = Table(
        columns=[("error_type", "Error type"), ("errors", "Errors")],
        rows=[{"error_type": name, "errors": int(n)} for name, n, *_ in by_type],
    )
    by_path = sorted(reader.rows([Kind.ERROR], ["k2"]), key=lambda row: (-row[1], row[0]))
    report.tables["errors_by_path"] = Table(
        columns=[("path", "Path"), ("errors", "Errors")],
        rows=[{"path": path, "errors": int(n)} for path, n, *_ in by_path[:50]],
    )
    worst = [(path, n, int(fives)) for path, n, _s1, fives, _s3, _bins in _top_paths(reader, limit=50, rank="s2")]
    report.tables["server_errors_by_path"] = Table(
        columns=[("path", "Path"), ("requests", "Requests"), ("errors_5xx", "5xx"), ("share", "5xx share")],
        rows=[{"path": path, "requests": r, "errors_5xx": f, "share": _ratio(f, r)} for path, r, f in worst],
    )
    report.totals["error_events"] = sum(int(row[1]) for row in by_type)
    return report


def report_ai(*, project: Project, dataset: Dataset | None, window: Window, now: datetime) -> Report:
    report = Report("ai", project, dataset, window, now)
    reader = _Reader(dataset=dataset, window=window, now=now)
    table = _ai_table(reader)
    report.tables["ai_by_model"] = table
    tokens = sum((row["tokens"] for row in table.rows), ZERO)
    cost = sum((row["cost_usd"] for row in table.rows), ZERO)
    report.totals.update(
        ai_tokens=tokens,
        ai_cost_usd=cost,
        ai_calls=sum(int(row["calls"]) for row in table.rows),
        cost_per_1k_tokens=_ratio(cost * 1000, tokens),
    )
    rows = reader.rows([Kind.AI], ["t", "k1"], series=True)
    report.series["tokens_by_model"] = reader.series(rows, lambda row: (row[1] or "(none)", row[3]), "tokens")
    report.series["cost_by_model"] = reader.series(rows, lambda row: (row[1] or "(none)", row[4]), "USD")
    return report


REALTIME_RANGE = timedelta(minutes=5)
REALTIME_CHART_RANGE = timedelta(minutes=30)


def realtime_window(*, now: datetime) -> Window:
    return window_build(start=now - REALTIME_RANGE, end=now, interval=60)


def report_realtime(*, project: Project, dataset: Dataset | None, window: Window, now: datetime) -> Report:
    """Totals of the last five minutes and a per-minute chart of the last thirty.

    Whole minutes come from the minute tier and the newest partial minute from raw points,
    so both are exact to the point however fast points arrive.
    """
    report = Report("realtime", project, dataset, window, now)
    reader = _Reader(dataset=dataset, window=window, now=now)
    # One read of the raw edges for both totals: five minutes rarely start on a minute, so
    # the oldest partial minute is read raw, and at a high ingest rate that is most of the cost.
    rows = reader.rows([Kind.REQUEST, Kind.ERROR], ["kind", "k2"])
    reader.status_groups = [row[1:] for row in rows if row[0] == Kind.REQUEST]
    _request_totals(reader, report)
    report.totals["error_events"] = sum(int(row[2]) for row in rows if row[0] == Kind.ERROR)
    chart_window = Window(start=floor_to(now - REALTIME_CHART_RANGE, window.step), end=now, step=window.step)
    chart = _Reader(dataset=dataset, window=chart_window, now=now)
    rows = chart.rows([Kind.REQUEST], ["t"], series=True)
    report.series["requests"] = chart.series(rows, lambda row: ("requests", row[1]), "requests")
    report.series["avg_duration"] = chart.series(rows, lambda row: ("avg_ms", (row[2] / row[1]) if row[1] else 0), "ms")
    return report


def metrics_cost_trend(*, project: Project, dataset: Dataset, now: datetime) -> list[tuple[datetime, str, Decimal]]:
    """The seed's cost trend: per UTC day and cost type over the last 30 days, newest day first.

    ``timestamp > now - 30 days`` with no upper bound, as in the seed; points may be stamped
    up to a day ahead, so the range runs to tomorrow.
    """
    start = now - timedelta(days=30) + timedelta(microseconds=1)
    window = Window(start=start, end=_future_edge(now), step=DAY)
    reader = _Reader(dataset=dataset, window=window, now=now)
    rows = [(day, cost_type, s1) for day, cost_type, _n, s1, _s2, _s3 in reader.rows([Kind.COST], ["t", "k2"], series=True)]
    return sorted(rows, key=lambda row: (-row[0].timestamp(), row[1]))


# Every report, in display order: the API, the pages and their navigation list reports from here.
REPORTS: dict[str, Callable[..., Report]] = {
    "overview": report_overview,
    "usage": report_usage,
    "costs": report_costs,
    "errors": report_errors,
    "ai": report_ai,
    "realtime": report_realtime,
}


def report_interval_default(*, name: str, length: timedelta) -> int | None:
    """Costs read best per day once the range spans days; other reports take the automatic fit."""
    if name == "costs" and length >= timedelta(days=3):
        return 86400
    return None


# Points are stamped after the epoch; a window's buckets and presets must stay inside datetime's range.
WINDOW_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
WINDOW_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def report_window(
    *,
    name: str,
    now: datetime,
    preset: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    interval: int | None = None,
    default_range: str = "24h",
) -> Window:
    """The window a report reads, for the API and the pages alike; raises ``WindowInvalid``.

    Realtime's window is fixed. With ``start`` the range is exactly ``[start, end)``;
    otherwise it is the preset (or ``default_range``) ending at ``end``, moved back to a
    bucket boundary. ``end`` defaults to ``now``; the interval to the report's choice.
    """
    if name == "realtime":
        return realtime_window(now=now)
    end = end or now
    if not (WINDOW_EARLIEST <= (start or end) and end <= WINDOW_LATEST):
        raise WindowInvalid(f"Dates must fall between {WINDOW_EARLIEST:%Y-%m-%d} and {WINDOW_LATEST:%Y-%m-%d}.")
    length = end - start if start is not None else PRESETS[preset or default_range]
    if interval is None:
        interval = report_interval_default(name=name, length=length)
    try:
        if start is not None:
            return window_build(start=start, end=end, interval=interval)
        return window_preset(length=length, end=end, interval=interval)
    except OverflowError:  # found by tests/security/test_properties_endpoints.py: to=0001-01-01 was a 500
        raise WindowInvalid("The range must lie between the years 0001 and 9999.") from None


def report_get(*, project: Project, name: str, dataset: Dataset | None, window: Window, now: datetime) -> Report:
    if dataset is not None and dataset.project_id != project.id:
        raise ValueError("dataset belongs to another project")
    with report_reading():
        return REPORTS[name](project=project, dataset=dataset, window=window, now=now)


def report_dataset_default(*, project: Project) -> Dataset | None:
    """The dataset written most recently, so a project's pages open on live data."""
    return (
        Dataset.objects.filter(project=project)
        .order_by(F("last_write_at").desc(nulls_last=True), "name")
        .first()
    )


def rollup_totals(
    *,
    project: Project,
    dataset: Dataset,
    start: datetime,
    end: datetime,
    now: datetime,
    kinds: Sequence[int],
    group_by: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Exact ``(*groups, n, s1, s2, s3)`` of some kinds over ``[start, end)``, for evaluations
    (budgets, alert rules) that need other ranges than a report's window."""
    if dataset.project_id != project.id:
        raise ValueError("dataset belongs to another project")
    reader = _Reader(dataset=dataset, window=Window(start=start, end=end, step=DAY), now=now)
    return reader.rows(kinds, group_by)


def rollup_series(
    *,
    project: Project,
    dataset: Dataset,
    start: datetime,
    end: datetime,
    step: timedelta,
    now: datetime,
    kinds: Sequence[int],
    group_by: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Exact ``(t, *groups, n, s1, s2, s3)`` per ``step``-wide bucket over ``[start, end)``
    (a budget's cumulative spend chart)."""
    if dataset.project_id != project.id:
        raise ValueError("dataset belongs to another project")
    reader = _Reader(dataset=dataset, window=Window(start=start, end=end, step=step), now=now)
    return reader.rows(kinds, ["t", *group_by], series=True)
