from django.urls import path

from projects.governance import pages, views

urlpatterns = [
    path("api/v1/audit", views.AuditLogView.as_view(), name="audit-log"),
    path("api/v1/deletions", views.DeletionListView.as_view(), name="deletion-list"),
    path("api/v1/deletions/<int:job_id>", views.DeletionDetailView.as_view(), name="deletion-detail"),
    path("projects/<slug:slug>/audit/", pages.audit_page, name="audit-page"),
]
