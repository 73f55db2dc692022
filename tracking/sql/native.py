"""ClickHouse's binary formats, Native and RowBinary, for the drivers that read nothing else.

``clickhouse-connect`` asks for ``FORMAT Native`` on every query; Go, Rust and Java drivers
read ``RowBinaryWithNamesAndTypes``. The encodings follow ClickHouse's serializations
(little-endian fixed-width numbers, LEB128 lengths, DateTime as UInt32 seconds, Date as
UInt16 days, Nullable as a null map, Array as offsets); tests compare them byte for byte
with ClickHouse's own output (chdb). Native is written as one block without BlockInfo,
which is what the HTTP interface sends when the client names no protocol version.
"""

import datetime as dt
import struct
from collections.abc import Callable
from typing import Any

from tracking.sql import chtypes as ct

_EPOCH_DATE = dt.date(1970, 1, 1)
_FIXED = {
    "UInt8": "B",
    "UInt16": "H",
    "UInt32": "I",
    "UInt64": "Q",
    "Int8": "b",
    "Int16": "h",
    "Int32": "i",
    "Int64": "q",
    "Float64": "d",
    "Bool": "B",
}


def leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return leb128(len(data)) + data


def tuple_elements(ch_type: str) -> list[str]:
    """The element types of ``Tuple(A, B)``, split at top-level commas."""
    inner = ch_type[len("Tuple(") : -1]
    parts, depth, start = [], 0, 0
    for index, char in enumerate(inner):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:index].strip())
            start = index + 1
    parts.append(inner[start:].strip())
    return parts


def _int_value(value: Any, code: str) -> int:
    number = int(value)
    if code.isupper():
        bits = struct.calcsize(code) * 8
        return number % (1 << bits)
    return number


def _scalar(ch_type: str) -> Callable[[Any], bytes]:
    """The RowBinary encoder of one non-Nullable, non-Array value of ``ch_type``."""
    if ch_type in _FIXED:
        code = "<" + _FIXED[ch_type]
        if ch_type == "Float64":
            return lambda value: struct.pack(code, float(value))
        if ch_type == "Bool":
            return lambda value: struct.pack(code, 1 if value else 0)
        return lambda value: struct.pack(code, _int_value(value, _FIXED[ch_type]))
    if ch_type.startswith("DateTime"):
        return lambda value: struct.pack("<I", int(value.timestamp()) % (1 << 32))
    if ch_type == "Date":
        return lambda value: struct.pack("<H", (value - _EPOCH_DATE).days % (1 << 16))
    if ch_type == "Nothing":
        return lambda value: b"0"
    return lambda value: _string(value if isinstance(value, (str, bytes)) else str(value))


def _default(ch_type: str) -> Any:
    base = ct.strip_nullable(ch_type)
    if base in _FIXED:
        return 0
    if base.startswith("DateTime"):
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if base == "Date":
        return _EPOCH_DATE
    if base.startswith("Array("):
        return []
    if base.startswith("Tuple("):
        return tuple(_default(element) for element in tuple_elements(base))
    return ""


def row_value(value: Any, ch_type: str) -> bytes:
    """One value in RowBinary."""
    if ch_type.startswith("Nullable("):
        if value is None:
            return b"\x01"
        return b"\x00" + row_value(value, ct.strip_nullable(ch_type))
    if value is None:
        value = _default(ch_type)
    if ch_type.startswith("Array("):
        element = ct.array_element(ch_type)
        return leb128(len(value)) + b"".join(row_value(item, element) for item in value)
    if ch_type.startswith("Tuple("):
        return b"".join(row_value(item, element) for item, element in zip(value, tuple_elements(ch_type), strict=True))
    return _scalar(ch_type)(value)


def column_data(values: list[Any], ch_type: str) -> bytes:
    """One column of a Native block."""
    if ch_type.startswith("Nullable("):
        inner = ct.strip_nullable(ch_type)
        null_map = bytes(1 if value is None else 0 for value in values)
        return null_map + column_data([_default(inner) if value is None else value for value in values], inner)
    values = [_default(ch_type) if value is None else value for value in values]
    if ch_type.startswith("Array("):
        element = ct.array_element(ch_type)
        offsets, total, flat = [], 0, []
        for value in values:
            total += len(value)
            offsets.append(total)
            flat.extend(value)
        return struct.pack(f"<{len(offsets)}Q", *offsets) + column_data(flat, element)
    if ch_type.startswith("Tuple("):
        elements = tuple_elements(ch_type)
        return b"".join(
            column_data([value[index] for value in values], element) for index, element in enumerate(elements)
        )
    if ch_type in _FIXED and ch_type not in ("Float64", "Bool"):
        code = _FIXED[ch_type]
        return struct.pack(f"<{len(values)}{code}", *(_int_value(value, code) for value in values))
    encode = _scalar(ch_type)
    return b"".join(encode(value) for value in values)


#: Protocol revisions that change the Native block layout (ClickHouse's ProtocolDefines.h).
REVISION_WITH_BLOCK_INFO = 51903
REVISION_WITH_CUSTOM_SERIALIZATION = 54454
# BlockInfo: field 1 is_overflows = false, field 2 bucket_num = -1, field 0 ends it.
_BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"


def native_render(columns: list[tuple[str, str]], rows: list[tuple[Any, ...]], *, protocol_version: int = 0) -> bytes:
    """One Native block holding the whole result.

    An empty result is still one block with the column names and types (and no rows), so
    drivers can name the columns of an empty DataFrame. ``protocol_version`` is the HTTP
    ``client_protocol_version``: from 51903 the block starts with BlockInfo, from 54454 each
    column says it has no custom serialization (what clickhouse-connect and clickhouse-go read).
    """
    parts = [_BLOCK_INFO] if protocol_version >= REVISION_WITH_BLOCK_INFO else []
    parts += [leb128(len(columns)), leb128(len(rows))]
    for index, (name, ch_type) in enumerate(columns):
        parts += [_string(name), _string(ch_type)]
        if protocol_version >= REVISION_WITH_CUSTOM_SERIALIZATION:
            parts.append(b"\x00")
        parts.append(column_data([row[index] for row in rows], ch_type))
    return b"".join(parts)


def row_binary_render(
    columns: list[tuple[str, str]], rows: list[tuple[Any, ...]], *, names: bool, types: bool
) -> bytes:
    """RowBinary, optionally preceded by the column count, names and types."""
    parts: list[bytes] = []
    if names:
        parts.append(leb128(len(columns)))
        parts += [_string(name) for name, _ in columns]
        if types:
            parts += [_string(ch_type) for _, ch_type in columns]
    for row in rows:
        parts += [row_value(value, ch_type) for value, (_, ch_type) in zip(row, columns, strict=True)]
    return b"".join(parts)
