"""Report endpoints: JSON for every report, CSV for every table, and the seed's /metrics routes.

Thin views: they validate the query string, resolve project and dataset through
``ProjectAPIView`` (a read key, or a session plus ``project=``), and call one selector.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from projects.api import ProjectAPIView
from projects.models import Project
from tracking.models import DATASET_NAME_PATTERN, Dataset
from tracking.reports.db import metrics_realtime
from tracking.reports.selectors import REPORTS, Report, Table, metrics_cost_trend, report_dataset_default, report_get, report_window
from tracking.reports.window import INTERVALS, PRESETS, Window, WindowInvalid
from tracking.sql.formats import result_json

SEED_DATASET = "meauxcloud_analytics"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents project API keys (``Authorization: Bearer mc_…``) in the OpenAPI schema."""

    target_class = "projects.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A project API key with the 'read' scope."}


class RawBodySessionScheme(SessionScheme):
    """The SQL API's session authentication: Django's session cookie, with its CSRF check on the raw request."""

    target_class = "projects.authentication.RawBodySessionAuthentication"
    name = "sqlCookieAuth"


DEFAULT_RANGE = "24h"


class ReportInputSerializer(serializers.Serializer):
    """Query string of every report; ``from``/``to`` win over ``range``."""

    dataset = serializers.RegexField(DATASET_NAME_PATTERN, required=False)
    range = serializers.ChoiceField(choices=sorted(PRESETS), required=False)
    interval = serializers.ChoiceField(choices=INTERVALS, required=False, help_text="Chart bucket width in seconds.")
    project = serializers.SlugField(required=False, help_text="Project slug; needed with a session, not with a key.")
    locals()["from"] = serializers.DateTimeField(required=False, help_text="Start, ISO 8601 (inclusive).")
    locals()["to"] = serializers.DateTimeField(required=False, help_text="End, ISO 8601 (exclusive); default now.")


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A count stays an integer; an exact decimal sum becomes a JSON number; no value is null."""

    def to_representation(self, value: int | Decimal | float | None) -> int | float | None:
        if value is None or isinstance(value, int):
            return value
        return float(value)


class ColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    heading = serializers.CharField()


class TableSerializer(serializers.Serializer):
    columns = ColumnSerializer(many=True)
    rows = serializers.ListField(child=serializers.DictField())


@extend_schema_field({"type": "array", "items": {"type": "string", "format": "date-time"}})
class MomentsField(serializers.Field):
    """Bucket starts as ISO 8601 in UTC; one field for the list, not one per moment (charts have hundreds)."""

    def to_representation(self, value: list[datetime]) -> list[str]:
        return [moment.isoformat().replace("+00:00", "Z") for moment in value]


@extend_schema_field({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number", "nullable": True}}})
class LinesField(serializers.Field):
    """Chart lines as they are: a name to a list of numbers (null where undefined)."""

    def to_representation(self, value: dict[str, list[float | None]]) -> dict[str, list[float | None]]:
        return value


class SeriesSerializer(serializers.Serializer):
    t = MomentsField()
    lines = LinesField()
    unit = serializers.CharField()


class DatasetRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    last_write_at = serializers.DateTimeField(allow_null=True)


class ReportOutputSerializer(serializers.Serializer):
    report = serializers.CharField()
    project = serializers.CharField()
    dataset = serializers.CharField(allow_null=True)
    datasets = DatasetRefSerializer(many=True)
    labels = serializers.DictField(child=serializers.CharField())
    has_data = serializers.BooleanField()
    generated_at = serializers.DateTimeField()
    interval = serializers.IntegerField(help_text="Seconds per chart bucket.")
    totals = serializers.DictField(child=NumberField(allow_null=True))
    series = serializers.DictField(child=SeriesSerializer())
    tables = serializers.DictField(child=TableSerializer())
    locals()["from"] = serializers.DateTimeField()
    locals()["to"] = serializers.DateTimeField()


def plain(value: object) -> object:
    """JSON has no decimals: exact sums leave the API as floats (CSV keeps every digit)."""
    return float(value) if isinstance(value, Decimal) else value


def report_as_data(report: Report) -> dict[str, object]:
    dataset = report.dataset
    return {
        "report": report.name,
        "project": report.project.slug,
        "dataset": dataset.name if dataset else None,
        "datasets": [
            {"name": d.name, "last_write_at": d.last_write_at} for d in Dataset.objects.filter(project=report.project)
        ],
        "labels": {str(k): str(v) for k, v in (dataset.labels or {}).items()} if dataset else {},
        "has_data": report.has_data,
        "generated_at": report.now,
        "interval": int(report.window.step.total_seconds()),
        "from": report.window.start,
        "to": report.window.end,
        "totals": report.totals,
        "series": {
            name: {"t": s.t, "lines": s.lines, "unit": s.unit} for name, s in report.series.items()
        },
        "tables": {
            name: {
                "columns": [{"key": key, "heading": heading} for key, heading in table.columns],
                "rows": [{key: plain(value) for key, value in row.items()} for row in table.rows],
            }
            for name, table in report.tables.items()
        },
    }


def table_as_csv(table: Table, *, filename: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([heading for _, heading in table.columns])
    for row in table.rows:
        writer.writerow(["" if row.get(key) is None else row.get(key) for key, _ in table.columns])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def dataset_resolve(*, project: Project, name: str | None) -> Dataset | None:
    """The named dataset of the project (404 otherwise), or its default one when none is named."""
    if not name:
        return report_dataset_default(project=project)
    dataset = Dataset.objects.filter(project=project, name=name).first()
    if dataset is None:
        raise exceptions.NotFound(f"No dataset '{name}' in this project.")
    return dataset


def window_resolve(*, report: str, params: dict, now: datetime) -> Window:
    """Turn validated query parameters into a window; errors become 400 problems."""
    try:
        return report_window(
            name=report,
            now=now,
            preset=params.get("range"),
            start=params.get("from"),
            end=params.get("to"),
            interval=params.get("interval"),
            default_range=DEFAULT_RANGE,
        )
    except WindowInvalid as error:
        raise exceptions.ValidationError({"interval" if "interval" in str(error) else "from": [str(error)]}) from None


REPORT_PARAMETERS = [
    OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(REPORTS)),
]


class ReportApi(ProjectAPIView):
    """GET one report as JSON: totals, chart series and tables of a dataset over a time range."""

    @extend_schema(parameters=[ReportInputSerializer, *REPORT_PARAMETERS], responses=ReportOutputSerializer)
    def get(self, request: Request, name: str) -> Response:
        report = self._report(request, name)
        return Response(ReportOutputSerializer(report_as_data(report)).data)

    def _report(self, request: Request, name: str) -> Report:
        if name not in REPORTS:
            raise exceptions.NotFound(f"No report '{name}'. Reports: {', '.join(REPORTS)}.")
        params = ReportInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        now = timezone.now()
        dataset = dataset_resolve(project=self.project, name=params.validated_data.get("dataset"))
        window = window_resolve(report=name, params=params.validated_data, now=now)
        return report_get(project=self.project, name=name, dataset=dataset, window=window, now=now)


class ReportTableCsvApi(ReportApi):
    """GET one table of a report as CSV, with the same parameters as the JSON report."""

    @extend_schema(
        parameters=[ReportInputSerializer, *REPORT_PARAMETERS, OpenApiParameter("table", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request, name: str, table: str) -> HttpResponse:  # type: ignore[override]
        report = self._report(request, name)
        if table not in report.tables:
            raise exceptions.NotFound(f"No table '{table}' in report '{name}'. Tables: {', '.join(report.tables)}.")
        return table_as_csv(report.tables[table], filename=f"{self.project.slug}-{name}-{table}.csv")


class MetricsInputSerializer(serializers.Serializer):
    dataset = serializers.RegexField(DATASET_NAME_PATTERN, required=False)
    project = serializers.SlugField(required=False)


class SqlColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()


class SqlResultSerializer(serializers.Serializer):
    """The Analytics Engine SQL API's JSON: 64-bit integers are strings, as ClickHouse writes them."""

    meta = SqlColumnSerializer(many=True)
    data = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]  # DRF's metaclass moves declared fields off the class
    rows = serializers.IntegerField()
    rows_before_limit_at_least = serializers.IntegerField()


class _MetricsApi(ProjectAPIView):
    def _dataset(self, request: Request) -> Dataset | None:
        params = MetricsInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        name = params.validated_data.get("dataset")
        if name is None and Dataset.objects.filter(project=self.project, name=SEED_DATASET).exists():
            name = SEED_DATASET
        return dataset_resolve(project=self.project, name=name)


class MetricsRealtimeApi(_MetricsApi):
    """The seed's ``/metrics/realtime``: rows, mean ``double1`` and 5xx rows over the last five minutes."""

    @extend_schema(parameters=[MetricsInputSerializer], responses=SqlResultSerializer)
    def get(self, request: Request) -> Response:
        dataset = self._dataset(request)
        total, average, errors = (0, 0.0, 0) if dataset is None else metrics_realtime(
            dataset_id=dataset.id, since=timezone.now() - timedelta(minutes=5)
        )
        columns = [("total_requests", "UInt64"), ("avg_response_time", "Float64"), ("error_count", "UInt64")]
        return Response(SqlResultSerializer(result_json(columns=columns, rows=[(total, average, errors)])).data)


class MetricsCostsApi(_MetricsApi):
    """The seed's ``/metrics/costs``: cost per day and type over 30 days, newest day first, from rollups."""

    @extend_schema(parameters=[MetricsInputSerializer], responses=SqlResultSerializer)
    def get(self, request: Request) -> Response:
        dataset = self._dataset(request)
        rows = [] if dataset is None else metrics_cost_trend(project=self.project, dataset=dataset, now=timezone.now())
        columns = [("date", "DateTime"), ("cost_type", "String"), ("total_cost", "Float64")]
        return Response(SqlResultSerializer(result_json(columns=columns, rows=rows)).data)
