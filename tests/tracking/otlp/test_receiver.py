"""OTLP/HTTP receivers: encodings, the default mapping, partial success and every error status."""

import json

import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from meauxcloud.redis import redis_client
from projects.governance.models import ProjectQuota
from projects.governance.quotas import quota_limits_forget
from projects.services import project_suspend
from tests.clients.toolchain import free_port
from tests.tracking.helpers import stored_rows
from tests.tracking.otlp.helpers import attributes, export, http_attrs, log_record, logs, metrics, span, traces
from tracking.ingest import buffer
from tracking.models import Dataset
from tracking.services import buffer_drain

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST_COLUMNS = "index1, blob1, blob2, blob3, blob4, blob5, double1, double2, double3"
ERROR_COLUMNS = "blob1, blob2, blob3, blob4, blob5, blob6, double1"


def redis_forget() -> None:
    """Drop the per-process Redis client and the append script bound to it, so REDIS_URL is read again."""
    redis_client.cache_clear()
    buffer._append_script.cache_clear()


def drain() -> int:
    return buffer_drain(time_budget=5, block_ms=10).points


def trace_hex(number: int) -> str:
    return number.to_bytes(16, "big").hex()


def _status(response) -> tuple[str, str]:
    status = status_pb2.Status()
    if response["Content-Type"] == "application/x-protobuf":
        status.ParseFromString(response.content)
    else:
        json_format.Parse(response.content, status)
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason, status.message


@pytest.fixture(autouse=True)
def _fresh_quota_counters(project):
    client = redis_client()
    yield
    stale = list(client.scan_iter(match=f"meauxcloud:quota:{project.id}:*"))
    if stale:
        client.delete(*stale)
    quota_limits_forget(project_id=project.id)


@pytest.mark.parametrize(("encoding", "compress"), [("protobuf", False), ("protobuf", True), ("json", False), ("json", True)])
def test_a_server_span_becomes_a_request_point_in_the_seed_layout(client, write_key, partitions, encoding, compress):
    response = export(client, write_key, "shop", "traces", traces(span(1, duration_ms=12.5)),
                      encoding=encoding, compress=compress)

    assert response.status_code == 200
    assert response["Content-Type"] == ("application/x-protobuf" if encoding == "protobuf" else "application/json")
    answer = ExportTraceServiceResponse()
    if encoding == "protobuf":
        answer.ParseFromString(response.content)
    else:
        json_format.Parse(response.content, answer)
    assert not answer.HasField("partial_success")
    assert drain() == 1
    assert stored_rows(Dataset.objects.get(name="shop"), REQUEST_COLUMNS) == [
        (trace_hex(1), "GET", "/items/{id}", "200", "production", "shop", 12.5, 1.0, 512.0)
    ]


def test_old_http_conventions_and_a_path_without_route_are_understood(client, write_key, partitions):
    old = {"http.method": "POST", "http.target": "/cart?x=1", "http.status_code": 201, "http.response_content_length": 9}
    url_only = {"http.method": "GET", "http.url": "http://shop.test:8080/items/3?a=1", "http.status_code": 200}
    export(client, write_key, "shop", "traces", traces(span(2, attrs=old, duration_ms=3), span(3, attrs=url_only, duration_ms=4)))

    drain()
    assert stored_rows(Dataset.objects.get(name="shop"), REQUEST_COLUMNS) == [
        (trace_hex(2), "POST", "/cart", "201", "production", "shop", 3.0, 1.0, 9.0),
        (trace_hex(3), "GET", "/items/3", "200", "production", "shop", 4.0, 1.0, None),
    ]


def test_a_failed_request_is_a_request_and_an_error_per_exception(client, write_key, partitions):
    failing = span(3, attrs=http_attrs(status=500, size=None), error=True, exception=("ValueError", "bad sku"))
    plain_5xx = span(4, attrs=http_attrs(route="/pay", status=503, size=None), error=True)

    response = export(client, write_key, "shop", "traces", traces(failing, plain_5xx))

    assert response.status_code == 200
    assert drain() == 4
    dataset = Dataset.objects.get(name="shop")
    assert sorted(stored_rows(dataset, ERROR_COLUMNS)) == [
        ("GET", "/items/{id}", "500", "production", "shop", None, 12.5),
        ("GET", "/pay", "503", "production", "shop", None, 12.5),
        ("error", "ValueError", "/items/{id}", "production", "shop", "bad sku", 1.0),
        ("error", "http_503", "/pay", "production", "shop", None, 1.0),
    ]


def test_internal_spans_are_not_stored_and_the_answer_says_so(client, write_key, partitions):
    internal = span(5, kind=Span.SPAN_KIND_INTERNAL, attrs={"db.system": "postgresql"})

    response = export(client, write_key, "shop", "traces", traces(span(6), internal), encoding="json")

    body = json.loads(response.content)
    assert body == {"partialSuccess": {
        "errorMessage": "1 spans not stored: matched no rule (not a mapped HTTP span, no error, no gen_ai model)."}}
    assert drain() == 1


def test_a_genai_span_becomes_an_ai_usage_point(client, write_key, partitions):
    llm = span(7, kind=Span.SPAN_KIND_CLIENT, name="chat gpt-5", attrs={
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-5",
        "gen_ai.response.model": "gpt-5-2026-08", "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30, "gen_ai.usage.cost": 0.0042,
    })

    export(client, write_key, "shop", "traces", traces(llm))

    assert drain() == 1
    assert stored_rows(Dataset.objects.get(name="shop"),
                       "blob1, blob2, blob3, blob6, double1, double2, double3, double4, double5") == [
        ("ai-usage", "gpt-5-2026-08", "openai", "chat", 150.0, 0.0042, 1.0, 120.0, 30.0)
    ]


def test_error_logs_become_error_points_and_other_logs_are_counted_not_stored(client, write_key, partitions):
    request = logs(
        log_record(17, "payment declined", {"exception.type": "CardError"}),
        log_record(21, "disk full"),
        log_record(9, "order placed"),
    )

    response = export(client, write_key, "shop", "logs", request)

    answer = ExportLogsServiceResponse()
    answer.ParseFromString(response.content)
    assert answer.partial_success.rejected_log_records == 0
    assert answer.partial_success.error_message == (
        "1 log records not stored: below the mapping's severity thresholds.")
    assert drain() == 2
    assert sorted(stored_rows(Dataset.objects.get(name="shop"), ERROR_COLUMNS)) == [
        ("error", "CardError", "shop.orders", "production", "shop", "payment declined", 1.0),
        ("error", "log:FATAL", "shop.orders", "production", "shop", "disk full", 1.0),
    ]


def test_a_mapping_that_asks_for_logs_stores_them_as_log_points(client, write_key, project, partitions):
    Dataset.objects.create(project=project, name="shop", otlp_mapping={"logs": {"enabled": True, "min_severity": 9}})

    export(client, write_key, "shop", "logs", logs(log_record(9, "order placed", trace=5), log_record(5, "debug")))

    assert drain() == 1
    assert stored_rows(Dataset.objects.get(name="shop"), "index1, blob1, blob2, blob3, blob6, double1, double2") == [
        (trace_hex(5), "log", "INFO", "shop.orders", "order placed", 9.0, 1.0)
    ]


def _histogram() -> metrics_pb2.Metric:
    metric = metrics_pb2.Metric(name="http.server.duration", unit="ms")
    metric.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    point = metric.histogram.data_points.add(
        time_unix_nano=span(1).start_time_unix_nano, count=7, sum=123.5, explicit_bounds=[10.0, 100.0],
        bucket_counts=[2, 0, 5],
    )
    point.attributes.extend(attributes({"http.route": "/a"}))
    return metric


def test_metrics_become_resource_points_with_histograms_kept_as_buckets(client, write_key, partitions):
    gauge = metrics_pb2.Metric(name="process.memory", unit="By")
    gauge.gauge.data_points.add(time_unix_nano=span(1).start_time_unix_nano, as_int=2048)
    counter = metrics_pb2.Metric(name="orders", unit="1")
    counter.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    counter.sum.is_monotonic = True
    counter.sum.data_points.add(time_unix_nano=span(1).start_time_unix_nano, as_double=3.0)

    response = export(client, write_key, "infra", "metrics", metrics(gauge, counter, _histogram()), encoding="json")

    assert json.loads(response.content) == {}
    assert drain() == 5
    assert sorted(stored_rows(Dataset.objects.get(name="infra"),
                              "blob1, blob2, blob3, blob5, blob6, blob7, double1, double2, double3")) == [
        ("resource", "http.server.duration", "shop", "histogram", "le=+Inf", "ms", 0.0, 5.0, 0.0),
        ("resource", "http.server.duration", "shop", "histogram", "le=10.0", "ms", 0.0, 2.0, 10.0),
        ("resource", "http.server.duration", "shop", "histogram", "sum", "ms", 123.5, 0.0, None),
        ("resource", "orders", "shop", "sum", "delta", "1", 3.0, 1.0, None),
        ("resource", "process.memory", "shop", "gauge", None, "By", 2048.0, 1.0, None),
    ]


def test_exponential_histograms_keep_their_buckets_with_power_of_two_bounds(client, write_key, partitions):
    metric = metrics_pb2.Metric(name="latency", unit="s")
    point = metric.exponential_histogram.data_points.add(
        time_unix_nano=span(1).start_time_unix_nano, scale=0, count=6, sum=9.5, zero_count=1)
    point.positive.offset = 1
    point.positive.bucket_counts.extend([2, 0, 3])

    export(client, write_key, "infra", "metrics", metrics(metric))

    assert drain() == 4
    assert sorted(stored_rows(Dataset.objects.get(name="infra"), "blob5, blob6, double1, double2, double3")) == [
        ("exponential_histogram", "le=0", 0.0, 1.0, None),
        ("exponential_histogram", "le=16.0", 0.0, 3.0, 16.0),
        ("exponential_histogram", "le=4.0", 0.0, 2.0, 4.0),
        ("exponential_histogram", "sum", 9.5, 0.0, None),
    ]


def test_genai_token_metrics_become_ai_points_when_the_mapping_asks(client, write_key, project, partitions):
    Dataset.objects.create(project=project, name="llm", otlp_mapping={"ai": {"from_metrics": True}, "metrics": {"enabled": False}})
    metric = metrics_pb2.Metric(name="gen_ai.client.token.usage", unit="{token}")
    for token_type, total, calls in (("input", 900.0, 3), ("output", 150.0, 3)):
        point = metric.histogram.data_points.add(time_unix_nano=span(1).start_time_unix_nano, count=calls, sum=total)
        point.attributes.extend(attributes({"gen_ai.token.type": token_type, "gen_ai.request.model": "claude-x",
                                            "gen_ai.provider.name": "anthropic"}))

    export(client, write_key, "llm", "metrics", metrics(metric))

    assert drain() == 2
    assert sorted(stored_rows(Dataset.objects.get(name="llm"), "blob1, blob2, blob3, double1, double3, double4, double5")) == [
        ("ai-usage", "claude-x", "anthropic", 150.0, 0.0, 0.0, 150.0),
        ("ai-usage", "claude-x", "anthropic", 900.0, 3.0, 900.0, 0.0),
    ]


def test_invalid_items_are_rejected_and_counted_while_valid_ones_are_kept(client, write_key, partitions):
    backwards = span(8)
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1
    ancient = span(9, start_ns=1_000_000_000)
    nul = span(10, attrs=http_attrs(route="/a\x00b"))

    response = export(client, write_key, "shop", "traces", traces(span(11), backwards, ancient, nul))

    answer = ExportTraceServiceResponse()
    answer.ParseFromString(response.content)
    assert response.status_code == 200
    assert answer.partial_success.rejected_spans == 3
    assert answer.partial_success.error_message == (
        "3 of 4 spans rejected: span 1 ('GET /items/{id}'): end_time_unix_nano is before start_time_unix_nano. "
        "span 2 ('GET /items/{id}'): timestamp is older than the dataset's retention. "
        "span 3 ('GET /items/{id}'): blobs[1] contains a NUL character."
    )
    assert drain() == 1


def test_a_value_that_does_not_fit_its_column_is_dropped_and_counted(client, write_key, project, partitions):
    Dataset.objects.create(project=project, name="shop", otlp_mapping={
        "requests": {"columns": {"index1": "user.id", "double7": "user.tier", "blob8": "user.agent"}}})
    attrs = {**http_attrs(), "user.id": "u" * 97, "user.tier": "gold", "user.agent": "curl"}

    response = export(client, write_key, "shop", "traces", traces(span(12, attrs=attrs)), encoding="json")

    assert json.loads(response.content)["partialSuccess"] == {"errorMessage": (
        "1 attribute values dropped from points: double7 (user.tier): not a number. "
        "1 attribute values dropped from points: index1 (user.id): longer than 96 bytes.")}
    assert drain() == 1
    assert stored_rows(Dataset.objects.get(name="shop"), "index1, blob2, blob8, double7") == [
        ("", "/items/{id}", "curl", None)
    ]


def test_a_retried_export_is_stored_once(client, write_key, partitions):
    request = traces(span(13), span(14))

    export(client, write_key, "shop", "traces", request)
    retry = export(client, write_key, "shop", "traces", request)

    assert ExportTraceServiceResponse.FromString(retry.content).partial_success.error_message == (
        "2 points repeated points already received (same ids) and were not stored again.")
    assert drain() == 2


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"\xff\xff\xff", None, 400, "malformed_body"),
        (None, "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_bad_bodies_get_a_status_in_the_request_encoding(client, write_key, encoding, body, content_type, status, reason):
    response = export(client, write_key, "shop", "traces", body or traces(span(1)), encoding=encoding,
                      content_type=content_type)

    assert response.status_code == status
    assert _status(response)[0] == reason


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
@pytest.mark.parametrize(
    ("content_encoding", "status", "reason"),
    [("gzip", 400, "malformed_body"), ("br", 415, "unsupported_encoding")],
)
def test_a_body_that_is_not_in_its_content_encoding_gets_a_status(client, write_key, encoding, content_encoding, status, reason):
    response = export(client, write_key, "shop", "traces", traces(span(1)), encoding=encoding,
                      HTTP_CONTENT_ENCODING=content_encoding)

    assert response.status_code == status
    assert response["Content-Type"] == ("application/x-protobuf" if encoding == "protobuf" else "application/json")
    assert _status(response)[0] == reason


def test_json_ids_must_be_hex(client, write_key):
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "name": "x"}]}]}]}).encode()

    response = export(client, write_key, "shop", "traces", body, encoding="json")

    assert response.status_code == 400
    assert _status(response) == ("malformed_body", "traceId 'zz' is not hex-encoded.")


def test_unknown_json_fields_are_ignored(client, write_key, partitions):
    body = json.dumps({"resourceSpans": [], "futureField": {"a": 1}}).encode()

    assert export(client, write_key, "shop", "traces", body, encoding="json").status_code == 200


@pytest.mark.parametrize(("key", "status", "reason"), [(None, 401, "not_authenticated"), ("read", 403, "permission_denied")])
def test_a_write_key_is_required(client, read_key, key, status, reason):
    response = export(client, read_key if key else None, "shop", "traces", traces(span(1)))

    assert response.status_code == status
    assert _status(response)[0] == reason


def test_a_body_over_the_limit_is_413(client, write_key, settings):
    settings.TRACKING_MAX_BODY_BYTES = 100

    response = export(client, write_key, "shop", "traces", traces(*[span(n) for n in range(1, 10)]), compress=True)

    assert response.status_code == 413
    assert _status(response) == ("body_too_large", "Body exceeds 100 bytes (after decompression).")


def test_an_export_mapping_to_too_many_points_is_413(client, write_key, settings):
    settings.TRACKING_MAX_POINTS_PER_REQUEST = 2

    response = export(client, write_key, "shop", "traces", traces(*[span(n) for n in range(1, 4)]))

    assert response.status_code == 413
    assert _status(response)[0] == "too_many_points"


def test_over_quota_is_429_with_retry_after_and_nothing_stored(client, project, write_key, partitions):
    ProjectQuota.objects.create(project=project, points_per_day=2)
    quota_limits_forget(project_id=project.id)

    response = export(client, write_key, "shop", "traces", traces(span(1), span(2), span(3)))

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert _status(response)[0] == "points_quota_exceeded"
    assert drain() == 0


def test_a_full_buffer_is_503_with_retry_after(client, write_key, settings):
    settings.TRACKING_BUFFER_HIGH_WATER = 0

    response = export(client, write_key, "shop", "traces", traces(span(1)), encoding="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert _status(response)[0] == "buffer_full"


def test_an_unreachable_buffer_is_503_with_retry_after(client, write_key, settings):
    reachable = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    try:
        redis_forget()
        response = export(client, write_key, "shop", "traces", traces(span(1)))
    finally:
        settings.REDIS_URL = reachable
        redis_forget()

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert _status(response)[0] == "buffer_unavailable"


def test_an_invalid_dataset_name_is_400(client, write_key):
    response = export(client, write_key, "no-dashes", "traces", traces(span(1)))

    assert response.status_code == 400
    assert _status(response)[0] == "invalid_dataset"


def test_a_suspended_project_is_refused_before_the_body_is_read(client, project, write_key, partitions):
    project_suspend(project=project, reason="unpaid invoice")

    response = export(client, write_key, "shop", "traces", traces(span(1)))

    assert response.status_code == 403
    assert _status(response)[0] == "project_suspended"
    assert drain() == 0
