from django.urls import path

from tracking.sql import clickhouse_http, views

urlpatterns = [
    path(
        "client/v4/accounts/<str:project_slug>/analytics_engine/sql",
        views.CloudflareSqlView.as_view(),
        name="analytics-engine-sql",
    ),
    # Grafana's Altinity plugin appends "/?query=..." to the datasource URL.
    path(
        "client/v4/accounts/<str:project_slug>/analytics_engine/sql/",
        views.CloudflareSqlSlashView.as_view(),
    ),
    path("api/v1/sql", views.SqlView.as_view(), name="sql"),
    path("clickhouse/", clickhouse_http.clickhouse_query_view, name="clickhouse-http"),
    path("clickhouse", clickhouse_http.clickhouse_query_view),
    path("clickhouse/ping", clickhouse_http.clickhouse_ping_view, name="clickhouse-ping"),
]
