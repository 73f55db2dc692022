"""Ask before you spend: a budget's status as the last evaluation (every minute) found it.

    from meauxcloud_client import budget_status
    status = budget_status("https://analytics.example.com", "mc_r_...", "llm-monthly")
    if status.exhausted:
        raise RuntimeError("the LLM budget is spent")
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class BudgetStatus:
    name: str
    amount_usd: Decimal
    spent_usd: Decimal | None
    remaining_usd: Decimal | None
    exhausted: bool
    forecast_usd: Decimal | None
    evaluated_at: datetime | None


class BudgetStatusError(Exception):
    """The server refused (unknown budget, wrong key) or could not be reached."""


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _status(row: dict) -> BudgetStatus:
    evaluated = row.get("evaluated_at")
    return BudgetStatus(
        name=row["name"],
        amount_usd=Decimal(row["amount_usd"]),
        spent_usd=_decimal(row.get("spent_usd")),
        remaining_usd=_decimal(row.get("remaining_usd")),
        exhausted=bool(row["exhausted"]),
        forecast_usd=_decimal(row.get("forecast_usd")),
        evaluated_at=datetime.fromisoformat(evaluated.replace("Z", "+00:00")) if evaluated else None,
    )


def budget_statuses(url: str, key: str, *, timeout: float = 5.0) -> list[BudgetStatus]:
    """Every budget of the key's project."""
    return _fetch(url, key, None, timeout)


def budget_status(url: str, key: str, scope: str, *, timeout: float = 5.0) -> BudgetStatus:
    """One budget, by name, with a read key."""
    return _fetch(url, key, scope, timeout)[0]


def _fetch(url: str, key: str, scope: str | None, timeout: float) -> list[BudgetStatus]:
    query = f"?{urllib.parse.urlencode({'scope': scope})}" if scope is not None else ""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/v1/budgets/status{query}", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")[:300]
        raise BudgetStatusError(f"HTTP {error.code}: {detail}") from error
    except OSError as error:
        raise BudgetStatusError(str(error)) from error
    return [_status(row) for row in body["budgets"]]
