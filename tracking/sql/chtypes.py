"""ClickHouse type names and the rules the translator needs about them.

Types are carried as ClickHouse's own spelling (``UInt8``, ``DateTime('America/New_York')``)
because that is what the JSON ``meta`` must report, and because integer widths decide
results (``bitRotateLeft(128, 1)`` is 1 only for a UInt8).
"""

INT_TYPES: dict[str, tuple[int, bool]] = {
    "UInt8": (8, False),
    "UInt16": (16, False),
    "UInt32": (32, False),
    "UInt64": (64, False),
    "Int8": (8, True),
    "Int16": (16, True),
    "Int32": (32, True),
    "Int64": (64, True),
}
NOTHING = "Nullable(Nothing)"
#: The last second a DateTime holds (UInt32 seconds): ``toDateTime(n)`` clamps to it.
DATETIME_MAX_SECONDS = 4_294_967_295


def int_info(ch_type: str) -> tuple[int, bool] | None:
    return INT_TYPES.get(strip_nullable(ch_type))


def int_type(*, bits: int, signed: bool) -> str:
    bits = min(max(bits, 8), 64)
    return f"{'Int' if signed else 'UInt'}{bits}"


def is_int(ch_type: str) -> bool:
    return strip_nullable(ch_type) in INT_TYPES


def is_float(ch_type: str) -> bool:
    return strip_nullable(ch_type) == "Float64"


def is_number(ch_type: str) -> bool:
    return is_int(ch_type) or is_float(ch_type) or strip_nullable(ch_type) == "Bool"


def is_string(ch_type: str) -> bool:
    return strip_nullable(ch_type) == "String"


def is_datetime(ch_type: str) -> bool:
    return strip_nullable(ch_type).startswith("DateTime")


def is_date(ch_type: str) -> bool:
    return strip_nullable(ch_type) == "Date"


def is_array(ch_type: str) -> bool:
    return ch_type.startswith("Array(")


def array_element(ch_type: str) -> str:
    return ch_type[len("Array(") : -1]


def is_tuple(ch_type: str) -> bool:
    return ch_type.startswith("Tuple(")


def is_nullable(ch_type: str) -> bool:
    return ch_type.startswith("Nullable(")


def strip_nullable(ch_type: str) -> str:
    return ch_type[len("Nullable(") : -1] if ch_type.startswith("Nullable(") else ch_type


def datetime_tz(ch_type: str) -> str | None:
    """The timezone a DateTime renders in; None means the server default (UTC)."""
    base = strip_nullable(ch_type)
    if base.startswith("DateTime('"):
        return base[len("DateTime('") : -2]
    return None


def datetime_type(tz: str | None) -> str:
    return f"DateTime('{tz}')" if tz else "DateTime"


def smallest_int_type(value: int) -> str:
    """ClickHouse's type for an integer literal: the narrowest that holds it."""
    if value >= 0:
        for name, limit in (("UInt8", 2**8), ("UInt16", 2**16), ("UInt32", 2**32), ("UInt64", 2**64)):
            if value < limit:
                return name
        raise ValueError("integer literal out of range")
    for name, limit in (("Int8", 2**7), ("Int16", 2**15), ("Int32", 2**31), ("Int64", 2**63)):
        if value >= -limit:
            return name
    raise ValueError("integer literal out of range")


def pg_type(ch_type: str) -> str:
    base = strip_nullable(ch_type)
    if "Tuple(" in base:
        return "jsonb"
    if base in INT_TYPES:
        return "bigint"
    if base == "Float64":
        return "double precision"
    if base == "String":
        return "text"
    if base.startswith("DateTime"):
        return "timestamptz"
    if base == "Date":
        return "date"
    if base == "Bool":
        return "boolean"
    if base.startswith("Array("):
        return pg_type(array_element(base)) + "[]"
    return "text"


def default_sql(ch_type: str) -> str:
    """The value a non-Nullable ClickHouse column takes when unset or over an empty set."""
    base = strip_nullable(ch_type)
    if "Tuple(" in base:
        return "'[]'::jsonb"
    if base in INT_TYPES:
        return "0::bigint"
    if base == "Float64":
        return "0::float8"
    if base == "String":
        return "''::text"
    if base.startswith("DateTime"):
        return "'1970-01-01 00:00:00+00'::timestamptz"
    if base == "Date":
        return "'1970-01-01'::date"
    if base == "Bool":
        return "false"
    if base.startswith("Array("):
        return f"'{{}}'::{pg_type(base)}"
    return "NULL"


def arithmetic_type(left: str, right: str, op: str) -> str:
    """Result type of plus/minus/multiply on two numbers, widening as ClickHouse does."""
    if is_float(left) or is_float(right):
        return "Float64"
    left_info = int_info(left) or (8, False)
    right_info = int_info(right) or (8, False)
    signed = left_info[1] or right_info[1] or op == "minus"
    bits = max(left_info[0], right_info[0]) * 2
    return int_type(bits=bits, signed=signed)


def supertype(types: list[str]) -> str | None:
    """The common type of if/multiIf/coalesce branches and UNION ALL columns, or None."""
    nullable = any(is_nullable(t) for t in types)
    concrete = [strip_nullable(t) for t in types if t != NOTHING]
    if not concrete:
        return NOTHING
    first = concrete[0]
    result: str | None
    if all(t == first for t in concrete):
        result = first
    elif all(is_int(t) or t == "Bool" for t in concrete):
        infos = [int_info(t) or (8, False) for t in concrete]
        signed = any(info[1] for info in infos)
        bits = max(info[0] for info in infos)
        if signed and any(not info[1] and info[0] >= bits for info in infos):
            bits *= 2
        result = int_type(bits=bits, signed=signed)
    elif all(is_number(t) for t in concrete):
        result = "Float64"
    elif all(is_datetime(t) for t in concrete):
        result = first
    else:
        result = None
    if result is None:
        return None
    return f"Nullable({result})" if nullable or NOTHING in types else result
