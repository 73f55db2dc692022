"""The projections API of a dataset: members list and read them, owners and admins add and drop them.

One endpoint per operation, explicit input and output serializers, problem+json errors naming
the field and its limit. Thin: it calls ``tracking.projections.services`` and ``selectors``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from meauxcloud.api import ApiProblem, StrictJSONParser
from projects.api import ProjectAPIView
from projects.models import Scope
from tracking.models import (
    DATASET_NAME_PATTERN,
    DATASET_NAME_RE,
    PROJECTION_DIMENSIONS,
    PROJECTION_DOUBLES,
    PROJECTION_MAX_DIMENSIONS,
    Dataset,
    Projection,
    ProjectionGrain,
    ProjectionState,
)
from tracking.projections import selectors, services
from tracking.selectors import dataset_get

NAME_MAX_LENGTH = 64


def _choice(choices: tuple[str, ...], what: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=choices, error_messages={"invalid_choice": f'"{{input}}" is not {what}.'}
    )


class ProjectionInputSerializer(serializers.Serializer):
    name = serializers.RegexField(
        DATASET_NAME_PATTERN,
        max_length=NAME_MAX_LENGTH,
        error_messages={"invalid": "Letters, digits and underscores, not starting with a digit; 64 at most."},
    )
    dimensions = serializers.ListField(
        child=_choice(PROJECTION_DIMENSIONS, "a column a projection groups by (index1, blob1..blob20)"),
        max_length=PROJECTION_MAX_DIMENSIONS,
        error_messages={"max_length": f"At most {PROJECTION_MAX_DIMENSIONS} dimensions per projection."},
        default=list,
        help_text=f"The columns to group by: index1, blob1..blob20; at most {PROJECTION_MAX_DIMENSIONS}.",
    )
    doubles = serializers.ListField(
        child=_choice(PROJECTION_DOUBLES, "a column a projection aggregates (double1..double20)"),
        max_length=len(PROJECTION_DOUBLES),
        error_messages={"max_length": f"At most {len(PROJECTION_DOUBLES)} doubles per projection."},
        default=list,
        help_text="The doubles whose sum, weighted sum, min and max are kept.",
    )
    grain = serializers.ChoiceField(
        choices=ProjectionGrain.choices,
        default=ProjectionGrain.HOUR,
        help_text="The time bucket in seconds: 60, 3600, 21600 or 86400.",
    )


class BackfillSerializer(serializers.Serializer):
    through = serializers.DateTimeField(
        source="backfill_cursor", allow_null=True, help_text="Points before this are summarised."
    )
    until = serializers.DateTimeField(
        source="backfill_until", allow_null=True, help_text="The newest point stored when the projection was added."
    )
    progress = serializers.SerializerMethodField(help_text="From 0 to 1.")

    def get_progress(self, projection: Projection) -> float:
        return selectors.projection_progress(projection=projection)


class ProjectionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    dataset = serializers.CharField(source="dataset.name")
    dimensions = serializers.ListField(child=serializers.CharField())
    doubles = serializers.ListField(child=serializers.CharField())
    grain = serializers.IntegerField(help_text="Seconds.")
    state = serializers.ChoiceField(choices=ProjectionState.choices)
    backfill = BackfillSerializer(source="*")
    created_at = serializers.DateTimeField()
    ready_at = serializers.DateTimeField(allow_null=True)


DATASET_PARAMETER = OpenApiParameter("dataset", str, OpenApiParameter.PATH, description="The dataset's name.")


class _DatasetView(ProjectAPIView):
    """Resolves the dataset of the URL within the request's project; a 404 problem if it has none."""

    #: The scope each method needs: members read, owners and admins (admin keys) change.
    method_scopes = {"GET": Scope.READ, "HEAD": Scope.READ, "OPTIONS": Scope.READ}
    parser_classes = [StrictJSONParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.required_scope = self.method_scopes.get(request.method or "", Scope.ADMIN)
        super().initial(request, *args, **kwargs)

    def dataset(self, name: str) -> Dataset:
        # A name no dataset can have (a NUL, 65 characters) is looked up nowhere: it is simply not found.
        dataset = dataset_get(project=self.project, name=name) if DATASET_NAME_RE.fullmatch(name) else None
        if dataset is None:
            raise ApiProblem(status_code=404, code="dataset_not_found", detail=f"No dataset named {name!r} in this project.")
        return dataset

    def projection(self, dataset: Dataset, name: str) -> Projection:
        projection = selectors.projection_get(dataset=dataset, name=name) if DATASET_NAME_RE.fullmatch(name) else None
        if projection is None:
            raise ApiProblem(status_code=404, code="not_found", detail=f"Dataset {dataset.name!r} has no projection named {name!r}.")
        return projection


def _invalid(error: services.ProjectionInvalid) -> ApiProblem:
    status_code, code = (409, "conflict") if isinstance(error, services.ProjectionNameTaken) else (400, "invalid")
    return ApiProblem(
        status_code=status_code, code=code, detail=f"{error.field}: {error.reason}", errors={error.field: [error.reason]}
    )


@extend_schema(parameters=[DATASET_PARAMETER])
class ProjectionListApi(_DatasetView):
    """``GET`` a dataset's projections with their state and backfill progress; ``POST`` adds one."""

    @extend_schema(operation_id="projections_list", responses=ProjectionOutputSerializer(many=True))
    def get(self, request: Request, dataset: str) -> Response:
        found = self.dataset(dataset)
        return Response(ProjectionOutputSerializer(selectors.projection_list(dataset=found), many=True).data)

    @extend_schema(
        operation_id="projections_create", request=ProjectionInputSerializer, responses={201: ProjectionOutputSerializer}
    )
    def post(self, request: Request, dataset: str) -> Response:
        found = self.dataset(dataset)
        body = ProjectionInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            projection = services.projection_add(dataset=found, **body.validated_data)
        except services.ProjectionInvalid as error:
            raise _invalid(error) from error
        return Response(ProjectionOutputSerializer(projection).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[DATASET_PARAMETER, OpenApiParameter("name", str, OpenApiParameter.PATH)])
class ProjectionDetailApi(_DatasetView):
    """``GET`` one projection; ``DELETE`` drops it and its rows (queries fall back to raw points)."""

    @extend_schema(operation_id="projections_retrieve", responses=ProjectionOutputSerializer)
    def get(self, request: Request, dataset: str, name: str) -> Response:
        return Response(ProjectionOutputSerializer(self.projection(self.dataset(dataset), name)).data)

    @extend_schema(operation_id="projections_drop", responses={204: None})
    def delete(self, request: Request, dataset: str, name: str) -> Response:
        services.projection_drop(projection=self.projection(self.dataset(dataset), name))
        return Response(status=status.HTTP_204_NO_CONTENT)
