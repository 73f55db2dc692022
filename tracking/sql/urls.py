from django.urls import path

from tracking.sql import views

urlpatterns = [
    path(
        "client/v4/accounts/<str:project_slug>/analytics_engine/sql",
        views.CloudflareSqlView.as_view(),
        name="analytics-engine-sql",
    ),
    path("api/v1/sql", views.SqlView.as_view(), name="sql"),
]
