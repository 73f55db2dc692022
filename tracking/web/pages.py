"""What each report page shows: its cards, charts and tables, formatted for people.

Kept apart from the views so the views stay thin and every page renders through one
template (``web/report.html``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from projects.models import MANAGER_ROLES, Project
from tracking.reports.selectors import REPORTS, Report, Series, Table

#: (report, title) of every page, in the reports' order.
PAGES = tuple((name, "AI" if name == "ai" else name.capitalize()) for name in REPORTS)


def member_page_context(*, project: Project, role: str | None, page: str) -> dict[str, object]:
    """The frame of every project page (base template): its tabs, the current one, and whether to offer managing."""
    return {"project": project, "role": role, "can_manage": role in MANAGER_ROLES, "pages": PAGES, "page": page}


#: (total key, label, format) per page, in display order.
CARDS: dict[str, list[tuple[str, str, str]]] = {
    "overview": [
        ("requests", "Requests", "int"),
        ("errors_5xx", "5xx responses", "int"),
        ("error_rate", "Error rate (5xx)", "percent"),
        ("error_events", "Error events", "int"),
        ("p50_ms", "p50 latency", "ms"),
        ("p95_ms", "p95 latency", "ms"),
        ("p99_ms", "p99 latency", "ms"),
        ("cost_today_usd", "Cost today", "usd"),
        ("cost_month_usd", "Cost month to date", "usd"),
        ("ai_tokens", "AI tokens", "int"),
        ("ai_cost_usd", "AI cost", "usd"),
    ],
    "usage": [
        ("requests", "Requests", "int"),
        ("avg_duration_ms", "Avg response time", "ms"),
        ("response_bytes", "Response bytes", "bytes"),
        ("avg_response_bytes", "Avg response size", "bytes"),
        ("user_events", "User events", "int"),
    ],
    "costs": [
        ("cost_usd", "Cost in range", "usd"),
        ("cost_month_usd", "This month", "usd"),
        ("cost_last_month_to_date_usd", "Last month, same days", "usd"),
        ("cost_last_month_usd", "Last month", "usd"),
        ("month_change", "Change vs last month", "percent"),
    ],
    "errors": [
        ("error_rate", "5xx share", "percent"),
        ("errors_5xx", "5xx responses", "int"),
        ("errors_4xx", "4xx responses", "int"),
        ("error_events", "Error events", "int"),
    ],
    "ai": [
        ("ai_tokens", "Tokens", "int"),
        ("ai_cost_usd", "Cost", "usd"),
        ("ai_calls", "Calls", "int"),
        ("cost_per_1k_tokens", "Cost per 1k tokens", "usd"),
    ],
    "realtime": [
        ("requests", "Requests (5 min)", "int"),
        ("avg_duration_ms", "Avg response time", "ms"),
        ("errors_5xx", "5xx responses", "int"),
        ("error_events", "Error events", "int"),
    ],
}

CHART_TITLES = {
    "requests": "Requests",
    "errors_5xx": "5xx responses",
    "cost": "Cost (USD)",
    "ai_tokens": "AI tokens",
    "requests_by_status": "Requests by status class",
    "response_bytes": "Response bytes",
    "cost_by_type": "Cost by type (USD)",
    "error_rate": "5xx share (%)",
    "error_events": "Error events",
    "tokens_by_model": "Tokens by model",
    "cost_by_model": "AI cost by model (USD)",
    "avg_duration": "Average response time (ms)",
}

TABLE_TITLES = {
    "top_paths": "Top paths",
    "status_codes": "Status codes",
    "user_events": "User events by type",
    "resources": "Resource usage by type",
    "cost_by_project": "Cost by project and type",
    "ai_by_model": "AI usage by model",
    "errors_by_type": "Errors by type",
    "errors_by_path": "Errors by path",
    "server_errors_by_path": "5xx by path",
}


def format_value(value: object, kind: str = "") -> str:
    """Human form of a number; the API and CSV keep the exact value."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if not isinstance(value, Decimal | int | float):
        return str(value)
    number = float(value)
    if kind == "percent":
        return f"{number * 100:.2f}%"
    if kind == "usd":
        return f"${number:,.4f}" if abs(number) < 1 else f"${number:,.2f}"
    if kind == "ms":
        return f"{number:,.1f} ms"
    if kind == "bytes":
        for unit in ("B", "KB", "MB", "GB"):
            if abs(number) < 1024 or unit == "GB":
                return f"{number:,.0f} {unit}" if unit == "B" else f"{number:,.1f} {unit}"
            number /= 1024
    if kind == "int" or (isinstance(value, int) and not isinstance(value, bool)):
        return f"{int(number):,}"
    return f"{number:,.4f}".rstrip("0").rstrip(".")


_COLUMN_FORMATS = {
    "avg_duration_ms": "ms",
    "p95_ms": "ms",
    "bytes": "bytes",
    "avg_bytes": "bytes",
    "total_usd": "usd",
    "cost_usd": "usd",
    "share": "percent",
}


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    value: str


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    data: Mapping[str, object]
    points: int


@dataclass(frozen=True)
class PageTable:
    name: str
    title: str
    headings: list[str]
    rows: list[list[str]]


def _chart(name: str, series: Series) -> Chart:
    data = {
        "t": [int(moment.timestamp()) for moment in series.t],
        "lines": series.lines,
        "unit": series.unit,
        "title": CHART_TITLES.get(name, name),
    }
    points = sum(1 for values in series.lines.values() for value in values if value)
    return Chart(name=name, title=CHART_TITLES.get(name, name), data=data, points=points)


def _table(name: str, table: Table) -> PageTable:
    return PageTable(
        name=name,
        title=TABLE_TITLES.get(name, name),
        headings=[heading for _, heading in table.columns],
        rows=[[format_value(row.get(key), _COLUMN_FORMATS.get(key, "")) for key, _ in table.columns] for row in table.rows],
    )


def page_build(report: Report) -> dict[str, object]:
    """Template context for one report page."""
    charts = [_chart(name, series) for name, series in report.series.items()]
    return {
        "cards": [Card(key, label, format_value(report.totals.get(key), kind)) for key, label, kind in CARDS[report.name]],
        "charts": charts,
        "charts_data": {chart.name: chart.data for chart in charts},
        "tables": [_table(name, table) for name, table in report.tables.items()],
    }
