"""Output formats with ClickHouse's value encoding, so AE clients parse our bytes unchanged.

JSON follows ClickHouse ``FORMAT JSON`` defaults: 64-bit integers quoted
(output_format_json_quote_64bit_integers=1), NaN/Inf as null, DateTime as
'YYYY-MM-DD hh:mm:ss' in the column's timezone.
"""

import datetime as dt
import json
import math
import zoneinfo
from collections.abc import Sequence
from typing import Any

from tracking.sql import chtypes as ct
from tracking.sql.errors import SqlError
from tracking.sql.native import native_render, row_binary_render, tuple_elements

CONTENT_TYPES = {
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "JSONCompactEachRow": "application/x-ndjson; charset=UTF-8",
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNamesAndTypes": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "Native": "application/octet-stream",
    "RowBinary": "application/octet-stream",
    "RowBinaryWithNames": "application/octet-stream",
    "RowBinaryWithNamesAndTypes": "application/octet-stream",
}


def float_text(value: float) -> str:
    """ClickHouse's text form of a Float64 (JavaScript number rules: 1e-7, 25, 1e+21)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0" if math.copysign(1, value) > 0 else "-0"
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text[:-2] if text.endswith(".0") else text
    power = int(exponent)
    if 1e-7 <= abs(value) < 1e21:
        digits = mantissa.replace("-", "").replace(".", "")
        point = (mantissa.replace("-", "").index(".") if "." in mantissa else len(mantissa.replace("-", ""))) + power
        sign = "-" if value < 0 else ""
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{sign}{digits}{'0' * (point - len(digits))}"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _datetime_text(value: dt.datetime, ch_type: str) -> str:
    """'YYYY-MM-DD hh:mm:ss' in the column's zone; years are always four digits (strftime gives '1-01-01')."""
    zone = ct.datetime_tz(ch_type) or "UTC"
    try:
        local = value.astimezone(zoneinfo.ZoneInfo(zone))
    except OverflowError:
        utc = value.isoformat(sep=" ", timespec="seconds")
        raise SqlError(f"Date/time value out of range: {utc} has no year 0001-9999 form in {zone}") from None
    return f"{local.year:04d}-{local:%m-%d %H:%M:%S}"


def json_value(value: Any, ch_type: str) -> Any:
    if value is None:
        return None
    base = ct.strip_nullable(ch_type)
    if base.startswith("Array("):
        element = ct.array_element(base)
        return [json_value(item, element) for item in value]
    if ct.is_tuple(base):
        return [json_value(item, element) for item, element in zip(value, tuple_elements(base), strict=True)]
    if base in ("UInt64", "Int64"):
        return str(int(value))
    if base in ct.INT_TYPES:
        return int(value)
    if base == "Float64":
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return None
        if number.is_integer() and abs(number) < 1e16:
            return int(number)
        return number
    if base == "Bool":
        return bool(value)
    if base.startswith("DateTime"):
        return _datetime_text(value, base)
    if base == "Date":
        return value.isoformat()
    return value


def text_value(value: Any, ch_type: str, *, quote_strings: bool = False) -> str:
    """The TabSeparated/CSV text of one value (before the format's own escaping)."""
    if value is None:
        return "\\N"
    base = ct.strip_nullable(ch_type)
    if base.startswith("Array("):
        element = ct.array_element(base)
        return "[" + ",".join(text_value(item, element, quote_strings=True) for item in value) + "]"
    if ct.is_tuple(base):
        items = zip(value, tuple_elements(base), strict=True)
        return "(" + ",".join(text_value(item, element, quote_strings=True) for item, element in items) + ")"
    if base in ct.INT_TYPES:
        return str(int(value))
    if base == "Float64":
        return float_text(float(value))
    if base == "Bool":
        return "true" if value else "false"
    if base.startswith("DateTime"):
        text = _datetime_text(value, base)
    elif base == "Date":
        text = value.isoformat()
    else:
        text = str(value)
    if quote_strings:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def _tsv_escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
        .replace("\0", "\\0")
    )


def _csv_field(value: Any, ch_type: str) -> str:
    base = ct.strip_nullable(ch_type)
    text = text_value(value, ch_type)
    if value is None or base in ct.INT_TYPES or base in ("Float64", "Bool"):
        return text
    return '"' + text.replace('"', '""') + '"'


def result_json(
    *,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    rows_before_limit: int | None = None,
    elapsed: float | None = None,
    compact: bool = False,
) -> dict[str, Any]:
    """ClickHouse's ``FORMAT JSON`` (or ``JSONCompact``) document of a result, before serialisation.

    The one place that shapes it: the SQL API and the seed's metrics endpoints both answer with it.
    """
    names = [name for name, _ in columns]
    encoded = [[json_value(value, ch_type) for value, (_, ch_type) in zip(row, columns, strict=True)] for row in rows]
    body: dict[str, Any] = {
        "meta": [{"name": name, "type": ch_type} for name, ch_type in columns],
        "data": encoded if compact else [dict(zip(names, row, strict=True)) for row in encoded],
        "rows": len(rows),
        "rows_before_limit_at_least": rows_before_limit if rows_before_limit is not None else len(rows),
    }
    if elapsed is not None:
        body["statistics"] = {"elapsed": round(elapsed, 6)}
    return body


def result_render(
    *,
    output_format: str,
    columns: list[tuple[str, str]],
    rows: list[tuple[Any, ...]],
    rows_before_limit: int | None,
    elapsed: float,
) -> bytes:
    """Serialise a result in one of the supported formats."""
    if output_format == "Native":
        return native_render(columns, rows)
    if output_format.startswith("RowBinary"):
        return row_binary_render(
            columns, rows, names=output_format != "RowBinary", types=output_format.endswith("AndTypes")
        )
    if output_format in ("JSONEachRow", "JSONCompactEachRow"):
        names = [name for name, _ in columns]
        lines = []
        for row in rows:
            values = [json_value(value, ch_type) for value, (_, ch_type) in zip(row, columns, strict=True)]
            if output_format == "JSONEachRow":
                lines.append(json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False, separators=(",", ":")))
            else:
                lines.append(json.dumps(values, ensure_ascii=False, separators=(", ", ":")))
        return ("\n".join(lines) + ("\n" if lines else "")).encode()
    if output_format in ("JSON", "JSONCompact"):
        body = result_json(
            columns=columns,
            rows=rows,
            rows_before_limit=rows_before_limit,
            elapsed=elapsed,
            compact=output_format == "JSONCompact",
        )
        return json.dumps(body, ensure_ascii=False).encode()
    if output_format.startswith("TabSeparated"):
        header = []
        if output_format != "TabSeparated":
            header.append("\t".join(_tsv_escape(name) for name, _ in columns))
        if output_format.endswith("AndTypes"):
            header.append("\t".join(_tsv_escape(ch_type) for _, ch_type in columns))
        lines = header + [
            "\t".join(
                _tsv_escape(text_value(value, ch_type)) if value is not None else "\\N"
                for value, (_, ch_type) in zip(row, columns, strict=True)
            )
            for row in rows
        ]
        return ("\n".join(lines) + ("\n" if lines else "")).encode()
    if output_format.startswith("CSV"):
        header = []
        if output_format == "CSVWithNames":
            header = [",".join('"' + name.replace('"', '""') + '"' for name, _ in columns)]
        lines = header + [
            ",".join(_csv_field(value, ch_type) for value, (_, ch_type) in zip(row, columns, strict=True))
            for row in rows
        ]
        return ("\n".join(lines) + ("\n" if lines else "")).encode()
    raise ValueError(f"unknown format {output_format}")


# Formats whose rows render on their own: after the first batch (which carries any header),
# batches render in the header-less variant and the pieces concatenate to the whole body.
_ROW_FORMATS = {
    "JSONEachRow": "JSONEachRow",
    "JSONCompactEachRow": "JSONCompactEachRow",
    "TabSeparated": "TabSeparated",
    "TabSeparatedWithNames": "TabSeparated",
    "TabSeparatedWithNamesAndTypes": "TabSeparated",
    "CSV": "CSV",
    "CSVWithNames": "CSV",
    "RowBinary": "RowBinary",
    "RowBinaryWithNames": "RowBinary",
    "RowBinaryWithNamesAndTypes": "RowBinary",
}


class RowWriter:
    """A result body built batch by batch as rows leave the database, refused once it passes ``max_bytes``.

    What a query holds in memory is the body so far (at most ``max_bytes``) plus one batch
    of rows, never the whole result as Python objects. Native is one columnar block, so
    its rows are kept until ``finish`` (they are bounded by the row cap); so are the rows
    of a caller that asks for them (``keep_rows``: the shell's text table).
    """

    def __init__(self, *, output_format: str, columns: list[tuple[str, str]], max_bytes: int, keep_rows: bool = False):
        self.output_format = output_format
        self.columns = columns
        self.max_bytes = max_bytes
        self.keep_rows = keep_rows or (output_format not in _ROW_FORMATS and output_format not in ("JSON", "JSONCompact"))
        self.rows: list[tuple[Any, ...]] = []
        self.row_count = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._names = [name for name, _ in columns]

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.keep_rows:
            self.rows.extend(rows)
        if self.output_format in ("JSON", "JSONCompact"):
            for row in rows:
                values = [json_value(value, ch_type) for value, (_, ch_type) in zip(row, self.columns, strict=True)]
                item = values if self.output_format == "JSONCompact" else dict(zip(self._names, values, strict=True))
                self._add(json.dumps(item, ensure_ascii=False).encode(), separator=2 if self._parts else 0)
        elif self.output_format in _ROW_FORMATS:
            variant = self.output_format if self.row_count == 0 else _ROW_FORMATS[self.output_format]
            self._add(
                result_render(output_format=variant, columns=self.columns, rows=list(rows), rows_before_limit=None, elapsed=0)
            )
        self.row_count += len(rows)

    def _add(self, piece: bytes, separator: int = 0) -> None:
        self._parts.append(piece)
        self._size += len(piece) + separator
        if self._size > self.max_bytes:
            raise SqlError(f"Result exceeds {self.max_bytes} bytes: add a LIMIT or aggregate")

    def finish(self, *, rows_before_limit: int | None, elapsed: float) -> bytes:
        """The whole body, byte for byte what ``result_render`` gives for all the rows at once."""
        if self.output_format in ("JSON", "JSONCompact"):
            document = result_json(
                columns=self.columns,
                rows=[],
                rows_before_limit=rows_before_limit,
                elapsed=elapsed,
                compact=self.output_format == "JSONCompact",
            )
            document["rows"] = self.row_count
            document["rows_before_limit_at_least"] = rows_before_limit if rows_before_limit is not None else self.row_count
            # Keys and strings are escaped inside the document, so '"data": []' occurs once: the key.
            body = json.dumps(document, ensure_ascii=False).encode()
            body = body.replace(b'"data": []', b'"data": [' + b", ".join(self._parts) + b"]", 1)
        elif self.output_format in _ROW_FORMATS and self.row_count:
            body = b"".join(self._parts)
        else:
            body = result_render(
                output_format=self.output_format,
                columns=self.columns,
                rows=self.rows,
                rows_before_limit=rows_before_limit,
                elapsed=elapsed,
            )
        if len(body) > self.max_bytes:
            raise SqlError(f"Result exceeds {self.max_bytes} bytes: add a LIMIT or aggregate")
        return body
