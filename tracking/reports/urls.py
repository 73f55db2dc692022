from django.urls import path

from tracking.reports import api as reports_api

urlpatterns = [
    path("api/v1/reports/<str:name>", reports_api.ReportApi.as_view(), name="report"),
    path("api/v1/reports/<str:name>/tables/<str:table>.csv", reports_api.ReportTableCsvApi.as_view(), name="report-table-csv"),
    path("metrics/realtime", reports_api.MetricsRealtimeApi.as_view(), name="metrics-realtime"),
    path("metrics/costs", reports_api.MetricsCostsApi.as_view(), name="metrics-costs"),
]
