"""Reads for budgets and alert rules: what a budget has spent and what a rule measures.

All numbers come from the exact rollups through ``tracking.reports.selectors.rollup_totals``
(never a raw scan of a whole period). Evaluation measures many budgets and rules at once:
those on the same dataset and range share one read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from projects.models import Project
from tracking.alerts.models import AlertEvent, AlertRule, Budget, Channel, Delivery, Metric, Period
from tracking.models import Dataset
from tracking.reports.selectors import percentile_from_bins, rollup_series, rollup_totals, status_class
from tracking.rollups.layout import DAY, HOUR, MINUTE, Kind, floor_to

ZERO = Decimal(0)
MONEY = Decimal("0.000001")
#: Forecasts extrapolate the spend rate of this recent stretch (docs/alerts.md).
RATE_LOOKBACK = {Period.DAY: timedelta(hours=3), Period.MONTH: timedelta(days=7), Period.ROLLING: timedelta(days=7)}
#: A rate is never taken over less than this, so one early point does not project a fortune.
RATE_MIN_ELAPSED = timedelta(hours=1)
#: Points may be stamped up to a day ahead; a period's spend counts them, as reports' "to date" totals do.
FUTURE_EDGE = DAY


@dataclass(frozen=True)
class BudgetPeriod:
    key: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class BudgetStatus:
    period: BudgetPeriod
    spent_usd: Decimal
    amount_usd: Decimal
    forecast_usd: Decimal
    crossed: list[int]

    @property
    def remaining_usd(self) -> Decimal:
        return max(self.amount_usd - self.spent_usd, ZERO).quantize(MONEY)

    @property
    def percent(self) -> Decimal:
        return (self.spent_usd * 100 / self.amount_usd).quantize(Decimal("0.01"))


def _month_start(moment: datetime) -> datetime:
    return floor_to(moment, DAY).replace(day=1)


def budget_period(*, budget: Budget, now: datetime) -> BudgetPeriod:
    """Calendar periods in UTC; a rolling period starts on the hour N days back, so its reads
    come from the hour and day tiers rather than from raw points at a ragged edge."""
    if budget.period == Period.DAY:
        start = floor_to(now, DAY)
        return BudgetPeriod(key=start.date().isoformat(), start=start, end=start + DAY)
    if budget.period == Period.MONTH:
        start = _month_start(now)
        return BudgetPeriod(key=start.strftime("%Y-%m"), start=start, end=_month_start(start + timedelta(days=32)))
    start = floor_to(now - timedelta(days=budget.rolling_days or 1), HOUR)
    return BudgetPeriod(key="rolling", start=start, end=now)


def _budget_spend(budget: Budget, rows: Iterable[tuple[Any, ...]]) -> Decimal:
    """Rows are ``(kind, k1, k2, n, s1, s2, s3)``: cost points keep project id and type in k1/k2
    and the amount in s1; ``ai-usage`` points keep the model in k1 and the cost in s2."""
    total = ZERO
    for kind, k1, k2, _n, s1, s2, _s3 in rows:
        if budget.model:
            if kind == Kind.AI and k1 == budget.model:
                total += s2
        elif kind == Kind.COST and budget.cost_project in ("", k1) and budget.cost_type in ("", k2):
            total += s1
    return total


class _Totals:
    """Memoised cost and AI rows per (dataset, range) for one evaluation."""

    def __init__(self, *, now: datetime) -> None:
        self.now = now
        self.cache: dict[tuple[int, datetime, datetime], list[tuple[Any, ...]]] = {}

    def rows(self, dataset: Dataset, project: Project, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
        key = (dataset.id, start, end)
        if key not in self.cache:
            self.cache[key] = rollup_totals(
                project=project, dataset=dataset, start=start, end=end, now=self.now,
                kinds=[Kind.COST, Kind.AI], group_by=["kind", "k1", "k2"],
            )
        return self.cache[key]


def _datasets(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Dataset]:
    pairs = set(pairs)
    found = Dataset.objects.filter(project_id__in={p for p, _ in pairs}, name__in={n for _, n in pairs})
    return {(d.project_id, d.name): d for d in found if (d.project_id, d.name) in pairs}


def budget_measure_many(*, budgets: Sequence[Budget], now: datetime) -> dict[int, BudgetStatus]:
    """The status of each budget now; budgets on one dataset and period share their reads."""
    datasets = _datasets((b.project_id, b.dataset) for b in budgets)
    totals = _Totals(now=now)
    statuses = {}
    for budget in budgets:
        period = budget_period(budget=budget, now=now)
        dataset = datasets.get((budget.project_id, budget.dataset))
        # Whole days to the period's end (or past tomorrow): points stamped ahead count, and
        # the day tier answers instead of raw points at a ragged end.
        measure_end = floor_to(now, DAY) + 2 * DAY if budget.period == Period.ROLLING else period.end
        spent = recent = ZERO
        lookback = RATE_LOOKBACK[Period(budget.period)]
        rate_start = max(period.start, floor_to(now - lookback, HOUR))
        if dataset is not None:
            spent = _budget_spend(budget, totals.rows(dataset, budget.project, period.start, measure_end))
            recent = spent if rate_start == period.start else _budget_spend(
                budget, totals.rows(dataset, budget.project, rate_start, measure_end)
            )
        elapsed = max(now - rate_start, RATE_MIN_ELAPSED).total_seconds()
        rate = recent / Decimal(elapsed)
        if budget.period == Period.ROLLING:
            forecast = rate * Decimal(timedelta(days=budget.rolling_days or 1).total_seconds())
        else:
            forecast = spent + rate * Decimal(max((period.end - now).total_seconds(), 0))
        crossed = sorted(t for t in set(budget.thresholds) if spent * 100 >= t * budget.amount_usd)
        statuses[budget.id] = BudgetStatus(
            period=period,
            spent_usd=spent.quantize(MONEY),
            amount_usd=budget.amount_usd,
            forecast_usd=forecast.quantize(MONEY),
            crossed=crossed,
        )
    return statuses


@dataclass(frozen=True)
class RuleValue:
    """A rule's measure over its window; ``value`` is None when too little traffic to judge."""

    value: Decimal | None
    requests: int


_REQUEST_METRICS = frozenset({Metric.RATE_5XX, Metric.RATE_4XX, Metric.P95, Metric.P99, Metric.REQUESTS, Metric.ERROR_EVENTS})
_OTHER_METRICS = frozenset({Metric.ERROR_EVENTS, Metric.AI_TOKENS, Metric.AI_COST, Metric.COST})
#: Metrics judged only once the window holds ``min_requests`` requests.
VOLUME_GATED = frozenset({Metric.RATE_5XX, Metric.RATE_4XX, Metric.P95, Metric.P99, Metric.ERROR_EVENTS})


def _rule_value(rule: AlertRule, requests_rows: list[tuple[Any, ...]], other_rows: list[tuple[Any, ...]]) -> RuleValue:
    by_class: dict[str, int] = defaultdict(int)
    bins: dict[int, int] = {}
    for kind, k2, n, *_ in requests_rows:
        if kind == Kind.REQUEST:
            by_class[status_class(k2)] += int(n)
        elif kind == Kind.LATENCY_ALL:
            bins[int(k2)] = bins.get(int(k2), 0) + int(n)
    requests = sum(by_class.values())
    if rule.metric in VOLUME_GATED and (requests < rule.min_requests or (requests == 0 and rule.metric != Metric.ERROR_EVENTS)):
        return RuleValue(value=None, requests=requests)
    metric = rule.metric
    if metric in (Metric.RATE_5XX, Metric.RATE_4XX):
        value: Decimal | None = Decimal(by_class[metric[:3]]) / Decimal(requests)
    elif metric in (Metric.P95, Metric.P99):
        percentile = percentile_from_bins(bins, 0.95 if metric == Metric.P95 else 0.99)
        value = None if percentile is None else Decimal(str(percentile))
    elif metric == Metric.REQUESTS:
        value = Decimal(requests)
    else:
        value = ZERO
        for kind, k1, k2, n, s1, s2, _s3 in other_rows:
            if metric == Metric.ERROR_EVENTS and kind == Kind.ERROR and rule.error_type in ("", k1) and rule.path in ("", k2):
                value += n
            elif metric == Metric.AI_TOKENS and kind == Kind.AI:
                value += s1
            elif metric == Metric.AI_COST and kind == Kind.AI:
                value += s2
            elif metric == Metric.COST and kind == Kind.COST:
                value += s1
    return RuleValue(value=value, requests=requests)


def rule_measure_many(*, rules: Sequence[AlertRule], now: datetime) -> dict[int, RuleValue]:
    """Each rule's value over its trailing window; rules on one dataset and window share reads."""
    datasets = _datasets((r.project_id, r.dataset) for r in rules)
    groups: dict[tuple[int, int], list[AlertRule]] = defaultdict(list)
    values: dict[int, RuleValue] = {}
    for rule in rules:
        dataset = datasets.get((rule.project_id, rule.dataset))
        if dataset is None:
            values[rule.id] = _rule_value(rule, [], [])
        else:
            groups[(dataset.id, rule.window_minutes)].append(rule)
    by_id = {d.id: d for d in datasets.values()}
    for (dataset_id, minutes), members in groups.items():
        dataset = by_id[dataset_id]
        # From the minute boundary: minute rollups, plus raw points only for the current minute.
        start = floor_to(now, MINUTE) - timedelta(minutes=minutes)
        metrics = {rule.metric for rule in members}
        project = members[0].project
        requests_rows = (
            rollup_totals(project=project, dataset=dataset, start=start, end=now, now=now, kinds=[Kind.REQUEST, Kind.LATENCY_ALL], group_by=["kind", "k2"])
            if metrics & _REQUEST_METRICS else []
        )
        other_rows = (
            rollup_totals(project=project, dataset=dataset, start=start, end=now, now=now, kinds=[Kind.ERROR, Kind.AI, Kind.COST], group_by=["kind", "k1", "k2"])
            if metrics & _OTHER_METRICS else []
        )
        for rule in members:
            values[rule.id] = _rule_value(rule, requests_rows, other_rows)
    return values


def budget_list(*, project: Project) -> QuerySet[Budget]:
    return Budget.objects.filter(project=project).prefetch_related("channels")


def budget_get(*, project: Project, budget_id: int) -> Budget | None:
    return budget_list(project=project).filter(pk=budget_id).first()


def rule_list(*, project: Project) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(project=project).prefetch_related("channels")


def rule_get(*, project: Project, rule_id: int) -> AlertRule | None:
    return rule_list(project=project).filter(pk=rule_id).first()


def channel_list(*, project: Project) -> QuerySet[Channel]:
    return Channel.objects.filter(project=project)


def channel_get(*, project: Project, channel_id: int) -> Channel | None:
    return channel_list(project=project).filter(pk=channel_id).first()


def event_list(*, project: Project, limit: int = 100) -> list[AlertEvent]:
    return list(AlertEvent.objects.filter(project=project).prefetch_related("deliveries__channel")[:limit])


def delivery_list(*, project: Project, limit: int = 100) -> QuerySet[Delivery]:
    return Delivery.objects.filter(event__project=project).select_related("event", "channel")[:limit]


def budget_chart(*, project: Project, budget: Budget, status: BudgetStatus, now: datetime) -> dict[str, object]:
    """Cumulative spend per bucket (hours for a day budget, days otherwise) against the
    budget line and, from now to the period's end, the forecast line. Chart data in the
    shape the report pages draw (``t`` in epoch seconds, ``lines``)."""
    step = HOUR if budget.period == Period.DAY else DAY
    start = floor_to(status.period.start, step)
    end = status.period.end if budget.period != Period.ROLLING else floor_to(now, DAY) + DAY
    dataset = Dataset.objects.filter(project=project, name=budget.dataset).first()
    per_bucket: dict[datetime, Decimal] = defaultdict(Decimal)
    if dataset is not None:
        for t, *rest in rollup_series(
            project=project, dataset=dataset, start=status.period.start, end=end, step=step, now=now,
            kinds=[Kind.COST, Kind.AI], group_by=["kind", "k1", "k2"],
        ):
            per_bucket[t] += _budget_spend(budget, [tuple(rest)])
    moments, spent, line, forecast = [], [], [], []
    running = ZERO
    moment = start
    while moment < end:
        running += per_bucket.get(moment, ZERO)
        moments.append(int(moment.timestamp()))
        spent.append(float(running) if moment <= now else None)
        line.append(float(budget.amount_usd))
        moment += step
    if moments:
        # The forecast runs straight from the spend now to the projection at the period's end.
        span = max((end - now).total_seconds(), 1.0)
        for t in moments:
            at = datetime.fromtimestamp(t, tz=now.tzinfo) + step
            share = min(max((at - now).total_seconds() / span, 0.0), 1.0)
            forecast.append(float(status.spent_usd + (status.forecast_usd - status.spent_usd) * Decimal(share)) if at >= now else None)
    return {"t": moments, "lines": {"spent": spent, "budget": line, "forecast": forecast}, "unit": "USD"}
