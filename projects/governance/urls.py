from django.urls import path

from projects.governance import pages, views

urlpatterns = [
    path("api/v1/audit", views.AuditLogView.as_view(), name="audit-log"),
    path("projects/<slug:slug>/audit/", pages.audit_page, name="audit-page"),
]
