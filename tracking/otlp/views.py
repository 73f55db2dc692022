"""OTLP/HTTP receivers: ``POST /otlp/<dataset>/v1/{traces,logs,metrics}``.

An exporter needs only ``OTEL_EXPORTER_OTLP_ENDPOINT=<base>/otlp/<dataset>`` and a write key
in ``OTEL_EXPORTER_OTLP_HEADERS``. Answers follow the OTLP/HTTP specification rather than
the rest of the API: a success is the signal's ``Export*ServiceResponse`` (with partial
success), a failure a ``google.rpc.Status``, each in the request's encoding, so exporters
read them; the problem's code rides along as a ``google.rpc.ErrorInfo`` reason.
"""

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from rest_framework.request import Request
from rest_framework.response import Response

from meauxcloud.api import ApiProblem
from projects.api import ProjectAPIView
from projects.authentication import ApiKeyAuthentication
from projects.models import Scope
from tracking.conf import tracking_settings
from tracking.ingest.views import batch_buffer, dataset_for_write, read_body
from tracking.otlp.convert import ITEM_NAMES, Conversion, export_convert
from tracking.otlp.decode import JSON, MESSAGES, PROTOBUF, MalformedExport, Signal, export_decode, response_encode
from tracking.otlp.mapping import mapping_resolve
from tracking.services import dataset_time_window

#: Errors named in a partial success message; the rest are counted.
MAX_MESSAGES = 10
GRPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    404: code_pb2.NOT_FOUND,
    405: code_pb2.UNIMPLEMENTED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}

_EITHER = {PROTOBUF: OpenApiTypes.BINARY, JSON: OpenApiTypes.OBJECT}
OTLP_SCHEMA = extend_schema(
    summary="OTLP/HTTP export (protobuf or JSON, gzip welcome)",
    request=_EITHER,
    responses={
        (status_code, media): kind
        for status_code in (200, 400, 413, 415, 429, 503)
        for media, kind in _EITHER.items()
    },
)


def _content_type(request: Request) -> str:
    return request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()


def partial_success_message(conversion: Conversion, *, duplicates: int) -> str:
    """Why items were rejected, and what was stored other than as sent; empty when all went in."""
    item = ITEM_NAMES[conversion.signal]
    parts: list[str] = []
    if conversion.rejected_items:
        details = [error.detail for error in conversion.batch.errors[:MAX_MESSAGES]]
        more = len(conversion.batch.errors) - len(details)
        parts.append(
            f"{len(conversion.rejected_items)} of {conversion.items} {item}s rejected: " + " ".join(details)
            + (f" (and {more} more errors)" if more else "")
        )
    for reason, count in sorted(conversion.unmapped.items()):
        parts.append(f"{count} {item}s not stored: {reason}.")
    for reason, count in sorted(conversion.dropped.items()):
        parts.append(f"{count} attribute values dropped from points: {reason}.")
    if duplicates:
        parts.append(f"{duplicates} points repeated points already received (same ids) and were not stored again.")
    return " ".join(parts)


class OtlpExportView(ProjectAPIView):
    """One OTLP/HTTP export; ``signal`` is set per route."""

    authentication_classes = [ApiKeyAuthentication]
    required_scope = Scope.WRITE
    refused_when_suspended = True
    parser_classes: list = []
    signal: Signal = Signal.TRACES

    @OTLP_SCHEMA
    def post(self, request: Request, dataset: str) -> HttpResponse:
        content_type = _content_type(request)
        if content_type not in (PROTOBUF, JSON):
            raise ApiProblem(
                status_code=415,
                code="unsupported_media_type",
                detail=f"Content-Type '{content_type}' is not supported; OTLP/HTTP sends {PROTOBUF} or {JSON}.",
            )
        body = read_body(request)
        try:
            message = export_decode(body, signal=self.signal, content_type=content_type)
        except MalformedExport as error:
            raise ApiProblem(status_code=400, code="malformed_body", detail=str(error)) from None
        target = dataset_for_write(self.project, dataset)
        conversion = export_convert(
            message,
            signal=self.signal,
            mapping=mapping_resolve(target.otlp_mapping),
            window=dataset_time_window(dataset=target, now=timezone.now()),
        )
        points = len(conversion.batch.rows)
        if points > tracking_settings.MAX_POINTS_PER_REQUEST:
            raise ApiProblem(
                status_code=413,
                code="too_many_points",
                detail=(
                    f"A request may carry at most {tracking_settings.MAX_POINTS_PER_REQUEST} data points; this export "
                    f"maps to {points}. Lower the exporter's batch size (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)."
                ),
            )
        duplicates = batch_buffer(target, conversion.batch).duplicates if points else 0
        signal_messages = MESSAGES[self.signal]
        response = signal_messages.response()
        text = partial_success_message(conversion, duplicates=duplicates)
        if text or conversion.rejected_items:
            setattr(response.partial_success, signal_messages.rejected_field, len(conversion.rejected_items))
            response.partial_success.error_message = text
        return HttpResponse(response_encode(response, content_type=content_type), content_type=content_type)

    def handle_exception(self, exc: Exception) -> Response | HttpResponse:  # type: ignore[override]  # DRF finalizes any HttpResponse
        """Every error as a ``google.rpc.Status`` in the request's encoding, status and headers kept."""
        response = super().handle_exception(exc)
        data: Any = getattr(response, "data", None) or {}
        status = status_pb2.Status(code=GRPC_CODES.get(response.status_code, code_pb2.UNKNOWN), message=str(data.get("detail", "")))
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=str(data.get("code", "error")), domain="meauxcloud.dev"))
        status.details.append(detail)
        content_type = PROTOBUF if _content_type(self.request) == PROTOBUF else JSON
        answer = HttpResponse(response_encode(status, content_type=content_type), status=response.status_code, content_type=content_type)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if header in response:
                answer[header] = response[header]
        return answer
