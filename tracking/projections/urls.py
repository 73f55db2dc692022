from django.urls import path

from tracking.projections import api

urlpatterns = [
    path("api/v1/datasets/<str:dataset>/projections", api.ProjectionListApi.as_view(), name="projection-list"),
    path("api/v1/datasets/<str:dataset>/projections/<str:name>", api.ProjectionDetailApi.as_view(), name="projection-detail"),
]
