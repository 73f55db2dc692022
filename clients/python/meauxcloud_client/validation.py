"""Client-side checks of a data point, with the server's limits, codes and messages.

A point the server would refuse is refused here already, with the same words, so an
application sees the problem in its own log at the line that wrote the point instead of
as a rejected count in a background batch. The order follows Analytics Engine's runtime:
types first (as the server's decoder does), then indexes, blobs, doubles, id, timestamp.
"""

import math
from collections.abc import Sequence
from datetime import datetime

MAX_BLOBS = 20
MAX_DOUBLES = 20
MAX_INDEXES = 1
MAX_INDEX_BYTES = 96
MAX_BLOB_BYTES = 16_000
MAX_ID_CHARS = 64

Text = str | bytes | None
_SEQUENCE = (list, tuple)
_BINARY = (bytes, bytearray, memoryview)
_NUMBER = (int, float)
_LARGEST_DOUBLE_INT = 2**1024


class DataPointError(ValueError):
    """A point the server would reject; ``code`` and ``detail`` are the server's."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _json_type(value: object) -> str:
    """The JSON type name the server's decoder reports for a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "str"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, _SEQUENCE):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_error(expected: str, value: object, where: str) -> DataPointError:
    return DataPointError("invalid_type", f"Expected `{expected}`, got `{_json_type(value)}` - at `{where}`")


def _texts(values: object, name: str) -> list[str | None] | None:
    """A list of optional strings; bytes are taken as UTF-8, as Analytics Engine takes ArrayBuffers."""
    if values is None:
        return None
    if not isinstance(values, _SEQUENCE):
        raise _type_error("array | null", values, name)
    texts: list[str | None] = []
    for position, value in enumerate(values):
        if value is None or isinstance(value, str):
            texts.append(value)
        elif isinstance(value, _BINARY):
            try:
                texts.append(bytes(value).decode("utf-8"))
            except UnicodeDecodeError:
                raise DataPointError("invalid_utf8", f"{name}[{position}] is not valid UTF-8.") from None
        else:
            raise _type_error("str | null", value, f"{name}[{position}]")
    return texts


def _numbers(values: object) -> list[float | int] | None:
    if values is None:
        return None
    if not isinstance(values, _SEQUENCE):
        raise _type_error("array | null", values, "doubles")
    for position, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, _NUMBER):
            raise _type_error("float", value, f"doubles[{position}]")
        if isinstance(value, int) and not -_LARGEST_DOUBLE_INT < value < _LARGEST_DOUBLE_INT:
            raise DataPointError("invalid_type", f"Number out of range - at `doubles[{position}]`")
    return list(values)


def _utf8_size(value: str, where: str) -> int:
    """UTF-8 length, refusing what the server refuses (invalid UTF-8 first, then NUL)."""
    if value.isascii() and "\x00" not in value:
        return len(value)
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataPointError("invalid_utf8", f"{where} is not valid UTF-8.") from None
    if b"\x00" in encoded:
        raise DataPointError("nul_character", f"{where} contains a NUL character.")
    return len(encoded)


def data_point_check(
    blobs: Sequence[Text] | None = None,
    doubles: Sequence[float] | None = None,
    indexes: Sequence[Text] | None = None,
    timestamp: int | datetime | None = None,
    id: str | None = None,
) -> dict[str, object]:
    """The point as the JSON object the ingest API takes; raises ``DataPointError``."""
    blob_list = _texts(blobs, "blobs")
    double_list = _numbers(doubles)
    index_list = _texts(indexes, "indexes")
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, (int, datetime))):
        raise _type_error("int | datetime | null", timestamp, "timestamp")
    if id is not None and not isinstance(id, str):
        raise _type_error("str | null", id, "id")

    point: dict[str, object] = {}
    if index_list:
        if len(index_list) > MAX_INDEXES:
            raise DataPointError("too_many_indexes", "Maximum of 1 indexes supported.")
        if index_list[0] is not None and _utf8_size(index_list[0], "indexes[0]") > MAX_INDEX_BYTES:
            raise DataPointError("index_too_large", "Size of indexes[0] exceeds 96 bytes.")
        point["indexes"] = index_list
    if blob_list:
        if len(blob_list) > MAX_BLOBS:
            raise DataPointError("too_many_blobs", "Maximum of 20 blobs supported.")
        total = 0
        for position, blob in enumerate(blob_list):
            if blob is not None:
                total += _utf8_size(blob, f"blobs[{position}]")
        if total > MAX_BLOB_BYTES:
            raise DataPointError("blobs_too_large", "Cumulative size of blobs exceeds 16000 bytes.")
        point["blobs"] = blob_list
    if double_list:
        if len(double_list) > MAX_DOUBLES:
            raise DataPointError("too_many_doubles", "Maximum of 20 doubles supported.")
        for position, number in enumerate(double_list):
            if isinstance(number, float) and not math.isfinite(number):
                raise DataPointError("non_finite_double", f"doubles[{position}] must be a finite number.")
        point["doubles"] = double_list
    if id is not None:
        if not id or len(id) > MAX_ID_CHARS:
            raise DataPointError("invalid_id", "id must be 1 to 64 characters.")
        _utf8_size(id, "id")
        point["id"] = id
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise DataPointError(
                "invalid_timestamp", "timestamp must carry a UTC offset (RFC 3339), e.g. 2026-11-28T12:00:00Z."
            )
        point["timestamp"] = timestamp.isoformat()
    elif timestamp is not None:
        point["timestamp"] = timestamp
    return point
