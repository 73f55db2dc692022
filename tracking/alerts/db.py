"""Raw SQL of the alerts app: named, parameterised statements and nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection


def budget_status_cache_write(
    *,
    ids: Sequence[int],
    period_keys: Sequence[str],
    spent: Sequence[Decimal],
    forecast: Sequence[Decimal],
    evaluated_at: datetime,
) -> None:
    """Every budget's status cache in one statement (Django's bulk_update builds one CASE per
    row and field, which costs seconds at a thousand budgets).

    A budget whose period has turned over with nothing to notify starts the new period here
    (no threshold crossed, forecast not notified), without a lock of its own: UPDATE re-reads
    the row, so a period another cycle already started under its lock is left as it is.
    """
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE alerts_budget AS b SET spent_usd = v.spent, forecast_usd = v.forecast, evaluated_at = %s,
                crossed = CASE WHEN b.period_key = v.period_key THEN b.crossed ELSE '{}' END,
                forecast_notified = b.forecast_notified AND b.period_key = v.period_key,
                period_key = v.period_key
            FROM unnest(%s::bigint[], %s::text[], %s::numeric[], %s::numeric[]) AS v(id, period_key, spent, forecast)
            WHERE b.id = v.id
            """,
            [evaluated_at, list(ids), list(period_keys), list(spent), list(forecast)],
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


def budget_state_write(
    *, ids: Sequence[int], period_keys: Sequence[str], crossed: Sequence[Sequence[int]],
    forecast_notified: Sequence[bool], rearmed: Sequence[int],
) -> None:
    """The notified state of locked budgets in one statement (see budget_status_cache_write)."""
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE alerts_budget AS b SET period_key = v.period_key, crossed = v.crossed::smallint[],
                forecast_notified = v.forecast_notified, rearmed = v.rearmed
            FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::boolean[], %s::integer[])
                AS v(id, period_key, crossed, forecast_notified, rearmed)
            WHERE b.id = v.id
            """,
            [list(ids), list(period_keys), ["{" + ",".join(map(str, c)) + "}" for c in crossed],
             list(forecast_notified), list(rearmed)],
        )


def rule_state_write(
    *, ids: Sequence[int], states: Sequence[str], episodes: Sequence[int], since: Sequence[datetime | None]
) -> None:
    """The state of a chunk's locked rules in one UPDATE from arrays: per-row saves cost a round
    trip each, and a cycle can move hundreds of rules at once."""
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE alerts_alertrule AS r SET state = v.state, episode = v.episode, state_since = v.since
            FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::timestamptz[]) AS v(id, state, episode, since)
            WHERE r.id = v.id
            """,
            [list(ids), list(states), list(episodes), list(since)],
        )


def channels_key_share(*, ids: Sequence[int]) -> set[int]:
    """The channels among ``ids`` that exist, locked FOR KEY SHARE: none can be deleted until the
    transaction ends, while edits of their settings go on unblocked."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM alerts_channel WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [list(ids)])
        return {row[0] for row in cursor.fetchall()}
