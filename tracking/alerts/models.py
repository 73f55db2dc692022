"""Budgets, alert rules, channels, and the outbox that delivers their notifications.

A notification starts as an ``AlertEvent`` with a unique ``key`` (budget or rule, period or
episode, threshold or state), written in the same transaction as one ``Delivery`` per
channel: an evaluation killed half-way leaves neither. Deliveries are the outbox; their id
is the delivery id receivers deduplicate on (docs/alerts.md).
"""

import uuid
from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from projects.models import Project

MIN_WINDOW_MINUTES = 5
MAX_WINDOW_MINUTES = 24 * 60
MAX_ROLLING_DAYS = 90
DEFAULT_THRESHOLDS = [50, 80, 100]


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    EMAIL = "email", "E-mail"


class Channel(models.Model):
    """Where notifications go: a signed webhook (URL and generated secret) or e-mail addresses."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField(max_length=8, choices=ChannelKind.choices)
    name = models.CharField(max_length=100, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    secret = models.CharField(max_length=64, blank=True)
    to = ArrayField(models.EmailField(max_length=254), size=20, default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=ChannelKind.WEBHOOK) & ~Q(url="") & ~Q(secret=""))
                | (Q(kind=ChannelKind.EMAIL) & Q(to__len__gte=1)),
                name="alert_channel_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        target = self.url if self.kind == ChannelKind.WEBHOOK else ", ".join(self.to)
        return f"{self.kind} {target}"


class Period(models.TextChoices):
    DAY = "day", "Calendar day (UTC)"
    MONTH = "month", "Calendar month (UTC)"
    ROLLING = "rolling", "Rolling days"


class Budget(models.Model):
    """An amount in USD a project means to spend per period, over one dataset's cost or AI cost.

    With ``model`` set the budget counts AI cost (``ai-usage`` points of that model); else
    cost points, narrowed by ``cost_project`` (blob1) and ``cost_type`` (blob2) when set.
    The fields after ``channels`` are written by evaluation only: ``crossed`` holds the
    thresholds already notified in the period ``period_key``.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="budgets")
    name = models.CharField(max_length=100)
    dataset = models.CharField(max_length=64)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    rolling_days = models.PositiveSmallIntegerField(null=True, blank=True)
    amount_usd = models.DecimalField(max_digits=18, decimal_places=6, validators=[MinValueValidator(Decimal("0.000001"))])
    thresholds = ArrayField(models.PositiveSmallIntegerField(), size=10, default=list)
    forecast = models.BooleanField(default=False, help_text="Notify when the projected period spend exceeds the amount.")
    cost_type = models.CharField(max_length=200, blank=True)
    cost_project = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    channels = models.ManyToManyField(Channel, blank=True, related_name="budgets")
    created_at = models.DateTimeField(auto_now_add=True)

    period_key = models.CharField(max_length=32, blank=True)
    crossed = ArrayField(models.PositiveSmallIntegerField(), size=10, default=list, blank=True)
    forecast_notified = models.BooleanField(default=False)
    rearmed = models.PositiveIntegerField(default=0)
    spent_usd = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    forecast_usd = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="budget_unique_name_per_project"),
            models.CheckConstraint(condition=Q(period__in=Period.values), name="budget_period_valid"),
            models.CheckConstraint(
                condition=(Q(period=Period.ROLLING) & Q(rolling_days__gte=1) & Q(rolling_days__lte=MAX_ROLLING_DAYS))
                | (~Q(period=Period.ROLLING) & Q(rolling_days__isnull=True)),
                name="budget_rolling_days_valid",
            ),
            models.CheckConstraint(condition=Q(amount_usd__gt=0), name="budget_amount_positive"),
            models.CheckConstraint(condition=Q(thresholds__len__gte=1), name="budget_has_thresholds"),
        ]

    def __str__(self) -> str:
        return f"{self.project} budget {self.name}"


class Metric(models.TextChoices):
    RATE_5XX = "5xx_rate", "5xx rate"
    RATE_4XX = "4xx_rate", "4xx rate"
    ERROR_EVENTS = "error_events", "Error events"
    P95 = "p95_ms", "p95 latency (ms)"
    P99 = "p99_ms", "p99 latency (ms)"
    REQUESTS = "requests", "Requests"
    AI_TOKENS = "ai_tokens", "AI tokens"
    AI_COST = "ai_cost_usd", "AI cost (USD)"
    COST = "cost_usd", "Cost (USD)"


class Comparator(models.TextChoices):
    ABOVE = ">", "above"
    BELOW = "<", "below"


class RuleState(models.TextChoices):
    OK = "ok", "OK"
    FIRING = "firing", "Firing"


class AlertRule(models.Model):
    """A condition on one dataset over a trailing window, with an ok → firing → ok state machine.

    ``episode`` counts firings; it is part of the event keys, so each firing and its resolve
    are notified exactly once.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=100)
    dataset = models.CharField(max_length=64)
    metric = models.CharField(max_length=16, choices=Metric.choices)
    window_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(MIN_WINDOW_MINUTES), MaxValueValidator(MAX_WINDOW_MINUTES)]
    )
    op = models.CharField(max_length=1, choices=Comparator.choices, default=Comparator.ABOVE)
    threshold = models.DecimalField(max_digits=24, decimal_places=6)
    min_requests = models.PositiveIntegerField(default=0)
    error_type = models.CharField(max_length=200, blank=True)
    path = models.CharField(max_length=500, blank=True)
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    created_at = models.DateTimeField(auto_now_add=True)

    state = models.CharField(max_length=8, choices=RuleState.choices, default=RuleState.OK)
    episode = models.PositiveIntegerField(default=0)
    state_since = models.DateTimeField(null=True, blank=True)
    last_value = models.DecimalField(max_digits=30, decimal_places=9, null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="alert_rule_unique_name_per_project"),
            models.CheckConstraint(condition=Q(metric__in=Metric.values), name="alert_rule_metric_valid"),
            models.CheckConstraint(condition=Q(op__in=Comparator.values), name="alert_rule_op_valid"),
            models.CheckConstraint(condition=Q(state__in=RuleState.values), name="alert_rule_state_valid"),
            models.CheckConstraint(
                condition=Q(window_minutes__gte=MIN_WINDOW_MINUTES) & Q(window_minutes__lte=MAX_WINDOW_MINUTES),
                name="alert_rule_window_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} rule {self.name}"


class EventType(models.TextChoices):
    BUDGET_THRESHOLD = "budget.threshold", "Budget threshold crossed"
    BUDGET_FORECAST = "budget.forecast", "Budget forecast exceeded"
    ALERT_FIRING = "alert.firing", "Alert firing"
    ALERT_RESOLVED = "alert.resolved", "Alert resolved"
    CHANNEL_TEST = "channel.test", "Channel test"


class AlertEvent(models.Model):
    """One notification-worthy fact; ``key`` makes it happen at most once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_events")
    key = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=16, choices=EventType.choices)
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    threshold = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    value = models.DecimalField(max_digits=30, decimal_places=9, null=True, blank=True)
    text = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="alert_event_project_time")]
        constraints = [models.CheckConstraint(condition=Q(type__in=EventType.values), name="alert_event_type_valid")]

    def __str__(self) -> str:
        return self.text


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Gave up"


class Delivery(models.Model):
    """The outbox: one event to one channel. Its id is the delivery id, stable across retries."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="delivery_unique_event_channel"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status=DeliveryStatus.PENDING), name="delivery_pending_due"
            )
        ]

    def __str__(self) -> str:
        return f"delivery {self.id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id} at {self.started_at:%H:%M:%S} ({'ok' if self.ok else self.error})"
