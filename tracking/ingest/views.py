"""Ingest endpoints. Thin: they read the body within limits and call the services."""

import redis
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meauxcloud.api import ApiProblem
from projects.api import ProjectAPIView
from projects.authentication import ApiKeyAuthentication
from projects.governance.quotas import ingest_quota
from projects.models import Project, Scope
from tracking import tasks
from tracking.conf import tracking_settings
from tracking.ingest import body as body_reader
from tracking.ingest import decode as ingest
from tracking.ingest.buffer import BufferFull
from tracking.ingest.decode import MalformedBody, ValidatedBatch
from tracking.ingest.openapi import HEALTH_SCHEMA, INGEST_SCHEMA, WORKERD_SCHEMA
from tracking.ingest.workerd import InvalidEvent, workerd_event_decode
from tracking.models import Dataset
from tracking.selectors import health_report
from tracking.services import (
    DatasetNameInvalid,
    IngestOutcome,
    datapoints_accept,
    dataset_get_or_create,
    dataset_lookup,
    dataset_time_window,
)

JSON_TYPES = ("application/json", "text/plain", "")
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/ndjson")
RETRY_AFTER_SECONDS = 5
UTF8_CHARSETS = ("", "utf-8", "utf8", "us-ascii", "ascii")
LATIN1_CHARSETS = ("iso-8859-1", "latin-1", "latin1")


def _charset(request: Request) -> str:
    for parameter in request.META.get("CONTENT_TYPE", "").split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return ""


def read_body(request: Request) -> bytes:
    """The raw body within ``MAX_BODY_BYTES``, gzip undone; ``ApiProblem`` (400, 413, 415) otherwise."""
    try:
        return body_reader.body_read(request._request, limit=tracking_settings.MAX_BODY_BYTES)
    except body_reader.BodyTooLarge:
        raise ApiProblem(
            status_code=413,
            code="body_too_large",
            detail=f"Body exceeds {tracking_settings.MAX_BODY_BYTES} bytes (after decompression).",
        ) from None
    except body_reader.UnsupportedEncoding as error:
        raise ApiProblem(
            status_code=415, code="unsupported_encoding", detail=f"Content-Encoding '{error}' is not supported; use gzip."
        ) from None
    except body_reader.CorruptBody as error:
        raise ApiProblem(status_code=400, code="malformed_body", detail=str(error)) from None


def batch_buffer(dataset: Dataset, batch: ValidatedBatch) -> IngestOutcome:
    """Charge the project's quota and buffer the batch's points; ``ApiProblem`` (429, 503) when either refuses.

    Shared by every write endpoint (REST, workerd, OTLP), so quotas and back-pressure answer
    alike on all of them. The dataset is created here, only when there is a point to store.
    """
    try:
        if dataset.pk is None:
            dataset = dataset_get_or_create(project=dataset.project, name=dataset.name)
        with ingest_quota(project_id=dataset.project_id, points=len(batch.rows), size=batch.data_bytes):
            outcome: IngestOutcome = datapoints_accept(dataset=dataset, batch=batch)
    except BufferFull:
        raise ApiProblem(
            status_code=503,
            code="buffer_full",
            detail="The ingest buffer is above its high-water mark; retry later.",
            retry_after=RETRY_AFTER_SECONDS,
        ) from None
    except redis.RedisError:
        raise ApiProblem(
            status_code=503,
            code="buffer_unavailable",
            detail="The ingest buffer is unreachable; nothing was accepted. Retry later.",
            retry_after=RETRY_AFTER_SECONDS,
        ) from None
    tasks.drain_soon()
    return outcome


def _accept(dataset: Dataset, batch: ValidatedBatch) -> Response:
    """Buffer the batch's valid points; the dataset is created only when there is one to store."""
    if not batch.rows:
        raise ApiProblem(
            status_code=400,
            code="no_valid_points",
            detail="The batch has no valid data point." if batch.errors else "The batch is empty.",
            errors=[error.as_dict() for error in batch.errors],
        )
    outcome = batch_buffer(dataset, batch)
    body: dict[str, object] = {"accepted": outcome.accepted, "rejected": outcome.rejected, "errors": outcome.errors}
    if outcome.duplicates:
        body["duplicates"] = outcome.duplicates
    return Response(body, status=status.HTTP_202_ACCEPTED)


def dataset_for_write(project: Project, name: str) -> Dataset:
    try:
        return dataset_lookup(project=project, name=name)
    except DatasetNameInvalid as error:
        raise ApiProblem(status_code=400, code="invalid_dataset", detail=str(error)) from None


class DatapointIngestView(ProjectAPIView):
    """Write data points into a dataset: one object, a JSON array, or NDJSON; gzip welcome."""

    authentication_classes = [ApiKeyAuthentication]
    required_scope = Scope.WRITE
    refused_when_suspended = True
    parser_classes: list = []

    @INGEST_SCHEMA
    def post(self, request: Request, dataset: str) -> Response:
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES + NDJSON_TYPES:
            raise ApiProblem(
                status_code=415,
                code="unsupported_media_type",
                detail=f"Content-Type '{content_type}' is not supported; send application/json or application/x-ndjson.",
            )
        charset = _charset(request)
        if charset not in UTF8_CHARSETS + LATIN1_CHARSETS:
            raise ApiProblem(
                status_code=415,
                code="unsupported_charset",
                detail=f"charset '{charset}' is not supported; send UTF-8 (or ISO-8859-1, which is converted).",
            )
        body = read_body(request)
        if charset in LATIN1_CHARSETS:
            body = body.decode("latin-1").encode("utf-8")
        target = dataset_for_write(self.project, dataset)
        window = dataset_time_window(dataset=target, now=timezone.now())
        try:
            count, batch = ingest.batch_validate(body, ndjson=content_type in NDJSON_TYPES, window=window)
        except MalformedBody as error:
            raise ApiProblem(status_code=400, code="malformed_body", detail=str(error)) from None
        if count > tracking_settings.MAX_POINTS_PER_REQUEST:
            raise ApiProblem(
                status_code=413,
                code="too_many_points",
                detail=f"A request may carry at most {tracking_settings.MAX_POINTS_PER_REQUEST} data points; it had {count}.",
            )
        return _accept(target, batch)


class WorkerdEventView(ProjectAPIView):
    """One event from workerd's ``analyticsEngine`` binding; the dataset is the binding's service name."""

    authentication_classes = [ApiKeyAuthentication]
    required_scope = Scope.WRITE
    refused_when_suspended = True
    parser_classes: list = []

    @WORKERD_SCHEMA
    def post(self, request: Request) -> Response:
        body = read_body(request)
        try:
            dataset_name, point = workerd_event_decode(body)
        except InvalidEvent as error:
            raise ApiProblem(status_code=400, code="invalid_event", detail=str(error)) from None
        target = dataset_for_write(self.project, dataset_name)
        batch = ValidatedBatch()
        try:
            batch.rows.append(ingest.point_check(point, dataset_time_window(dataset=target, now=timezone.now())))
        except ingest.PointRejected as rejected:
            batch.errors.append(ingest.PointError(0, rejected.code, rejected.detail))
        return _accept(target, batch)


class HealthView(APIView):
    """Liveness of every part ingest depends on; 503 when one is down."""

    authentication_classes: list = []
    permission_classes: list = []

    @HEALTH_SCHEMA
    def get(self, request: Request) -> Response:
        report = health_report()
        return Response(report, status=200 if report["status"] == "ok" else 503)
