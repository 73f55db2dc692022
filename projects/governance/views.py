"""Governance endpoints: a project's audit log, and data deletion requests. Thin."""


from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from meauxcloud.api import problem_response
from projects.api import ProjectAPIView
from projects.governance.audit import audit_csv, audit_event_row, audit_list
from projects.governance.deletion import DeletionInvalid, deletion_request
from projects.governance.models import FILTER_COLUMNS, AuditAction, DeletionJob
from projects.models import Scope
from tracking.selectors import dataset_get

MAX_PAGE = 1000


class AuditQuerySerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)
    actor = serializers.CharField(required=False, max_length=200)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    before_id = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=100)
    output = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    project = serializers.CharField()
    action = serializers.ChoiceField(choices=AuditAction.choices)
    actor = serializers.CharField()
    api_key_prefix = serializers.CharField(allow_blank=True)
    ip = serializers.IPAddressField(allow_null=True)
    target = serializers.CharField(allow_blank=True)
    outcome = serializers.CharField()
    details = serializers.DictField()


class AuditPageSerializer(serializers.Serializer):
    events = AuditEventSerializer(many=True)
    next_before_id = serializers.IntegerField(allow_null=True)


class DeletionJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    dataset = serializers.CharField()
    kind = serializers.ChoiceField(choices=["dataset", "filter"])
    column = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    deleted_rows = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class AuditLogView(ProjectAPIView):
    """``GET /api/v1/audit``: the project's audit events, newest first, filterable; ``output=csv`` exports."""

    required_scope = Scope.READ

    @extend_schema(
        parameters=[AuditQuerySerializer],
        responses={(200, "application/json"): AuditPageSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> Response | HttpResponse:
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in query.validated_data.items() if k not in ("limit", "output")}
        limit = query.validated_data["limit"]
        events = list(audit_list(project=self.project, **filters)[:limit])
        if query.validated_data["output"] == "csv":
            response = HttpResponse(audit_csv(events), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="audit-{self.project.slug}.csv"'
            return response
        next_before = events[-1].id if len(events) == limit else None
        return Response({"events": [audit_event_row(event) for event in events], "next_before_id": next_before})


class DeletionRequestSerializer(serializers.Serializer):
    dataset = serializers.CharField(max_length=64)
    column = serializers.ChoiceField(choices=FILTER_COLUMNS, required=False)
    equals = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        if ("column" in attrs) != ("equals" in attrs):
            raise serializers.ValidationError("Give both 'column' and 'equals' to delete matching points, or neither.")
        return attrs


def _job_body(job: DeletionJob) -> dict[str, object]:
    return {
        "id": job.id,
        "dataset": job.dataset_name,
        "kind": job.kind,
        "column": job.column or None,
        "status": job.status,
        "deleted_rows": job.deleted_rows,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


class DeletionListView(ProjectAPIView):
    """``POST /api/v1/deletions``: delete a dataset, or its points where ``column`` equals a value (write key)."""

    required_scope = Scope.WRITE

    @extend_schema(request=DeletionRequestSerializer, responses={202: DeletionJobSerializer})
    def post(self, request: Request) -> Response:
        body = DeletionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dataset = dataset_get(project=self.project, name=body.validated_data["dataset"])
        if dataset is None:
            return problem_response(status_code=404, code="dataset_not_found", detail="No such dataset.")
        try:
            job = deletion_request(
                project=self.project,
                dataset=dataset,
                column=body.validated_data.get("column", ""),
                value=body.validated_data.get("equals", ""),
            )
        except DeletionInvalid as error:
            return problem_response(status_code=400, code="invalid_deletion", detail=str(error))
        return Response(_job_body(job), status=status.HTTP_202_ACCEPTED)


class DeletionDetailView(ProjectAPIView):
    """``GET /api/v1/deletions/<id>``: progress of one deletion."""

    required_scope = Scope.WRITE

    @extend_schema(responses={200: DeletionJobSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = DeletionJob.objects.filter(project=self.project, pk=job_id).first()
        if job is None:
            return problem_response(status_code=404, code="not_found", detail="No such deletion.")
        return Response(_job_body(job))
