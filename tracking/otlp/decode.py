"""OTLP/HTTP request bodies: protobuf or JSON, into the collector's export messages.

OTLP/JSON is protobuf's JSON mapping with two differences that ``json_format`` does not
know (opentelemetry-proto's docs, "JSON Protobuf Encoding"): trace and span ids are hex,
not base64, and enums may be given as integers. Ids are rewritten to base64 before
parsing; integers for enums are accepted by ``json_format`` as they are. Unknown fields
are ignored, as the specification requires of receivers.
"""

import base64
import binascii
from dataclasses import dataclass
from enum import StrEnum

import msgspec
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
#: Deeper bodies are refused before protobuf's own recursion limit (100) is reached.
MAX_JSON_DEPTH = 64

_json_decoder = msgspec.json.Decoder()


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


def _hex_ids_to_base64(document: object) -> None:
    """Rewrite every hex id in place; iterative, so nesting cannot exhaust the stack."""
    stack: list[tuple[object, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise MalformedExport(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ID_FIELDS and isinstance(value, str):
                    try:
                        node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                    except ValueError:
                        raise MalformedExport(f"{key} '{value[:40]}' is not hex-encoded.") from None
                elif isinstance(value, dict | list):
                    stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node if isinstance(item, dict | list))


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
        document = _json_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as error:
        raise MalformedExport(f"The body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedExport(f"The body must be a JSON object ({message.DESCRIPTOR.name}).")
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError, binascii.Error) as error:
        raise MalformedExport(f"The body is not an OTLP/JSON {message.DESCRIPTOR.name}: {error}") from None
    return message


def response_encode(message: Message, *, content_type: str) -> bytes:
    if content_type == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()
