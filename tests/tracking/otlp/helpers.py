"""Builders of OTLP export requests, with the collector's own protobuf classes."""

import base64
import gzip
import json
import time

from django.test import Client
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

RESOURCE = {"service.name": "shop", "deployment.environment": "production"}


def attributes(values: dict[str, object]) -> list[KeyValue]:
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            any_value = AnyValue(bool_value=value)
        elif isinstance(value, int):
            any_value = AnyValue(int_value=value)
        elif isinstance(value, float):
            any_value = AnyValue(double_value=value)
        else:
            any_value = AnyValue(string_value=str(value))
        out.append(KeyValue(key=key, value=any_value))
    return out


def now_ns() -> int:
    return time.time_ns()


def span(
    number: int = 1,
    *,
    name: str = "GET /items/{id}",
    kind: int = Span.SPAN_KIND_SERVER,
    attrs: dict[str, object] | None = None,
    duration_ms: float = 12.5,
    start_ns: int | None = None,
    error: bool = False,
    exception: tuple[str, str] | None = None,
) -> Span:
    start = start_ns if start_ns is not None else now_ns() - 1_000_000_000
    result = Span(
        trace_id=number.to_bytes(16, "big"),
        span_id=number.to_bytes(8, "big"),
        name=name,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=start + int(duration_ms * 1_000_000),
        attributes=attributes(attrs if attrs is not None else http_attrs()),
    )
    if error:
        result.status.code = Status.STATUS_CODE_ERROR
    if exception:
        event = result.events.add(name="exception", time_unix_nano=start + 1000)
        event.attributes.extend(attributes({"exception.type": exception[0], "exception.message": exception[1]}))
    return result


def http_attrs(method: str = "GET", route: str = "/items/{id}", status: int = 200, size: int | None = 512) -> dict[str, object]:
    values: dict[str, object] = {"http.request.method": method, "http.route": route, "url.path": "/items/7",
                                 "http.response.status_code": status}
    if size is not None:
        values["http.response.body.size"] = size
    return values


def traces(*spans: Span, resource: dict[str, object] | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(attributes(RESOURCE if resource is None else resource))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    scope_spans.spans.extend(spans)
    return request


def log_record(severity: int, body: str, attrs: dict[str, object] | None = None, trace: int = 0) -> LogRecord:
    record = LogRecord(
        time_unix_nano=now_ns(),
        severity_number=severity,
        severity_text={17: "ERROR", 9: "INFO", 21: "FATAL", 13: "WARN"}.get(severity, ""),
        body=AnyValue(string_value=body),
        attributes=attributes(attrs or {}),
    )
    if trace:
        record.trace_id = trace.to_bytes(16, "big")
        record.span_id = trace.to_bytes(8, "big")
    return record


def logs(*records: LogRecord) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(attributes(RESOURCE))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "shop.orders"
    scope_logs.log_records.extend(records)
    return request


def metrics(*items: metrics_pb2.Metric) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(attributes(RESOURCE))
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = "tests"
    scope_metrics.metrics.extend(items)
    return request


def to_json(message) -> bytes:
    """OTLP/JSON: protobuf's JSON mapping with ids in hex, as exporters send it."""
    document = json_format.MessageToDict(message)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for item in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in item:
                        item[key] = base64.b64decode(item[key]).hex()
    return json.dumps(document).encode()


def export(client: Client, key: str | None, dataset: str, signal: str, message, *, encoding: str = "protobuf",
           compress: bool = False, content_type: str | None = None, **headers: str):
    body = message if isinstance(message, bytes) else (
        message.SerializeToString() if encoding == "protobuf" else to_json(message))
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    if compress:
        body = gzip.compress(body)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    if content_type is None:
        content_type = "application/x-protobuf" if encoding == "protobuf" else "application/json"
    return client.post(f"/otlp/{dataset}/v1/{signal}", data=body, content_type=content_type, **headers)
