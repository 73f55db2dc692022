"""Governance endpoint: a project's audit log. Thin. (Data deletion requests: tracking/deletion/views.py.)"""


from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from projects.api import ProjectAPIView
from projects.governance.audit import audit_csv, audit_event_row, audit_list
from projects.governance.models import AuditAction
from projects.models import Scope

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
