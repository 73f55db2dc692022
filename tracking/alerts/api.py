"""The budgets and alerts API: an admin key (or an owner's or admin's session) manages them;
``GET /api/v1/budgets/status`` answers services holding a read key from evaluation's cache."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from django.db import IntegrityError
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from meauxcloud.api import ApiProblem, StrictJSONParser
from projects.api import ProjectAPIView
from projects.models import Scope
from tracking.alerts import selectors, services
from tracking.alerts.delivery import UrlRefused
from tracking.alerts.models import (
    DEFAULT_THRESHOLDS,
    MAX_ROLLING_DAYS,
    MAX_WINDOW_MINUTES,
    MIN_WINDOW_MINUTES,
    AlertEvent,
    AlertRule,
    Budget,
    Channel,
    ChannelKind,
    Comparator,
    Metric,
    Period,
)
from tracking.models import DATASET_NAME_PATTERN

MAX_MONEY = Decimal("1000000000000")
MONEY = Decimal("0.000001")


class _AdminView(ProjectAPIView):
    required_scope = Scope.ADMIN
    parser_classes = [StrictJSONParser]

    def invalid(self, error: services.AlertsInvalid | UrlRefused) -> ApiProblem:
        return ApiProblem(status_code=400, code="invalid", detail=f"{error.field}: {error}", errors={error.field: [str(error)]})


_Found = TypeVar("_Found")


def _not_found(what: str) -> ApiProblem:
    return ApiProblem(status_code=404, code="not_found", detail=f"No such {what} in this project.")


def _found(found: _Found | None, what: str) -> _Found:
    """What a selector found in the project, or a 404 problem naming what was missing."""
    if found is None:
        raise _not_found(what)
    return found


class ChannelInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    name = serializers.CharField(max_length=100, required=False, default="")
    url = serializers.URLField(max_length=2000, required=False, default="")
    to = serializers.ListField(child=serializers.EmailField(max_length=254), max_length=20, required=False, default=list)


class ChannelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField()
    to = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class ChannelCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    secret = serializers.CharField(required=False, help_text="Webhooks only; shown once. Signs every delivery.")


class ChannelListApi(_AdminView):
    @extend_schema(responses=ChannelOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ChannelOutputSerializer(selectors.channel_list(project=self.project), many=True).data)

    @extend_schema(request=ChannelInputSerializer, responses={201: ChannelCreatedSerializer})
    def post(self, request: Request) -> Response:
        body = ChannelInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            channel = services.channel_create(project=self.project, **body.validated_data)
        except (services.AlertsInvalid, UrlRefused) as error:
            raise self.invalid(error) from error
        created: dict[str, Any] = {"id": channel.pk}
        if channel.kind == ChannelKind.WEBHOOK:
            created["secret"] = channel.secret
        return Response(created, status=status.HTTP_201_CREATED)


class ChannelDetailApi(_AdminView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, channel_id: int) -> Response:
        channel = _found(selectors.channel_get(project=self.project, channel_id=channel_id), "channel")
        services.channel_delete(channel=channel)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()


class ChannelTestApi(_AdminView):
    @extend_schema(request=None, responses={202: DeliveryRefSerializer})
    def post(self, request: Request, channel_id: int) -> Response:
        channel = _found(selectors.channel_get(project=self.project, channel_id=channel_id), "channel")
        delivery = services.channel_test(channel=channel)
        return Response({"id": str(delivery.id)}, status=status.HTTP_202_ACCEPTED)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": ["month", "day"]},
            {
                "type": "object",
                "properties": {"rolling_days": {"type": "integer", "minimum": 1, "maximum": MAX_ROLLING_DAYS}},
                "required": ["rolling_days"],
                "additionalProperties": False,
            },
        ]
    }
)
class PeriodField(serializers.Field):
    """``"month"``, ``"day"`` or ``{"rolling_days": N}``."""

    def to_internal_value(self, data: object) -> tuple[str, int | None]:
        if data in (Period.MONTH, Period.DAY):
            return str(data), None
        if isinstance(data, dict) and set(data) == {"rolling_days"}:
            days = data["rolling_days"]
            if isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= MAX_ROLLING_DAYS:
                return Period.ROLLING, days
            raise serializers.ValidationError(f"rolling_days must be an integer from 1 to {MAX_ROLLING_DAYS}.")
        raise serializers.ValidationError('Must be "month", "day" or {"rolling_days": N}.')

    def to_representation(self, value: Budget) -> object:
        return {"rolling_days": value.rolling_days} if value.period == Period.ROLLING else value.period


class FiltersSerializer(serializers.Serializer):
    cost_type = serializers.CharField(max_length=200, required=False, default="")
    project_id = serializers.CharField(max_length=200, required=False, default="", help_text="blob1 of cost points.")
    model = serializers.CharField(max_length=200, required=False, default="", help_text="AI cost of this model.")


class BudgetInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    dataset = serializers.RegexField(DATASET_NAME_PATTERN, max_length=64)
    period = PeriodField()
    amount_usd = serializers.DecimalField(max_digits=18, decimal_places=6, min_value=Decimal("0.000001"), max_value=MAX_MONEY)
    thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000), min_length=1, max_length=10, default=DEFAULT_THRESHOLDS
    )
    forecast = serializers.BooleanField(default=False)
    filters = FiltersSerializer(required=False)
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=20, default=list)


class BudgetOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    dataset = serializers.CharField()
    period = PeriodField(source="*")
    amount_usd = serializers.DecimalField(max_digits=18, decimal_places=6)
    thresholds = serializers.ListField(child=serializers.IntegerField())
    forecast = serializers.BooleanField()
    filters = serializers.SerializerMethodField()
    channels = serializers.SerializerMethodField()
    spent_usd = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)
    forecast_usd = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)
    evaluated_at = serializers.DateTimeField(allow_null=True)

    def get_filters(self, budget: Budget) -> dict[str, str]:
        return {"cost_type": budget.cost_type, "project_id": budget.cost_project, "model": budget.model}

    def get_channels(self, budget: Budget) -> list[int]:
        return sorted(channel.pk for channel in budget.channels.all())


class CreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()


class BudgetListApi(_AdminView):
    @extend_schema(responses=BudgetOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(BudgetOutputSerializer(selectors.budget_list(project=self.project), many=True).data)

    @extend_schema(request=BudgetInputSerializer, responses={201: CreatedSerializer})
    def post(self, request: Request) -> Response:
        body = BudgetInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        period, rolling_days = data["period"]
        filters = data.get("filters") or {}
        try:
            budget = services.budget_create(
                project=self.project, name=data["name"], dataset=data["dataset"], period=period,
                rolling_days=rolling_days, amount_usd=data["amount_usd"], thresholds=data["thresholds"],
                forecast=data["forecast"], cost_type=filters.get("cost_type", ""),
                cost_project=filters.get("project_id", ""), model=filters.get("model", ""),
                channel_ids=data["channels"],
            )
        except services.AlertsInvalid as error:
            raise self.invalid(error) from error
        except IntegrityError as error:
            raise ApiProblem(status_code=409, code="conflict", detail="A budget with this name exists.") from error
        return Response({"id": budget.pk}, status=status.HTTP_201_CREATED)


class BudgetUpdateSerializer(serializers.Serializer):
    amount_usd = serializers.DecimalField(
        max_digits=18, decimal_places=6, min_value=Decimal("0.000001"), max_value=MAX_MONEY, required=False
    )
    thresholds = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=1000), min_length=1, max_length=10, required=False)
    forecast = serializers.BooleanField(required=False)
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=20, required=False)


class BudgetDetailApi(_AdminView):
    @extend_schema(responses=BudgetOutputSerializer)
    def get(self, request: Request, budget_id: int) -> Response:
        budget = _found(selectors.budget_get(project=self.project, budget_id=budget_id), "budget")
        return Response(BudgetOutputSerializer(budget).data)

    @extend_schema(request=BudgetUpdateSerializer, responses=BudgetOutputSerializer)
    def patch(self, request: Request, budget_id: int) -> Response:
        budget = _found(selectors.budget_get(project=self.project, budget_id=budget_id), "budget")
        body = BudgetUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        try:
            budget = services.budget_update(budget=budget, channel_ids=data.pop("channels", None), **data)
        except services.AlertsInvalid as error:
            raise self.invalid(error) from error
        return Response(BudgetOutputSerializer(selectors.budget_get(project=self.project, budget_id=budget.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, budget_id: int) -> Response:
        budget = _found(selectors.budget_get(project=self.project, budget_id=budget_id), "budget")
        services.budget_delete(budget=budget)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BudgetStatusSerializer(serializers.Serializer):
    spent_usd = serializers.CharField()
    remaining_usd = serializers.CharField()
    amount_usd = serializers.CharField()
    percent = serializers.FloatField()
    forecast_usd = serializers.CharField()
    crossed = serializers.ListField(child=serializers.IntegerField())
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()


class BudgetStatusApi(_AdminView):
    """Measured now from the rollups, exact to the last stored point."""

    @extend_schema(responses=BudgetStatusSerializer)
    def get(self, request: Request, budget_id: int) -> Response:
        budget = _found(selectors.budget_get(project=self.project, budget_id=budget_id), "budget")
        budget.project = self.project
        measured = selectors.budget_measure_many(budgets=[budget], now=timezone.now())[budget.pk]
        return Response(
            {
                "spent_usd": str(measured.spent_usd),
                "remaining_usd": str(measured.remaining_usd),
                "amount_usd": str(budget.amount_usd),
                "percent": float(measured.percent),
                "forecast_usd": str(measured.forecast_usd),
                "crossed": measured.crossed,
                "period_start": measured.period.start.isoformat(),
                "period_end": measured.period.end.isoformat(),
            }
        )


class CachedStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    amount_usd = serializers.CharField()
    spent_usd = serializers.CharField(allow_null=True)
    remaining_usd = serializers.CharField(allow_null=True)
    exhausted = serializers.BooleanField()
    forecast_usd = serializers.CharField(allow_null=True)
    evaluated_at = serializers.DateTimeField(allow_null=True)


class CachedStatusListSerializer(serializers.Serializer):
    budgets = CachedStatusSerializer(many=True)


class CachedStatusInputSerializer(serializers.Serializer):
    scope = serializers.CharField(max_length=100, required=False, help_text="A budget's name; all budgets when absent.")


class BudgetCachedStatusApi(ProjectAPIView):
    """``GET /api/v1/budgets/status?scope=<budget name>`` with a read key: one indexed read of
    what the last evaluation found, so a service can ask before every expensive call."""

    required_scope = Scope.READ

    @extend_schema(operation_id="budgets_cached_status", parameters=[CachedStatusInputSerializer], responses=CachedStatusListSerializer)
    def get(self, request: Request) -> Response:
        query = CachedStatusInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        budgets = Budget.objects.filter(project=self.project).only(
            "name", "amount_usd", "spent_usd", "forecast_usd", "evaluated_at"
        )
        scope = query.validated_data.get("scope")
        if scope is not None:
            budgets = budgets.filter(name=scope)
        rows = [
            {
                "name": b.name,
                "amount_usd": str(b.amount_usd),
                "spent_usd": None if b.spent_usd is None else str(b.spent_usd),
                "remaining_usd": None if b.spent_usd is None else str(max(b.amount_usd - b.spent_usd, Decimal(0)).quantize(MONEY)),
                "exhausted": b.spent_usd is not None and b.spent_usd >= b.amount_usd,
                "forecast_usd": None if b.forecast_usd is None else str(b.forecast_usd),
                "evaluated_at": b.evaluated_at,
            }
            for b in budgets
        ]
        if scope is not None and not rows:
            raise _not_found("budget")
        return Response(CachedStatusListSerializer({"budgets": rows}).data)


class RuleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    dataset = serializers.RegexField(DATASET_NAME_PATTERN, max_length=64)
    metric = serializers.ChoiceField(choices=Metric.choices)
    window_minutes = serializers.IntegerField(min_value=MIN_WINDOW_MINUTES, max_value=MAX_WINDOW_MINUTES)
    op = serializers.ChoiceField(choices=Comparator.choices, default=Comparator.ABOVE)
    threshold = serializers.DecimalField(max_digits=24, decimal_places=6, min_value=Decimal(0), max_value=MAX_MONEY)
    min_requests = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    error_type = serializers.CharField(max_length=200, required=False, default="")
    path = serializers.CharField(max_length=500, required=False, default="")
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=20, default=list)


class RuleOutputSerializer(serializers.ModelSerializer):
    channels: serializers.PrimaryKeyRelatedField[Channel] = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = AlertRule
        fields = [
            "id", "name", "dataset", "metric", "window_minutes", "op", "threshold", "min_requests", "error_type",
            "path", "channels", "state", "state_since", "last_value", "evaluated_at",
        ]


class RuleListApi(_AdminView):
    @extend_schema(responses=RuleOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RuleOutputSerializer(selectors.rule_list(project=self.project), many=True).data)

    @extend_schema(request=RuleInputSerializer, responses={201: CreatedSerializer})
    def post(self, request: Request) -> Response:
        body = RuleInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        channel_ids = data.pop("channels")
        try:
            rule = services.rule_create(project=self.project, channel_ids=channel_ids, **data)
        except services.AlertsInvalid as error:
            raise self.invalid(error) from error
        except IntegrityError as error:
            raise ApiProblem(status_code=409, code="conflict", detail="A rule with this name exists.") from error
        return Response({"id": rule.pk}, status=status.HTTP_201_CREATED)


class RuleUpdateSerializer(serializers.Serializer):
    threshold = serializers.DecimalField(max_digits=24, decimal_places=6, min_value=Decimal(0), max_value=MAX_MONEY, required=False)
    op = serializers.ChoiceField(choices=Comparator.choices, required=False)
    window_minutes = serializers.IntegerField(min_value=MIN_WINDOW_MINUTES, max_value=MAX_WINDOW_MINUTES, required=False)
    min_requests = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=20, required=False)


class RuleDetailApi(_AdminView):
    @extend_schema(responses=RuleOutputSerializer)
    def get(self, request: Request, rule_id: int) -> Response:
        rule = _found(selectors.rule_get(project=self.project, rule_id=rule_id), "rule")
        return Response(RuleOutputSerializer(rule).data)

    @extend_schema(request=RuleUpdateSerializer, responses=RuleOutputSerializer)
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = _found(selectors.rule_get(project=self.project, rule_id=rule_id), "rule")
        body = RuleUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        try:
            rule = services.rule_update(rule=rule, channel_ids=data.pop("channels", None), **data)
        except services.AlertsInvalid as error:
            raise self.invalid(error) from error
        return Response(RuleOutputSerializer(selectors.rule_get(project=self.project, rule_id=rule.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, rule_id: int) -> Response:
        rule = _found(selectors.rule_get(project=self.project, rule_id=rule_id), "rule")
        services.rule_delete(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    channel = serializers.IntegerField(source="channel_id")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField()


class EventOutputSerializer(serializers.ModelSerializer):
    deliveries = DeliveryOutputSerializer(many=True, read_only=True)

    class Meta:
        model = AlertEvent
        fields = ["id", "key", "type", "budget", "rule", "threshold", "value", "text", "details", "created_at", "deliveries"]


class EventListApi(_AdminView):
    """The latest 100 firings, resolves and tests, each with its deliveries and their attempts."""

    @extend_schema(responses=EventOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(EventOutputSerializer(selectors.event_list(project=self.project), many=True).data)


