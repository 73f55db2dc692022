"""Raw SQL of the alerts app: named, parameterised statements and nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection


def budget_status_cache_write(
    *, ids: Sequence[int], spent: Sequence[Decimal], forecast: Sequence[Decimal], evaluated_at: datetime
) -> None:
    """Every budget's status cache in one statement (Django's bulk_update builds one CASE per
    row and field, which costs seconds at a thousand budgets)."""
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE alerts_budget AS b SET spent_usd = v.spent, forecast_usd = v.forecast, evaluated_at = %s
            FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS v(id, spent, forecast)
            WHERE b.id = v.id
            """,
            [evaluated_at, list(ids), list(spent), list(forecast)],
        )


def rule_value_cache_write(*, ids: Sequence[int], values: Sequence[Decimal | None], evaluated_at: datetime) -> None:
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE alerts_alertrule AS r SET last_value = v.value, evaluated_at = %s
            FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, value)
            WHERE r.id = v.id
            """,
            [evaluated_at, list(ids), list(values)],
        )
