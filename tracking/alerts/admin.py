"""Staff see every project's budgets, rules, channels, notifications and deliveries.

Read-only: changes go through the API or the project's pages, whose services validate them,
keep the audit log and never let a hand edit break the exactly-once state."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tracking.alerts.models import AlertEvent, AlertRule, Budget, Channel, Delivery, DeliveryAttempt


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Budget)
class BudgetAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "dataset", "period", "amount_usd", "spent_usd", "forecast_usd", "crossed", "evaluated_at"]
    list_filter = ["period"]
    search_fields = ["name", "project__slug", "dataset"]
    list_select_related = ["project"]


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "dataset", "metric", "op", "threshold", "window_minutes", "state", "last_value", "evaluated_at"]
    list_filter = ["metric", "state"]
    search_fields = ["name", "project__slug", "dataset"]
    list_select_related = ["project"]


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "kind", "name", "url", "to", "created_at"]
    list_filter = ["kind"]
    search_fields = ["project__slug", "url", "name"]
    exclude = ["secret"]
    list_select_related = ["project"]


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("id", "channel", "status", "attempts", "next_attempt_at", "sent_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "type", "text"]
    list_filter = ["type"]
    search_fields = ["project__slug", "key", "text"]
    inlines = [DeliveryInline]
    list_select_related = ["project"]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("started_at", "duration_ms", "ok", "status_code", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "channel", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_filter = ["status"]
    search_fields = ["id", "event__project__slug"]
    inlines = [AttemptInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("event__project", "channel")
