"""Validation of incoming data points with a typed decoder.

This is the ingest hot path: a DRF serializer validates ~41k points/s per core, msgspec
over a million, so points never pass through serializers. Rules and messages follow
Analytics Engine's runtime (``writeDataPoint(): Maximum of 20 blobs supported.``), so a
point refused by Cloudflare is refused here with the same words.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from tracking.columns import MAX_BLOBS, MAX_DOUBLES, MAX_INDEXES

MAX_INDEX_BYTES = 96
MAX_BLOB_BYTES = 16_000
MAX_ID_CHARS = 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp would round them)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class DataPoint(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """Analytics Engine's ``AnalyticsEngineDataPoint`` plus our ``timestamp`` and ``id``.

    ``gc=False``: decoded JSON holds only strings, numbers and lists of them, never a cycle,
    so the garbage collector need not track the thousands a batch decodes into.
    """

    blobs: list[str | None] | None = None
    doubles: list[float] | None = None
    indexes: list[str | None] | None = None
    timestamp: int | datetime | None = None
    id: str | None = None


class PointRow(msgspec.Struct, array_like=True, gc=False):
    """One accepted point, from its check to the COPY that stores it.

    ``array_like`` keeps its msgpack form the positional list ``[ts_us, index1, blobs,
    doubles, id]`` that buffered entries have always had, so entries written before a
    deploy drain after it. ``gc=False``: a row holds only strings, floats and lists of them,
    so the garbage collector need not track millions of them.
    """

    ts_us: int
    index1: str
    blobs: list[str | None]
    doubles: list[float]
    id: str | None = None


_point_decoder = msgspec.json.Decoder(DataPoint)
_batch_decoder = msgspec.json.Decoder(list[DataPoint])
_raw_batch_decoder = msgspec.json.Decoder(list[msgspec.Raw])


class PointRejected(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class MalformedBody(Exception):
    """The body as a whole is not JSON (or NDJSON) of the expected shape."""


@dataclass(frozen=True)
class PointError:
    index: int
    code: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "code": self.code, "detail": self.detail}


@dataclass
class ValidatedBatch:
    """Valid points as rows and the rejected ones."""

    rows: list[PointRow] = field(default_factory=list)
    errors: list[PointError] = field(default_factory=list)

    @property
    def received(self) -> int:
        return len(self.rows) + len(self.errors)

    def data_bytes(self) -> int:
        """Size of the point data the bytes quota counts: index and blob UTF-8 bytes, 8 per double."""
        total = 0
        for row in self.rows:
            total += len(row.index1.encode()) + 8 * len(row.doubles)
            total += sum(len(blob.encode()) for blob in row.blobs if blob is not None)
        return total


@dataclass(frozen=True)
class TimeWindow:
    """The timestamps a dataset accepts, in microseconds since the epoch."""

    now_us: int
    oldest_us: int
    newest_us: int


def _utf8(value: str, *, where: str) -> bytes:
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise PointRejected("invalid_utf8", f"{where} is not valid UTF-8.") from None
    if b"\x00" in encoded:
        raise PointRejected("nul_character", f"{where} contains a NUL character.")
    return encoded


def _timestamp_us(value: int | datetime, window: TimeWindow) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PointRejected(
                "invalid_timestamp", "timestamp must carry a UTC offset (RFC 3339), e.g. 2026-11-28T12:00:00Z."
            )
        ts_us = epoch_us(value)
    else:
        ts_us = value * 1000
    if ts_us < window.oldest_us:
        raise PointRejected("timestamp_too_old", "timestamp is older than the dataset's retention.")
    if ts_us > window.newest_us:
        raise PointRejected("timestamp_in_future", "timestamp is more than 1 day in the future.")
    return ts_us


def point_check(point: DataPoint, window: TimeWindow, *, plain: bool = False) -> PointRow:
    """Check one decoded point in Analytics Engine's order (indexes, blobs, doubles).

    ``plain``: the point was decoded from ASCII JSON without ``\\u`` escapes or NUL bytes
    (``body_plain``), so its strings are ASCII without NUL: their UTF-8 size is their length
    and they cannot fail to encode. The checks and messages are the same; only the work is less.
    """
    index1 = ""
    indexes = point.indexes
    if indexes:
        if len(indexes) > MAX_INDEXES:
            raise PointRejected("too_many_indexes", "Maximum of 1 indexes supported.")
        if indexes[0] is not None:
            index1 = indexes[0]
            if (len(index1) if plain else len(_utf8(index1, where="indexes[0]"))) > MAX_INDEX_BYTES:
                raise PointRejected("index_too_large", "Size of indexes[0] exceeds 96 bytes.")
    blobs = point.blobs or []
    if len(blobs) > MAX_BLOBS:
        raise PointRejected("too_many_blobs", "Maximum of 20 blobs supported.")
    if plain:
        total = sum(map(len, filter(None, blobs)))
    else:
        total = 0
        for position, blob in enumerate(blobs):
            if blob is None:
                continue
            # ASCII (nearly every blob) cannot fail to encode and has as many bytes as characters.
            if blob.isascii() and "\x00" not in blob:
                total += len(blob)
            else:
                total += len(_utf8(blob, where=f"blobs[{position}]"))
    if total > MAX_BLOB_BYTES:
        raise PointRejected("blobs_too_large", "Cumulative size of blobs exceeds 16000 bytes.")
    doubles = point.doubles or []
    if len(doubles) > MAX_DOUBLES:
        raise PointRejected("too_many_doubles", "Maximum of 20 doubles supported.")
    if not all(map(math.isfinite, doubles)):
        for position, number in enumerate(doubles):
            if not math.isfinite(number):
                raise PointRejected("non_finite_double", f"doubles[{position}] must be a finite number.")
    point_id = point.id
    if point_id is not None:
        if not point_id or len(point_id) > MAX_ID_CHARS:
            raise PointRejected("invalid_id", "id must be 1 to 64 characters.")
        if not plain:
            _utf8(point_id, where="id")
    ts_us = window.now_us if point.timestamp is None else _timestamp_us(point.timestamp, window)
    return PointRow(ts_us, index1, blobs, doubles, point_id)


def body_plain(body: bytes) -> bool:
    """ASCII JSON without ``\\u`` escapes or NUL bytes decodes to ASCII strings without NUL.

    JSON escapes other than ``\\u`` stand for ASCII characters that are not NUL; a ``\\u``
    after an escaped backslash makes this answer False, which only costs the full checks.
    """
    return body.isascii() and b"\\u" not in body and b"\x00" not in body


def _decode_message(error: msgspec.ValidationError) -> str:
    """msgspec names the place as a JSON path (`$.blobs[0]`); the point's index is given apart."""
    return str(error).replace("`$.", "`").replace(" - at `$`", "")


def _check_into(batch: ValidatedBatch, index: int, point: DataPoint, window: TimeWindow, *, plain: bool = False) -> None:
    try:
        batch.rows.append(point_check(point, window, plain=plain))
    except PointRejected as rejected:
        batch.errors.append(PointError(index, rejected.code, rejected.detail))


def batch_validate_raw(raw_points: Sequence[bytes | msgspec.Raw], window: TimeWindow, *, unit: str = "Line") -> ValidatedBatch:
    """Decode and check each point apart, so one bad point (or NDJSON line) rejects only itself."""
    batch = ValidatedBatch()
    for index, raw in enumerate(raw_points):
        try:
            point = _point_decoder.decode(raw)
        except msgspec.ValidationError as error:
            batch.errors.append(PointError(index, "invalid_type", _decode_message(error)))
            continue
        except UnicodeDecodeError:
            batch.errors.append(PointError(index, "invalid_utf8", f"{unit} is not valid UTF-8."))
            continue
        except (msgspec.DecodeError, RecursionError):
            batch.errors.append(PointError(index, "invalid_json", f"{unit} is not valid JSON."))
            continue
        _check_into(batch, index, point, window)
    return batch


# A JSON string (escapes included), a stray quote (an unterminated string), or a structural character.
_ARRAY_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|"|[\[\]{},]', re.DOTALL)


def array_elements(body: bytes) -> list[bytes] | None:
    """The raw elements of a top-level JSON array whose elements need not be valid JSON themselves.

    Lets a batch with one ``NaN`` or one bad escape keep its other points, as NDJSON does.
    ``None`` when the array itself cannot be delimited (unterminated string or brackets,
    bytes after the closing bracket): then nothing can be attributed to a point.
    """
    depth = 0
    start = 0
    elements: list[bytes] = []
    for match in _ARRAY_TOKENS.finditer(body):
        token = match.group()
        if token == b'"':
            return None
        if token.startswith(b'"'):
            continue
        if depth == 0:
            if token != b"[" or body[: match.start()].strip():
                return None
            depth, start = 1, match.end()
        elif token in (b"[", b"{"):
            depth += 1
        elif token in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                last = body[start : match.start()]
                if last.strip() or elements:
                    elements.append(last)
                return elements if not body[match.end() :].strip() else None
        elif depth == 1:
            elements.append(body[start : match.start()])
            start = match.end()
    return None


def body_split(body: bytes, *, ndjson: bool) -> Sequence[bytes | msgspec.Raw]:
    """The raw points of a body: one object, an array of objects, or one object per line."""
    if ndjson:
        return [line for line in body.splitlines() if line.strip()]
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        return [body]
    if stripped.startswith(b"["):
        try:
            return _raw_batch_decoder.decode(body)
        except msgspec.DecodeError as error:
            problem = str(error)
        except RecursionError:  # found by tests/security/test_properties.py: `[[[[…` 100,000 deep was a 500
            problem = "it nests too deeply."
        elements = array_elements(body)
        if elements is None:
            raise MalformedBody(f"Body is not valid JSON: {problem}")
        return list(elements)
    raise MalformedBody("Body must be a JSON object, a JSON array of objects, or NDJSON.")


def batch_validate(body: bytes, *, ndjson: bool, window: TimeWindow) -> tuple[int, ValidatedBatch]:
    """Decode and check a whole body; returns the point count first, for limits.

    The fast path decodes a well-formed array in one call; anything it cannot take (a
    wrong type, invalid UTF-8, a NaN token in one point) falls back to point-by-point.
    """
    if not ndjson and body.lstrip().startswith(b"["):
        try:
            points = _batch_decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            points = None
        if points is not None:
            batch = ValidatedBatch()
            plain = body_plain(body)
            for index, point in enumerate(points):
                _check_into(batch, index, point, window, plain=plain)
            return len(points), batch
    raw_points = body_split(body, ndjson=ndjson)
    unit = "Line" if ndjson else "Point"
    return len(raw_points), batch_validate_raw(raw_points, window, unit=unit)
