"""OTLP/HTTP request bodies: protobuf or JSON, into the collector's export messages.

Protobuf is parsed by protobuf itself; OTLP/JSON by ``tracking.otlp.jsonwire``, which
builds the same messages, so the mapping never knows which encoding arrived.
"""

from dataclasses import dataclass
from enum import StrEnum

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tracking.otlp.jsonwire import Malformed, json_export_decode

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class Signal(StrEnum):
    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


@dataclass(frozen=True)
class SignalMessages:
    request: type[Message]
    response: type[Message]
    #: The ``rejected_*`` field of the response's partial success.
    rejected_field: str


MESSAGES = {
    Signal.TRACES: SignalMessages(
        trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"
    ),
    Signal.LOGS: SignalMessages(
        logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"
    ),
    Signal.METRICS: SignalMessages(
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        "rejected_data_points",
    ),
}


class MalformedExport(ValueError):
    """The body is not an export request of the signal in the declared encoding."""


def export_decode(body: bytes, *, signal: Signal, content_type: str) -> Message:
    """The export request a body carries; raises ``MalformedExport`` with a reason."""
    message = MESSAGES[signal].request()
    if content_type == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError) as error:
            raise MalformedExport(f"The body is not a protobuf {message.DESCRIPTOR.name}: {error}") from None
        return message
    try:
        return json_export_decode(body, signal)
    except Malformed as error:
        raise MalformedExport(str(error)) from None


def response_encode(message: Message, *, content_type: str) -> bytes:
    if content_type == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()
