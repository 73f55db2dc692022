from django.urls import path

from tracking.alerts import api

urlpatterns = [
    path("api/v1/budgets", api.BudgetListApi.as_view(), name="budget-list"),
    path("api/v1/budgets/status", api.BudgetCachedStatusApi.as_view(), name="budget-cached-status"),
    path("api/v1/budgets/<int:budget_id>", api.BudgetDetailApi.as_view(), name="budget-detail"),
    path("api/v1/budgets/<int:budget_id>/status", api.BudgetStatusApi.as_view(), name="budget-status"),
    path("api/v1/alerts/rules", api.RuleListApi.as_view(), name="alert-rule-list"),
    path("api/v1/alerts/rules/<int:rule_id>", api.RuleDetailApi.as_view(), name="alert-rule-detail"),
    path("api/v1/alerts/channels", api.ChannelListApi.as_view(), name="alert-channel-list"),
    path("api/v1/alerts/channels/<int:channel_id>", api.ChannelDetailApi.as_view(), name="alert-channel-detail"),
    path("api/v1/alerts/channels/<int:channel_id>/test", api.ChannelTestApi.as_view(), name="alert-channel-test"),
    path("api/v1/alerts/events", api.EventListApi.as_view(), name="alert-event-list"),
]
