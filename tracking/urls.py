from django.urls import path

from tracking.ingest import views
from tracking.otlp.decode import Signal
from tracking.otlp.views import OtlpExportView

urlpatterns = [
    path("api/v1/datasets/<str:dataset>/datapoints", views.DatapointIngestView.as_view(), name="datapoint-ingest"),
    path("api/v1/workerd/analytics-engine", views.WorkerdEventView.as_view(), name="workerd-event"),
    *(
        path(f"otlp/<str:dataset>/v1/{signal}", OtlpExportView.as_view(signal=signal), name=f"otlp-{signal}")
        for signal in Signal
    ),
    path("healthz", views.HealthView.as_view(), name="healthz"),
]
