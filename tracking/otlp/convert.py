"""Spans, log records and metric data points into data points, as a dataset's mapping says.

Each OTLP item (a span, a log record, a metric data point) gives zero or more data points in
the seed's layouts (docs/otlp.md). Every point is then checked like any ingested point
(``tracking.ingest.decode.point_check``), so Analytics Engine's limits hold whatever the
attributes carry. Nothing is lost without a word: an item whose point fails a check is
rejected and counted (OTLP's ``rejected_*``), an attribute value that does not fit its column
is dropped from the point and counted, and an item that no rule maps is counted too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from google.protobuf.message import Message

from tracking.ingest import decode as ingest
from tracking.ingest.decode import EPOCH, DataPoint, PointError, TimeWindow, ValidatedBatch
from tracking.otlp.decode import Signal
from tracking.otlp.mapping import SPAN_KINDS, OtlpMapping

SPAN_KIND_SERVER = 2
STATUS_CODE_ERROR = 2
MESSAGE_MAX_BYTES = 2048
TEXT_MAX_DEPTH = 8
GENAI_TOKEN_METRIC = "gen_ai.client.token.usage"
ITEM_NAMES = {Signal.TRACES: "span", Signal.LOGS: "log record", Signal.METRICS: "data point"}


@dataclass
class Conversion:
    """The outcome of mapping one export request, before the points are buffered."""

    signal: Signal
    batch: ValidatedBatch = field(default_factory=ValidatedBatch)
    items: int = 0
    rejected_items: set[int] = field(default_factory=set)
    #: Items no rule of the mapping turned into a point, by reason.
    unmapped: Counter[str] = field(default_factory=Counter)
    #: Attribute values left out of a point because they did not fit, by column and reason.
    dropped: Counter[str] = field(default_factory=Counter)

    def reject(self, item: int, code: str, detail: str) -> None:
        self.rejected_items.add(item)
        self.batch.errors.append(PointError(item, code, detail))


def _text(value: Message, depth: int = 0) -> str | None:
    """An ``AnyValue`` as column text: scalars as written, arrays and maps as compact JSON."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return value.string_value
    if kind in ("array_value", "kvlist_value"):
        return json.dumps(_builtin(value, depth), separators=(",", ":"), ensure_ascii=False)
    return str(_builtin(value, depth))


def _builtin(value: Message, depth: int) -> object:
    kind = value.WhichOneof("value")
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind in ("array_value", "kvlist_value") and depth >= TEXT_MAX_DEPTH:
        return "…"
    if kind == "array_value":
        return [_builtin(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _builtin(kv.value, depth + 1) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _number(value: Message | None) -> float | None:
    if value is None:
        return None
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return float(value.int_value)
    if kind == "double_value":
        return value.double_value
    return None


def _attributes(key_values: Iterable[Message]) -> dict[str, Message]:
    return {kv.key: kv.value for kv in key_values}


def _moment(nanos: int) -> datetime | None:
    """Exact microseconds; 0 (unset) means "now", as a point without a timestamp."""
    return EPOCH + timedelta(microseconds=nanos // 1000) if nanos else None


def _truncate(text: str, limit: int) -> tuple[str, bool]:
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return text, False
    return encoded[:limit].decode("utf-8", "ignore"), True


@dataclass
class Source:
    """Where a point's values come from: the item's attributes, then its resource's."""

    attributes: dict[str, Message]
    resource: dict[str, Message]
    special: dict[str, str]

    def value(self, key: str) -> Message | None:
        found = self.attributes.get(key)
        return found if found is not None else self.resource.get(key)

    def text(self, *keys: str) -> str | None:
        for key in keys:
            if key in self.special:
                return self.special[key] or None
            found = self.value(key)
            if found is not None:
                text = _text(found)
                if text is not None:
                    return text
        return None

    def number(self, *keys: str) -> float | None:
        for key in keys:
            found = _number(self.value(key))
            if found is not None:
                return found
        return None


class PointBuilder:
    """Lays fixed values and a mapping's free columns into one data point."""

    def __init__(self, conversion: Conversion) -> None:
        self.conversion = conversion

    def build(
        self,
        *,
        blobs: dict[int, str | None],
        doubles: dict[int, float],
        columns: dict[str, str],
        source: Source,
        moment: datetime | None,
        point_id: str | None,
    ) -> DataPoint:
        blob_values = dict(blobs)
        double_values = dict(doubles)
        if (message := blob_values.get(6)) is not None:
            blob_values[6], cut = _truncate(message, MESSAGE_MAX_BYTES)
            if cut:
                self.conversion.dropped[f"blob6 (message): cut to {MESSAGE_MAX_BYTES} bytes"] += 1
        used = sum(len(text.encode("utf-8", "surrogatepass")) for text in blob_values.values() if text)
        index1 = None
        for column, key in columns.items():
            if column == "index1":
                text = source.text(key)
                if text is not None and len(text.encode("utf-8", "surrogatepass")) > ingest.MAX_INDEX_BYTES:
                    self.conversion.dropped[f"index1 ({key}): longer than {ingest.MAX_INDEX_BYTES} bytes"] += 1
                else:
                    index1 = text
            elif column.startswith("double"):
                found = source.value(key)
                number = _number(found)
                if number is not None:
                    double_values[int(column[6:])] = number
                elif found is not None:
                    self.conversion.dropped[f"{column} ({key}): not a number"] += 1
            else:
                text = source.text(key)
                if text is None:
                    continue
                size = len(text.encode("utf-8", "surrogatepass"))
                if used + size > ingest.MAX_BLOB_BYTES:
                    self.conversion.dropped[f"{column} ({key}): blobs would exceed {ingest.MAX_BLOB_BYTES} bytes"] += 1
                    continue
                used += size
                blob_values[int(column[4:])] = text
        width = max(blob_values, default=0)
        double_width = max(double_values, default=0)
        return DataPoint(
            blobs=[blob_values.get(n) for n in range(1, width + 1)] or None,
            doubles=[double_values.get(n, 0.0) for n in range(1, double_width + 1)] or None,
            indexes=[index1] if index1 else None,
            timestamp=moment,
            id=point_id,
        )


class Converter:
    """Walks one export request; subclasses know their signal's items."""

    def __init__(self, *, signal: Signal, mapping: OtlpMapping, window: TimeWindow) -> None:
        self.mapping = mapping
        self.window = window
        self.conversion = Conversion(signal=signal)
        self.builder = PointBuilder(self.conversion)

    def convert(self, request: Message) -> Conversion:
        raise NotImplementedError

    def add(self, item: int, label: str, point: DataPoint) -> None:
        try:
            self.conversion.batch.rows.append(ingest.point_check(point, self.window))
        except ingest.PointRejected as rejected:
            self.conversion.reject(item, rejected.code, f"{label}: {rejected.detail}")

    def point_id(self, base: str | None, suffix: str) -> str | None:
        return f"{base}{suffix}" if base and self.mapping.dedup else None


def _http_path(source: Source) -> str | None:
    """The route (low cardinality) if the instrumentation knows it, else the path, without the query."""
    route = source.text("http.route")
    if route:
        return route
    target = source.text("url.path", "http.target")
    if target:
        return target.split("?", 1)[0]
    url = source.text("url.full", "http.url")
    if url:
        try:
            return urlsplit(url).path or "/"
        except ValueError:
            return None
    return None


def _http_status(source: Source) -> int | None:
    status = source.number("http.response.status_code", "http.status_code")
    return int(status) if status is not None and math.isfinite(status) else None


class SpanConverter(Converter):
    def convert(self, request: Message) -> Conversion:
        item = -1
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope.name
                for span in scope_spans.spans:
                    item += 1
                    self.span(item, span, resource, scope)
        self.conversion.items = item + 1
        return self.conversion

    def span(self, item: int, span: Message, resource: dict[str, Message], scope: str) -> None:
        trace_id, span_id = span.trace_id.hex(), span.span_id.hex()
        source = Source(
            _attributes(span.attributes),
            resource,
            {"trace_id": trace_id, "span_id": span_id, "span.name": span.name, "scope.name": scope},
        )
        label = f"span {item} ('{span.name[:80]}')"
        base_id = f"{trace_id}{span_id}" if len(trace_id) == 32 and len(span_id) == 16 else None
        moment = _moment(span.start_time_unix_nano)
        produced = 0
        mapping = self.mapping
        kind = SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else "unspecified"
        method = source.text("http.request.method", "http.method")
        if mapping.requests.enabled and kind in mapping.requests.span_kinds and method:
            if span.end_time_unix_nano < span.start_time_unix_nano:
                self.conversion.reject(item, "invalid_span", f"{label}: end_time_unix_nano is before start_time_unix_nano.")
                return
            status = _http_status(source)
            size = source.number("http.response.body.size", "http.response_content_length")
            doubles = {1: (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6, 2: 1.0}
            if size is not None:
                doubles[3] = size
            point = self.builder.build(
                blobs={1: method, 2: _http_path(source) or span.name, 3: None if status is None else str(status)},
                doubles=doubles,
                columns=mapping.requests.columns,
                source=source,
                moment=moment,
                point_id=self.point_id(base_id, "r"),
            )
            self.add(item, label, point)
            produced += 1
        if mapping.ai.enabled and (model := source.text("gen_ai.response.model", "gen_ai.request.model")):
            self.add(item, label, self.ai_point(source, model, moment, self.point_id(base_id, "a")))
            produced += 1
        if mapping.errors.enabled and mapping.errors.from_spans:
            produced += self.span_errors(item, label, span, source, base_id)
        if not produced:
            self.conversion.unmapped["matched no rule (not a mapped HTTP span, no error, no gen_ai model)"] += 1

    def ai_point(self, source: Source, model: str, moment: datetime | None, point_id: str | None) -> DataPoint:
        input_tokens = source.number("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens") or 0.0
        output_tokens = source.number("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens") or 0.0
        cost = source.number(self.mapping.ai.cost_attribute) or 0.0
        return self.builder.build(
            blobs={1: "ai-usage", 2: model, 3: source.text("gen_ai.provider.name", "gen_ai.system"),
                   6: source.text("gen_ai.operation.name")},
            doubles={1: input_tokens + output_tokens, 2: cost, 3: 1.0, 4: input_tokens, 5: output_tokens},
            columns=self.mapping.ai.columns,
            source=source,
            moment=moment,
            point_id=point_id,
        )

    def span_errors(self, item: int, label: str, span: Message, source: Source, base_id: str | None) -> int:
        path = _http_path(source) or span.name
        exceptions = [event for event in span.events if event.name == "exception"]
        found: list[tuple[str, str | None, int]] = []
        for event in exceptions:
            event_source = Source(_attributes(event.attributes), {}, {})
            error_type = event_source.text("exception.type") or source.text("error.type") or "exception"
            found.append((error_type, event_source.text("exception.message"), event.time_unix_nano))
        if not found and span.status.code == STATUS_CODE_ERROR:
            status = _http_status(source)
            fallback = f"http_{status}" if status is not None else "span_error"
            found.append((source.text("error.type") or fallback, span.status.message or None, span.end_time_unix_nano))
        for number, (error_type, message, nanos) in enumerate(found):
            point = self.builder.build(
                blobs={1: "error", 2: error_type, 3: path, 6: message},
                doubles={1: 1.0},
                columns=self.mapping.errors.columns,
                source=source,
                moment=_moment(nanos) or _moment(span.start_time_unix_nano),
                point_id=self.point_id(base_id, f"e{number}"),
            )
            self.add(item, label, point)
        return len(found)


def _digest(*parts: bytes) -> str:
    hasher = hashlib.blake2b(digest_size=20)
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)
    return hasher.hexdigest()


class LogConverter(Converter):
    def convert(self, request: Message) -> Conversion:
        item = -1
        for resource_logs in request.resource_logs:
            resource = _attributes(resource_logs.resource.attributes)
            resource_bytes = resource_logs.resource.SerializeToString(deterministic=True)
            for scope_logs in resource_logs.scope_logs:
                scope = scope_logs.scope.name
                for record in scope_logs.log_records:
                    item += 1
                    self.record(item, record, resource, resource_bytes, scope)
        self.conversion.items = item + 1
        return self.conversion

    def record(self, item: int, record: Message, resource: dict[str, Message], resource_bytes: bytes, scope: str) -> None:
        mapping = self.mapping
        severity = record.severity_number
        as_error = mapping.errors.enabled and severity >= mapping.errors.min_log_severity
        as_log = mapping.logs.enabled and severity >= mapping.logs.min_severity
        if not (as_error or as_log):
            self.conversion.unmapped["below the mapping's severity thresholds"] += 1
            return
        source = Source(
            _attributes(record.attributes),
            resource,
            {"trace_id": record.trace_id.hex(), "span_id": record.span_id.hex(), "scope.name": scope,
             "severity_text": record.severity_text},
        )
        body = _text(record.body)
        label = f"log record {item}"
        moment = _moment(record.time_unix_nano or record.observed_time_unix_nano)
        point_id = None
        if mapping.dedup:
            point_id = "l" + _digest(resource_bytes, scope.encode(), record.SerializeToString(deterministic=True),
                                     str(item).encode())
        if as_error:
            severity_name = (record.severity_text or "ERROR").upper()
            point = self.builder.build(
                blobs={1: "error",
                       2: source.text("exception.type", "error.type") or f"log:{severity_name}",
                       3: _http_path(source) or scope,
                       6: body or source.text("exception.message")},
                doubles={1: 1.0},
                columns=mapping.errors.columns,
                source=source,
                moment=moment,
                point_id=point_id,
            )
        else:
            point = self.builder.build(
                blobs={1: "log", 2: record.severity_text or str(severity), 3: scope, 6: body},
                doubles={1: float(severity), 2: 1.0},
                columns=mapping.logs.columns,
                source=source,
                moment=moment,
                point_id=point_id,
            )
        self.add(item, label, point)


def _bound_text(bound: float) -> str:
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    return repr(bound)


class MetricConverter(Converter):
    def convert(self, request: Message) -> Conversion:
        self.item = -1
        for resource_metrics in request.resource_metrics:
            resource = _attributes(resource_metrics.resource.attributes)
            resource_bytes = resource_metrics.resource.SerializeToString(deterministic=True)
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    self.metric(metric, resource, resource_bytes, scope_metrics.scope.name)
        self.conversion.items = self.item + 1
        return self.conversion

    def metric(self, metric: Message, resource: dict[str, Message], resource_bytes: bytes, scope: str) -> None:
        kind = metric.WhichOneof("data")
        data = getattr(metric, kind) if kind else None
        points = list(data.data_points) if data is not None else []
        for data_point in points:
            self.item += 1
            if not self.mapping.metrics.enabled and not self._is_genai(metric):
                self.conversion.unmapped["metrics are not mapped (metrics.enabled is false)"] += 1
                continue
            source = Source(_attributes(data_point.attributes), resource, {"scope.name": scope})
            base_id = None
            if self.mapping.dedup:
                base_id = "m" + _digest(resource_bytes, scope.encode(), metric.name.encode(),
                                        data_point.SerializeToString(deterministic=True))
            label = f"data point {self.item} of '{metric.name[:80]}'"
            moment = _moment(data_point.time_unix_nano)
            produced = 0
            if self.mapping.metrics.enabled:
                produced += self.resource_points(metric, kind, data, data_point, source, moment, base_id, label)
            if self._is_genai(metric) and kind == "histogram":
                self.genai_point(data_point, source, moment, base_id, label)
                produced += 1
            if not produced:
                self.conversion.unmapped["metric data point with nothing to store"] += 1

    def _is_genai(self, metric: Message) -> bool:
        return self.mapping.ai.enabled and self.mapping.ai.from_metrics and metric.name == GENAI_TOKEN_METRIC

    def resource_points(self, metric: Message, kind: str | None, data: Message | None, data_point: Message,
                        source: Source, moment: datetime | None, base_id: str | None, label: str) -> int:
        """Gauges and sums as one point each; histograms and summaries as one point per bucket plus their sum."""
        common = {1: "resource", 2: metric.name, 5: kind, 7: metric.unit or None}
        rows: list[tuple[str, str | None, dict[int, float]]] = []
        if kind in ("gauge", "sum"):
            value = data_point.as_double if data_point.WhichOneof("value") == "as_double" else float(data_point.as_int)
            detail = None
            if kind == "sum":
                detail = "delta" if data is not None and data.aggregation_temporality == 1 else "cumulative"
            rows.append(("v", detail, {1: value, 2: 1.0}))
        elif kind == "histogram":
            bounds = list(data_point.explicit_bounds)
            counts = list(data_point.bucket_counts)
            if counts and len(counts) != len(bounds) + 1:
                self.conversion.reject(
                    self.item, "invalid_histogram",
                    f"{label}: bucket_counts has {len(counts)} entries for {len(bounds)} explicit_bounds.",
                )
                return 1
            for position, count in enumerate(counts):
                if count:
                    bound = bounds[position] if position < len(bounds) else math.inf
                    rows.append((f"b{position}", f"le={_bound_text(bound)}", {2: float(count), 3: bound if math.isfinite(bound) else 0.0}))
            rows.append(("s", "sum", {1: data_point.sum, 2: 0.0}))
        elif kind == "exponential_histogram":
            # Bucket i covers (base**i, base**(i+1)] with base = 2**(2**-scale): bounds as powers of 2,
            # so that scale -10 (base 2**1024) does not overflow before the exponent is applied.
            if not -10 <= data_point.scale <= 20:
                self.conversion.reject(self.item, "invalid_histogram", f"{label}: scale {data_point.scale} is outside -10..20.")
                return 1
            width = 2.0 ** -data_point.scale
            if data_point.zero_count:
                rows.append(("z", "le=0", {2: float(data_point.zero_count)}))
            for sign, buckets in ((1, data_point.positive), (-1, data_point.negative)):
                for position, count in enumerate(buckets.bucket_counts):
                    if count:
                        exponent = buckets.offset + position + (1 if sign > 0 else 0)
                        try:
                            bound = sign * 2.0 ** (exponent * width)
                        except OverflowError:
                            bound = sign * math.inf
                        rows.append((f"{'p' if sign > 0 else 'n'}{position}", f"le={_bound_text(bound)}",
                                     {2: float(count), 3: bound if math.isfinite(bound) else 0.0}))
            rows.append(("s", "sum", {1: data_point.sum, 2: 0.0}))
        elif kind == "summary":
            for position, quantile in enumerate(data_point.quantile_values):
                rows.append((f"q{position}", f"q={quantile.quantile!r}", {3: quantile.value}))
            rows.append(("s", "sum", {1: data_point.sum, 2: float(data_point.count)}))
        for suffix, detail, doubles in rows:
            point = self.builder.build(
                blobs={**common, 6: detail},
                doubles=doubles,
                columns=self.mapping.metrics.columns,
                source=source,
                moment=moment,
                point_id=self.point_id(base_id, suffix),
            )
            self.add(self.item, label, point)
        return len(rows)

    def genai_point(self, data_point: Message, source: Source, moment: datetime | None, base_id: str | None,
                    label: str) -> None:
        token_type = source.text("gen_ai.token.type")
        tokens = data_point.sum
        calls = float(data_point.count) if token_type == "input" else 0.0
        point = self.builder.build(
            blobs={1: "ai-usage", 2: source.text("gen_ai.response.model", "gen_ai.request.model") or "unknown",
                   3: source.text("gen_ai.provider.name", "gen_ai.system"), 6: source.text("gen_ai.operation.name")},
            doubles={1: tokens, 2: 0.0, 3: calls, 4: tokens if token_type == "input" else 0.0,
                     5: tokens if token_type == "output" else 0.0},
            columns=self.mapping.ai.columns,
            source=source,
            moment=moment,
            point_id=self.point_id(base_id, "a"),
        )
        self.add(self.item, label, point)


CONVERTERS: dict[Signal, type[Converter]] = {
    Signal.TRACES: SpanConverter,
    Signal.LOGS: LogConverter,
    Signal.METRICS: MetricConverter,
}


def export_convert(request: Message, *, signal: Signal, mapping: OtlpMapping, window: TimeWindow) -> Conversion:
    converter = CONVERTERS[signal](signal=signal, mapping=mapping, window=window)
    return converter.convert(request)
