from django.urls import path

from tracking.deletion import views

urlpatterns = [
    path("api/v1/deletions", views.DeletionListView.as_view(), name="deletion-list"),
    path("api/v1/deletions/<int:job_id>", views.DeletionDetailView.as_view(), name="deletion-detail"),
]
