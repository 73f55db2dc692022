"""Writes for budgets, alert rules and channels, the evaluation cycle, and the outbox.

Evaluation (``alerts_evaluate``) measures every budget and rule from the exact rollups, then
changes state only under a row lock: the new state, the ``AlertEvent`` (unique key) and one
``Delivery`` per channel are written in one transaction. A cycle killed at any point leaves
either all of it or none, and a second cycle finds nothing left to do.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from django.db import transaction
from django.utils import timezone

from projects.governance.audit import AuditEntry, audit_record, audit_record_many
from projects.governance.models import AuditAction
from projects.models import Project
from tracking.alerts import db
from tracking.alerts.conf import alerts_settings
from tracking.alerts.delivery import SendOutcome, email_send, webhook_send, webhook_url_check
from tracking.alerts.models import (
    DEFAULT_THRESHOLDS,
    AlertEvent,
    AlertRule,
    Budget,
    Channel,
    ChannelKind,
    Comparator,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    Metric,
    Period,
    RuleState,
)
from tracking.alerts.selectors import BudgetStatus, RuleValue, budget_measure_many, rule_measure_many

MONEY_METRICS = frozenset({Metric.AI_COST, Metric.COST})
#: Budgets or rules whose state changes commit together (bounds how long their rows stay locked).
STATE_CHUNK = 200

_Alerting = TypeVar("_Alerting", Budget, AlertRule)


class AlertsInvalid(ValueError):
    """Input a budget, rule or channel cannot take; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _channels_of(project: Project, channel_ids: list[int]) -> list[Channel]:
    channels = list(Channel.objects.filter(project=project, pk__in=channel_ids))
    missing = set(channel_ids) - {c.pk for c in channels}
    if missing:
        raise AlertsInvalid("channels", f"No channel {sorted(missing)[0]} in this project.")
    return channels


def channel_create(*, project: Project, kind: str, url: str = "", to: list[str] | None = None, name: str = "") -> Channel:
    if kind == ChannelKind.WEBHOOK:
        webhook_url_check(url=url)
        channel = Channel(project=project, kind=kind, name=name, url=url, secret=secrets.token_hex(32))
    elif kind == ChannelKind.EMAIL:
        if not to:
            raise AlertsInvalid("to", "Give at least one address.")
        channel = Channel(project=project, kind=kind, name=name, to=list(to))
    else:
        raise AlertsInvalid("kind", "Must be 'webhook' or 'email'.")
    channel.save()
    audit_record(project=project, action=AuditAction.ALERTS_CHANGE, target=f"channel {channel.pk}", details={"created": kind})
    return channel


def channel_delete(*, channel: Channel) -> None:
    audit_record(project=channel.project, action=AuditAction.ALERTS_CHANGE, target=f"channel {channel.pk}", details={"deleted": channel.kind})
    channel.delete()


def channel_test(*, channel: Channel) -> Delivery:
    """Send a test notification through the outbox, exactly as a real one would go."""
    with transaction.atomic():
        event = AlertEvent.objects.create(
            project=channel.project,
            key=f"test:{channel.pk}:{secrets.token_hex(8)}",
            type=EventType.CHANNEL_TEST,
            text=f"[{channel.project.slug}] Test notification from MeauxCLOUD Analytics.",
            details={"threshold": None, "channel": channel.pk},
        )
        delivery = Delivery.objects.create(event=event, channel=channel, next_attempt_at=timezone.now())
        transaction.on_commit(_deliver_soon)
    return delivery


def _alerting_save(alerting: _Alerting, *, kind: str, channel_ids: list[int]) -> _Alerting:
    """Save a new budget or rule with its channels and the audit row, all or nothing."""
    channels = _channels_of(alerting.project, channel_ids)
    with transaction.atomic():
        alerting.save()
        alerting.channels.set(channels)
        audit_record(project=alerting.project, action=AuditAction.ALERTS_CHANGE, target=f"{kind} {alerting.pk}", details={"created": alerting.name})
    return alerting


def _alerting_update(alerting: _Alerting, *, kind: str, fields: dict[str, object], channel_ids: list[int] | None) -> _Alerting:
    """Set the given fields (None leaves one as it is) under the row lock that evaluation takes
    too, so a change never interleaves with a cycle's state write; audits what changed."""
    changed: dict[str, object] = {}
    with transaction.atomic():
        locked = type(alerting).objects.select_for_update().get(pk=alerting.pk)
        for name, value in fields.items():
            if value is not None and getattr(locked, name) != value:
                setattr(locked, name, value)
                changed[name] = str(value)
        locked.save(update_fields=list(fields))
        if channel_ids is not None:
            locked.channels.set(_channels_of(locked.project, channel_ids))
            changed["channels"] = sorted(channel_ids)
        audit_record(project=locked.project, action=AuditAction.ALERTS_CHANGE, target=f"{kind} {locked.pk}", details={"updated": changed})
    return locked


def budget_create(
    *,
    project: Project,
    name: str,
    dataset: str,
    period: str,
    amount_usd: Decimal,
    rolling_days: int | None = None,
    thresholds: list[int] | None = None,
    forecast: bool = False,
    cost_type: str = "",
    cost_project: str = "",
    model: str = "",
    channel_ids: list[int] | None = None,
) -> Budget:
    if Budget.objects.filter(project=project, name=name).exists():
        raise AlertsInvalid("name", f"A budget named {name!r} exists in this project.")
    if model and (cost_type or cost_project):
        raise AlertsInvalid("filters", "A budget counts AI cost of a model or cost points, not both.")
    budget = Budget(
        project=project, name=name, dataset=dataset, period=period, rolling_days=rolling_days,
        amount_usd=amount_usd, thresholds=sorted(set(thresholds or DEFAULT_THRESHOLDS)), forecast=forecast,
        cost_type=cost_type, cost_project=cost_project, model=model,
    )
    return _alerting_save(budget, kind="budget", channel_ids=channel_ids or [])


def budget_update(
    *,
    budget: Budget,
    amount_usd: Decimal | None = None,
    thresholds: list[int] | None = None,
    forecast: bool | None = None,
    channel_ids: list[int] | None = None,
) -> Budget:
    """Change what a budget alerts on. Thresholds already notified this period stay notified;
    a new threshold below the current spend is notified by the next evaluation."""
    return _alerting_update(
        budget, kind="budget", channel_ids=channel_ids,
        fields={"amount_usd": amount_usd, "thresholds": sorted(set(thresholds)) if thresholds else None, "forecast": forecast},
    )


def budget_delete(*, budget: Budget) -> None:
    audit_record(project=budget.project, action=AuditAction.ALERTS_CHANGE, target=f"budget {budget.pk}", details={"deleted": budget.name})
    budget.delete()


def rule_create(
    *,
    project: Project,
    name: str,
    dataset: str,
    metric: str,
    window_minutes: int,
    op: str,
    threshold: Decimal,
    min_requests: int = 0,
    error_type: str = "",
    path: str = "",
    channel_ids: list[int] | None = None,
) -> AlertRule:
    if AlertRule.objects.filter(project=project, name=name).exists():
        raise AlertsInvalid("name", f"A rule named {name!r} exists in this project.")
    if (error_type or path) and metric != Metric.ERROR_EVENTS:
        raise AlertsInvalid("error_type", "error_type and path narrow only the error_events metric.")
    rule = AlertRule(
        project=project, name=name, dataset=dataset, metric=metric, window_minutes=window_minutes, op=op,
        threshold=threshold, min_requests=min_requests, error_type=error_type, path=path,
    )
    return _alerting_save(rule, kind="rule", channel_ids=channel_ids or [])


def rule_update(
    *,
    rule: AlertRule,
    threshold: Decimal | None = None,
    op: str | None = None,
    window_minutes: int | None = None,
    min_requests: int | None = None,
    channel_ids: list[int] | None = None,
) -> AlertRule:
    """Change a rule's condition; its state stays, and the next evaluation judges the new one."""
    return _alerting_update(
        rule, kind="rule", channel_ids=channel_ids,
        fields={"threshold": threshold, "op": op, "window_minutes": window_minutes, "min_requests": min_requests},
    )


def rule_delete(*, rule: AlertRule) -> None:
    audit_record(project=rule.project, action=AuditAction.ALERTS_CHANGE, target=f"rule {rule.pk}", details={"deleted": rule.name})
    rule.delete()


def _deliver_soon() -> None:
    from tracking.alerts.tasks import deliver_soon

    deliver_soon()


@dataclass(frozen=True)
class _Notice:
    """A notification an evaluation decided on under its budget's or rule's row lock."""

    project: Project
    key: str
    type: str
    text: str
    channels: list[Channel]
    details: dict[str, Any]
    budget: Budget | None = None
    rule: AlertRule | None = None
    threshold: Decimal | None = None
    value: Decimal | None = None


def _events_create(notices: list[_Notice], *, now: datetime) -> int:
    """The events, their outbox rows and audit rows, a few statements for a whole chunk.

    Only a cycle holding the row lock of a budget or rule writes that one's keys, so a key
    found here was written by a cycle that committed before this one got the lock.
    """
    if not notices:
        return 0
    done = set(AlertEvent.objects.filter(key__in=[n.key for n in notices]).values_list("key", flat=True))
    fresh = [n for n in notices if n.key not in done]
    events = AlertEvent.objects.bulk_create([
        AlertEvent(
            project=n.project, key=n.key, type=n.type, text=n.text[:500], budget=n.budget, rule=n.rule,
            threshold=n.threshold, value=n.value, details=n.details,
        )
        for n in fresh
    ])
    Delivery.objects.bulk_create([
        Delivery(event=event, channel=channel, next_attempt_at=now)
        for event, notice in zip(events, fresh, strict=True)
        for channel in notice.channels
    ])
    audit_record_many(entries=[
        AuditEntry(project=n.project, action=AuditAction.ALERTS_EVENT, target=n.key, details={"type": n.type, "text": n.text[:200]})
        for n in fresh
    ])
    if any(n.channels for n in fresh):
        transaction.on_commit(_deliver_soon)
    return len(fresh)


def _money(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value.quantize(Decimal('0.01'))}"


def _budget_details(budget: Budget, status: BudgetStatus) -> dict[str, Any]:
    return {
        "budget": {"id": budget.pk, "name": budget.name, "dataset": budget.dataset, "period": budget.period},
        "spent_usd": str(status.spent_usd),
        "amount_usd": str(budget.amount_usd),
        "percent": str(status.percent),
        "forecast_usd": str(status.forecast_usd),
        "period_start": status.period.start.isoformat(),
    }


def _budget_changes(budget: Budget, status: BudgetStatus) -> bool:
    """Whether the budget has something to notify or re-arm, judged without a lock."""
    rolling = budget.period == Period.ROLLING
    state_crossed = budget.crossed if budget.period_key == status.period.key else []
    forecast_over = budget.forecast and status.forecast_usd > budget.amount_usd
    forecast_done = budget.forecast_notified and budget.period_key == status.period.key
    changes = set(status.crossed) != set(state_crossed) if rolling else bool(set(status.crossed) - set(state_crossed))
    changes = changes or (forecast_over and not forecast_done)
    return changes or (rolling and forecast_done and not forecast_over)


def _budget_notices(locked: Budget, budget: Budget, status: BudgetStatus) -> list[_Notice]:
    """Thresholds newly crossed (and the forecast) in this period, judged on the locked row,
    whose state this moves on."""
    rolling = budget.period == Period.ROLLING
    forecast_over = budget.forecast and status.forecast_usd > budget.amount_usd
    if locked.period_key != status.period.key:
        locked.period_key, locked.crossed, locked.forecast_notified = status.period.key, [], False
    if rolling and set(locked.crossed) - set(status.crossed):
        # Spend fell back below a threshold as the window moved: it may notify again.
        locked.crossed = [t for t in locked.crossed if t in status.crossed]
        locked.rearmed += 1
    if rolling and locked.forecast_notified and not forecast_over:
        locked.forecast_notified = False
        locked.rearmed += 1
    channels = list(budget.channels.all())
    details = _budget_details(budget, status)
    span = {"day": "today", "month": "this month"}.get(budget.period, f"in the last {budget.rolling_days} days")
    notices = [
        _Notice(
            project=budget.project, key=f"budget:{budget.pk}:{locked.period_key}:{locked.rearmed}:{threshold}",
            type=EventType.BUDGET_THRESHOLD, budget=budget, threshold=Decimal(threshold), value=status.spent_usd,
            channels=channels, details=details | {"threshold": threshold},
            text=(
                f"[{budget.project.slug}] Budget '{budget.name}' crossed {threshold}%: "
                f"${_money(status.spent_usd)} of ${_money(budget.amount_usd)} spent {span}."
            ),
        )
        for threshold in sorted(set(status.crossed) - set(locked.crossed))
    ]
    if forecast_over and not locked.forecast_notified:
        notices.append(_Notice(
            project=budget.project, key=f"budget:{budget.pk}:{locked.period_key}:{locked.rearmed}:forecast",
            type=EventType.BUDGET_FORECAST, budget=budget, threshold=Decimal(100), value=status.forecast_usd,
            channels=channels, details=details | {"threshold": 100},
            text=(
                f"[{budget.project.slug}] Budget '{budget.name}' is forecast to reach ${_money(status.forecast_usd)} "
                f"(budget ${_money(budget.amount_usd)}); ${_money(status.spent_usd)} spent so far."
            ),
        ))
        locked.forecast_notified = True
    locked.crossed = sorted(set(locked.crossed) | set(status.crossed))
    return notices


def _rule_number(rule: AlertRule, value: Decimal) -> Any:
    """Rates and latencies travel as JSON numbers, money as decimal strings (the contract)."""
    return f"{value.normalize():f}" if rule.metric in MONEY_METRICS else float(value)


def _rule_wanted(rule: AlertRule, measured: RuleValue) -> str | None:
    """The state the measurement calls for; None below the minimum volume (the state holds)."""
    if measured.value is None:
        return None
    breached = measured.value > rule.threshold if rule.op == Comparator.ABOVE else measured.value < rule.threshold
    return RuleState.FIRING if breached else RuleState.OK


def _rule_notices(locked: AlertRule, rule: AlertRule, measured: RuleValue, now: datetime) -> list[_Notice]:
    wanted, value = _rule_wanted(rule, measured), measured.value
    if wanted is None or value is None or locked.state == wanted:
        return []
    if wanted == RuleState.FIRING:
        locked.episode += 1
    locked.state, locked.state_since = wanted, now
    rule.state, rule.episode = locked.state, locked.episode
    firing = wanted == RuleState.FIRING
    word = "firing" if firing else "resolved"
    comparison = f"{rule.op} {_rule_number(rule, rule.threshold)}" if firing else f"back {'below' if rule.op == '>' else 'above'} {_rule_number(rule, rule.threshold)}"
    return [_Notice(
        project=rule.project, key=f"rule:{rule.pk}:{locked.episode}:{word}",
        type=EventType.ALERT_FIRING if firing else EventType.ALERT_RESOLVED, rule=rule,
        threshold=rule.threshold, value=value, channels=list(rule.channels.all()),
        details={
            "threshold": _rule_number(rule, rule.threshold),
            "rule": {"id": rule.pk, "name": rule.name, "dataset": rule.dataset, "metric": rule.metric,
                     "op": rule.op, "window_minutes": rule.window_minutes},
            "value": _rule_number(rule, value),
            "requests": measured.requests,
        },
        text=(
            f"[{rule.project.slug}] {'FIRING' if firing else 'RESOLVED'}: {rule.name}: {rule.metric} is "
            f"{_rule_number(rule, value)} ({comparison}) over {rule.window_minutes} min."
        ),
    )]


def _channels_held(notices: list[_Notice]) -> list[_Notice]:
    """Keep the channels that still exist, held with FOR KEY SHARE until the chunk commits.

    Channels were read before the chunk's lock; one deleted meanwhile would fail the outbox's
    foreign key at COMMIT and abort the rest of the cycle, so its deliveries are dropped instead.
    """
    wanted = {channel.pk for notice in notices for channel in notice.channels}
    if not wanted:
        return notices
    held = db.channels_key_share(ids=sorted(wanted))
    if held == wanted:
        return notices
    return [replace(notice, channels=[c for c in notice.channels if c.pk in held]) for notice in notices]


def _apply_locked(
    items: list[_Alerting],
    decide: Callable[[_Alerting, _Alerting], list[_Notice]],
    *,
    write: Callable[[list[_Alerting]], None],
    now: datetime,
) -> int:
    """Lock the budgets or rules that have something to change, let ``decide`` move each locked
    row's state on and name its notifications, and write states, events, outbox and audit rows
    together; returns the events made.

    One transaction and a handful of statements per chunk, not per notification. Rows are
    locked in id order, so racing cycles cannot deadlock; a row deleted meanwhile is skipped.
    """
    made = 0
    for start in range(0, len(items), STATE_CHUNK):
        chunk = items[start : start + STATE_CHUNK]
        model = type(chunk[0])
        with transaction.atomic():
            locked = {row.pk: row for row in model.objects.select_for_update().filter(pk__in=[i.pk for i in chunk]).order_by("pk")}
            notices = _channels_held([notice for item in chunk if item.pk in locked for notice in decide(locked[item.pk], item)])
            write(list(locked.values()))
            made += _events_create(notices, now=now)
    return made


def _budgets_apply(budgets: list[Budget], statuses: dict[int, BudgetStatus], now: datetime) -> int:
    return _apply_locked(
        [b for b in budgets if _budget_changes(b, statuses[b.pk])],
        lambda locked, budget: _budget_notices(locked, budget, statuses[budget.pk]),
        write=lambda rows: db.budget_state_write(
            ids=[b.pk for b in rows], period_keys=[b.period_key for b in rows], crossed=[b.crossed for b in rows],
            forecast_notified=[b.forecast_notified for b in rows], rearmed=[b.rearmed for b in rows],
        ),
        now=now,
    )


def _rules_apply(rules: list[AlertRule], values: dict[int, RuleValue], now: datetime) -> int:
    return _apply_locked(
        [r for r in rules if _rule_wanted(r, values[r.pk]) not in (None, r.state)],
        lambda locked, rule: _rule_notices(locked, rule, values[rule.pk], now),
        write=lambda rows: db.rule_state_write(
            ids=[r.pk for r in rows], states=[r.state for r in rows], episodes=[r.episode for r in rows],
            since=[r.state_since for r in rows],
        ),
        now=now,
    )


@dataclass
class Evaluation:
    budgets: int = 0
    rules: int = 0
    events: int = 0
    seconds: float = 0.0
    statuses: dict[int, BudgetStatus] = field(default_factory=dict)


def alerts_evaluate(*, now: datetime | None = None) -> Evaluation:
    """One cycle over every budget and rule. Idempotent: rerun at once, it notifies nothing."""
    started = timezone.now()
    now = now or started
    result = Evaluation()
    budgets = list(Budget.objects.select_related("project").prefetch_related("channels"))
    statuses = budget_measure_many(budgets=budgets, now=now)
    result.events += _budgets_apply(budgets, statuses, now)
    # The status cache and quiet period turnovers; notified thresholds change under the lock above.
    db.budget_status_cache_write(
        ids=[b.pk for b in budgets],
        period_keys=[statuses[b.pk].period.key for b in budgets],
        spent=[statuses[b.pk].spent_usd for b in budgets],
        forecast=[statuses[b.pk].forecast_usd for b in budgets],
        evaluated_at=now,
    )
    rules = list(AlertRule.objects.select_related("project").prefetch_related("channels"))
    values = rule_measure_many(rules=rules, now=now)
    result.events += _rules_apply(rules, values, now)
    db.rule_value_cache_write(ids=[r.pk for r in rules], values=[values[r.pk].value for r in rules], evaluated_at=now)
    result.budgets, result.rules, result.statuses = len(budgets), len(rules), statuses
    result.seconds = (timezone.now() - started).total_seconds()
    return result


MAX_RETRY_DELAY = timedelta(hours=1)


def delivery_body(*, delivery: Delivery) -> bytes:
    """The webhook JSON: the same bytes on every attempt, so its id and content never drift."""
    event = delivery.event
    payload = {
        "type": event.type,
        "project": event.project.slug,
        "id": str(delivery.id),
        "text": event.text,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        **event.details,
    }
    return orjson.dumps(payload)


def _send(delivery: Delivery) -> SendOutcome:
    channel = delivery.channel
    if channel.kind == ChannelKind.WEBHOOK:
        return webhook_send(url=channel.url, secret=channel.secret, body=delivery_body(delivery=delivery), delivery_id=str(delivery.id))
    event = delivery.event
    body = f"{event.text}\n\nDelivery id: {delivery.id}\nDetails: {orjson.dumps(event.details, option=orjson.OPT_INDENT_2).decode()}\n"
    return email_send(to=list(channel.to), subject=event.text[:200], body=body, delivery_id=str(delivery.id))


def delivery_send_one(*, now: datetime | None = None) -> Delivery | None:
    """Send the next due delivery, if any, holding its row lock for the whole attempt.

    Two workers never send one delivery at once (the second skips the locked row), and the
    row becomes "sent" in the transaction that follows a successful send. A worker killed
    between the receiver's answer and that commit leaves the row pending, so it is sent
    again with the same delivery id: the one duplicate receivers must drop (docs/alerts.md).
    """
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event__project", "channel")
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .first()
        )
        if delivery is None:
            return None
        started = timezone.now()
        clock = time.monotonic()
        outcome = _send(delivery)
        DeliveryAttempt.objects.create(
            delivery=delivery, started_at=started, duration_ms=int((time.monotonic() - clock) * 1000),
            ok=outcome.ok, status_code=outcome.status_code, error=outcome.error[:500],
        )
        delivery.attempts += 1
        if outcome.ok:
            delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, timezone.now(), ""
        else:
            delivery.last_error = outcome.error[:500] or f"HTTP {outcome.status_code}"
            delay = min(timedelta(seconds=alerts_settings.DELIVERY_RETRY_SECONDS * 2 ** (delivery.attempts - 1)), MAX_RETRY_DELAY)
            give_up_at = delivery.event.created_at + timedelta(seconds=alerts_settings.DELIVERY_GIVE_UP_SECONDS)
            if timezone.now() + delay > give_up_at:
                delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = timezone.now() + delay
        delivery.save(update_fields=["attempts", "status", "sent_at", "last_error", "next_attempt_at"])
    return delivery


def delivery_send_due(*, limit: int = 200, seconds: float = 30.0) -> int:
    """Send due deliveries until none is left, ``limit`` were tried or ``seconds`` passed."""
    deadline = time.monotonic() + seconds
    tried = 0
    while tried < limit and time.monotonic() < deadline:
        if delivery_send_one() is None:
            break
        tried += 1
    return tried
