"""Data deletion endpoints: request a deletion, follow its progress. Thin: they call tracking/deletion/services.py."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from meauxcloud.api import ApiProblem
from projects.api import ProjectAPIView
from projects.governance.models import FILTER_COLUMNS, DeletionJob
from projects.models import Scope
from tracking.deletion.selectors import deletion_job_get
from tracking.deletion.services import DeletionInvalid, deletion_request
from tracking.selectors import dataset_get


class DeletionJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    dataset = serializers.CharField()
    kind = serializers.ChoiceField(choices=["dataset", "filter"])
    column = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    deleted_rows = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


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
            raise ApiProblem(status_code=404, code="dataset_not_found", detail="No such dataset.")
        try:
            job = deletion_request(
                project=self.project,
                dataset=dataset,
                column=body.validated_data.get("column", ""),
                value=body.validated_data.get("equals", ""),
            )
        except DeletionInvalid as error:
            raise ApiProblem(status_code=400, code="invalid_deletion", detail=str(error)) from None
        return Response(_job_body(job), status=status.HTTP_202_ACCEPTED)


class DeletionDetailView(ProjectAPIView):
    """``GET /api/v1/deletions/<id>``: progress of one deletion."""

    required_scope = Scope.WRITE

    @extend_schema(responses={200: DeletionJobSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = deletion_job_get(project=self.project, job_id=job_id)
        if job is None:
            raise ApiProblem(status_code=404, code="not_found", detail="No such deletion.")
        return Response(_job_body(job))
