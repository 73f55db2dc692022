"""Property tests of the OTLP receivers: whatever protobuf or JSON arrives, 200 or 4xx, never a 500.

Documents are generated in the shape of real exports (resources, scopes, spans, log records,
every metric type, nested attribute values) with hostile values in every field: ids of any
length or not hex, out-of-range enums, huge and negative times, NaN and infinite numbers,
mismatched histogram buckets, lone surrogates. Each is sent as OTLP/JSON and, when protobuf
can hold it, as protobuf; raw bytes go plain, gzipped, and under a gzip header they do not
match. Whatever is accepted must then drain without a dead letter.
"""

import base64
import json
import time

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.tracking.otlp.helpers import export
from tracking.ingest.buffer import buffer_depth
from tracking.models import DeadLetter
from tracking.otlp.decode import MESSAGES, MalformedExport, Signal, export_decode
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
DRAINED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

NOW_NS = time.time_ns()
hostile_text = st.sampled_from(["", "\x00", "\ud800", "é" * 60, "/a?b=c", "x" * 200])
hostile_numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.sampled_from(["NaN", "Infinity", "1e999"])
hostile_times = st.integers(min_value=-5, max_value=2**65) | st.sampled_from(["0", "abc"]) | st.just(0)
semantic_keys = st.sampled_from([
    "http.request.method", "http.method", "http.route", "url.path", "http.target", "http.url", "url.full",
    "http.response.status_code", "http.status_code", "http.response.body.size", "service.name",
    "deployment.environment", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens",
    "gen_ai.usage.cost", "exception.type", "exception.message", "error.type", "gen_ai.token.type",
])


def export_documents(*, hostile: bool) -> st.SearchStrategy:
    """(signal, OTLP/JSON document) pairs; plausible values only, or hostile ones in every field.

    Plausible documents mostly parse and map to points, which exercises the mapping and the
    drain; hostile ones exercise every refusal.
    """
    text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
    integers = st.integers(-(2**63), 2**63 - 1)
    numbers = integers | st.floats(allow_nan=False, allow_infinity=False)
    times = st.integers(NOW_NS - 3_600_000_000_000, NOW_NS)
    ids = st.binary(min_size=16, max_size=16).map(bytes.hex) | st.binary(min_size=8, max_size=8).map(bytes.hex)
    kinds = st.integers(0, 5)
    if hostile:
        text, numbers, times = text | hostile_text, numbers | hostile_numbers, times | hostile_times
        integers = integers | hostile_numbers
        ids, kinds = ids | st.binary(max_size=20).map(bytes.hex) | text, kinds | st.integers(-3, 9) | text
    any_value = st.recursive(
        st.one_of(
            st.builds(lambda v: {"stringValue": v}, text),
            st.builds(lambda v: {"intValue": v}, integers),
            st.builds(lambda v: {"doubleValue": v}, numbers),
            st.builds(lambda v: {"boolValue": v}, st.booleans()),
            st.builds(lambda v: {"bytesValue": v}, st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())),
            st.just({}),
        ),
        lambda children: st.builds(lambda v: {"arrayValue": {"values": v}}, st.lists(children, max_size=3))
        | st.builds(lambda v: {"kvlistValue": {"values": v}}, st.lists(st.builds(lambda k, x: {"key": k, "value": x}, text, children), max_size=3)),
        max_leaves=8,
    )
    http_attributes = st.builds(
        lambda method, route, status: [
            {"key": "http.request.method", "value": {"stringValue": method}},
            {"key": "http.route", "value": {"stringValue": route}},
            {"key": "http.response.status_code", "value": {"intValue": status}},
        ],
        st.sampled_from(["GET", "POST", "get", "_OTHER"]) | text, text, st.integers(100, 599) | integers,
    )
    attributes = st.builds(
        lambda fixed, extra: fixed + extra,
        http_attributes | st.just([]),
        st.lists(st.builds(lambda k, v: {"key": k, "value": v}, semantic_keys | text, any_value), max_size=4),
    )
    resource = st.builds(lambda a: {"attributes": a}, attributes)
    scope = st.builds(lambda n: {"name": n}, text)
    span = st.fixed_dictionaries({"traceId": ids, "spanId": ids, "startTimeUnixNano": times, "endTimeUnixNano": times}, optional={
        "name": text, "kind": kinds, "attributes": attributes,
        "status": st.fixed_dictionaries({}, optional={"code": st.integers(0, 2), "message": text}),
        "events": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["exception", "other"])},
                                                 optional={"attributes": attributes, "timeUnixNano": times}), max_size=2),
    })
    log_record = st.fixed_dictionaries({"timeUnixNano": times, "severityNumber": st.integers(0, 24)}, optional={
        "observedTimeUnixNano": times, "severityText": text, "body": any_value, "attributes": attributes,
        "traceId": ids, "spanId": ids,
    })
    data_point = st.fixed_dictionaries({"timeUnixNano": times}, optional={
        "attributes": attributes, "asDouble": numbers, "asInt": st.integers(-(2**63), 2**63 - 1),
        "count": st.integers(0, 2**64 - 1), "sum": numbers, "explicitBounds": st.lists(numbers, max_size=4),
        "bucketCounts": st.lists(st.integers(0, 2**64 - 1), max_size=5), "scale": st.integers(-30, 30),
        "zeroCount": st.integers(0, 10),
        "positive": st.fixed_dictionaries({}, optional={"offset": st.integers(-(2**31), 2**31 - 1),
                                                         "bucketCounts": st.lists(st.integers(0, 9), max_size=3)}),
        "quantileValues": st.lists(st.fixed_dictionaries({"quantile": numbers, "value": numbers}), max_size=3),
    })
    metric = st.builds(
        lambda name, unit, kind, points, temporality: {
            "name": name, "unit": unit, kind: {"dataPoints": points, "aggregationTemporality": temporality}},
        text | st.just("gen_ai.client.token.usage"), text,
        st.sampled_from(["gauge", "sum", "histogram", "exponentialHistogram", "summary"]),
        st.lists(data_point, max_size=3), st.integers(0, 2),
    )

    def grouped(key: str, items: str, item_list: str, strategy: st.SearchStrategy) -> st.SearchStrategy:
        scopes = st.lists(st.builds(lambda sc, xs: {"scope": sc, item_list: xs}, scope, st.lists(strategy, max_size=4)), max_size=2)
        return st.builds(lambda groups: {key: groups}, st.lists(st.builds(lambda r, s: {"resource": r, items: s}, resource, scopes), max_size=2))

    by_signal = {
        Signal.TRACES: grouped("resourceSpans", "scopeSpans", "spans", span),
        Signal.LOGS: grouped("resourceLogs", "scopeLogs", "logRecords", log_record),
        Signal.METRICS: grouped("resourceMetrics", "scopeMetrics", "metrics", metric),
    }
    return st.sampled_from(list(Signal)).flatmap(lambda signal: st.tuples(st.just(signal), by_signal[signal]))


documents = export_documents(hostile=True) | export_documents(hostile=False)
plausible_documents = export_documents(hostile=False)


def _send_both(client: Client, key: str, signal: Signal, document: dict) -> list[int]:
    """Post the document as JSON and, when it is a valid export, as protobuf; the statuses seen."""
    body = json.dumps(document).encode("utf-8", "surrogatepass")
    statuses = [export(client, key, "fuzz", signal, body, encoding="json").status_code]
    try:
        message = export_decode(body, signal=signal, content_type="application/json")
    except MalformedExport:
        return statuses
    response = export(client, key, "fuzz", signal, message.SerializeToString())
    if response.status_code == 200:
        MESSAGES[signal].response.FromString(response.content)
    statuses.append(response.status_code)
    return statuses


@FUZZ
@given(case=documents)
@example(case=(Signal.METRICS, {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "exponentialHistogram": {
    "dataPoints": [{"timeUnixNano": NOW_NS, "scale": -10, "positive": {"offset": 3, "bucketCounts": [1]}}]}}]}]}]}))
def test_any_export_document_gets_200_or_4xx(client: Client, write_key: str, case) -> None:
    signal, document = case

    statuses = _send_both(client, write_key, signal, document)

    assert all(status == 200 or 400 <= status < 500 for status in statuses), (statuses, document)


@FUZZ
@given(signal=st.sampled_from(list(Signal)), body=st.binary(max_size=300), content_type=st.sampled_from(["protobuf", "json"]),
       wrapping=st.sampled_from(["plain", "gzip", "claims gzip"]))
@example(signal=Signal.TRACES, body=b"\x0a\x80\x80\x80\x80\x10", content_type="protobuf", wrapping="plain")
@example(signal=Signal.LOGS, body=b"[" * 50_000, content_type="json", wrapping="plain")
@example(signal=Signal.LOGS, body=b"[" * 50_000, content_type="json", wrapping="gzip")
@example(signal=Signal.TRACES, body=b'{"resourceSpans": ' + b'{"x": ' * 200 + b"1" + b"}" * 201, content_type="json", wrapping="plain")
@example(signal=Signal.TRACES, body=b"\x1f\x8b\x08\x00truncated", content_type="protobuf", wrapping="claims gzip")
@example(signal=Signal.METRICS, body=b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"sum": {"dataPoints": [{"asInt": "99999999999999999999999"}]}}]}]}]}', content_type="json", wrapping="plain")
def test_any_bytes_get_200_or_4xx(
    client: Client, write_key: str, signal: Signal, body: bytes, content_type: str, wrapping: str
) -> None:
    """Raw bytes, gzipped bytes, and bytes that claim to be gzip but are not."""
    headers = {"HTTP_CONTENT_ENCODING": "gzip"} if wrapping == "claims gzip" else {}
    response = export(client, write_key, "fuzz", signal, body, encoding=content_type, compress=wrapping == "gzip", **headers)

    assert response.status_code == 200 or 400 <= response.status_code < 500, (response.status_code, body[:200])


def test_attribute_values_nested_past_protobufs_limit_are_400(client: Client, write_key: str) -> None:
    value: dict = {"stringValue": "deep"}
    for _ in range(120):
        value = {"arrayValue": {"values": [value]}}
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "attributes": [{"key": "k", "value": value}]}]}]}]}

    response = export(client, write_key, "fuzz", "traces", json.dumps(document).encode(), encoding="json")

    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
@DRAINED
@given(case=plausible_documents | documents)
def test_whatever_is_accepted_drains_without_a_dead_letter(client: Client, write_key: str, partitions: None, case) -> None:
    signal, document = case

    _send_both(client, write_key, signal, document)
    buffer_drain(time_budget=5, block_ms=10)

    assert buffer_depth() == 0
    assert DeadLetter.objects.count() == 0
