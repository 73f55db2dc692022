from django.urls import path

from tracking.ingest import views

urlpatterns = [
    path("api/v1/datasets/<str:dataset>/datapoints", views.DatapointIngestView.as_view(), name="datapoint-ingest"),
    path("api/v1/workerd/analytics-engine", views.WorkerdEventView.as_view(), name="workerd-event"),
    path("healthz", views.HealthView.as_view(), name="healthz"),
]
