from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tracking.admin_overview import admin_overview_view

urlpatterns = [
    path("admin/overview/", admin_overview_view, name="admin-overview"),
    path("admin/", admin.site.urls),
    path("", include("tracking.urls")),
    path("", include("tracking.reports.urls")),
    path("", include("tracking.sql.urls")),
    path("", include("tracking.alerts.urls")),
    path("", include("tracking.deletion.urls")),
    path("", include("tracking.projections.urls")),
    path("", include("projects.governance.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("tracking.web.urls")),
]

handler404 = "meauxcloud.api.not_found"
handler400 = "meauxcloud.api.bad_request"
