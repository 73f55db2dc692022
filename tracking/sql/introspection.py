"""ClickHouse's ``system.*`` tables, answered from one project's datasets.

Grafana's plugins, ``clickhouse-connect``, DBeaver-style browsers and notebooks discover
schema by querying ``system.databases``, ``system.tables``, ``system.columns`` and
``system.settings``. Here they are virtual tables built from the project's dataset list
(never from the catalog), so a query sees the project's datasets in database ``default``
and nothing of another tenant. The compiler turns each into a bound ``jsonb_to_recordset``
so every SQL feature (WHERE, LIKE, ORDER BY, joins) works on them.
"""

from dataclasses import dataclass
from typing import Any

from tracking.columns import BLOB_COLUMNS, DOUBLE_COLUMNS, INDEX_COLUMN
from tracking.conf import tracking_settings
from tracking.sql.formats import CONTENT_TYPES
from tracking.sql.ir import TIMEZONES, DatasetRef

#: The ClickHouse release whose HTTP behaviour we follow; drivers gate features on it.
SERVER_VERSION = "24.8.1.1"
DEFAULT_DATABASE = "default"
SYSTEM_DATABASE = "system"
DATABASES = (DEFAULT_DATABASE, SYSTEM_DATABASE)

DATASET_COLUMNS: list[tuple[str, str]] = [
    ("dataset", "String"),
    ("timestamp", "DateTime"),
    ("_sample_interval", "UInt32"),
    (INDEX_COLUMN, "String"),
    *[(blob, "String") for blob in BLOB_COLUMNS],
    *[(double, "Float64") for double in DOUBLE_COLUMNS],
]
_SORTING_KEY = "dataset, timestamp"


@dataclass(frozen=True)
class VirtualTable:
    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]


_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "one": [("dummy", "UInt8")],
    "databases": [
        ("name", "String"),
        ("engine", "String"),
        ("data_path", "String"),
        ("metadata_path", "String"),
        ("uuid", "String"),
        ("engine_full", "String"),
        ("comment", "String"),
    ],
    "tables": [
        ("database", "String"),
        ("name", "String"),
        ("uuid", "String"),
        ("engine", "String"),
        ("is_temporary", "UInt8"),
        ("create_table_query", "String"),
        ("engine_full", "String"),
        ("partition_key", "String"),
        ("sorting_key", "String"),
        ("primary_key", "String"),
        ("sampling_key", "String"),
        ("total_rows", "Nullable(UInt64)"),
        ("total_bytes", "Nullable(UInt64)"),
        ("comment", "String"),
    ],
    "columns": [
        ("database", "String"),
        ("table", "String"),
        ("name", "String"),
        ("type", "String"),
        ("position", "UInt64"),
        ("default_kind", "String"),
        ("default_expression", "String"),
        ("comment", "String"),
        ("is_in_partition_key", "UInt8"),
        ("is_in_sorting_key", "UInt8"),
        ("is_in_primary_key", "UInt8"),
        ("is_in_sampling_key", "UInt8"),
        ("compression_codec", "String"),
        ("character_octet_length", "Nullable(UInt64)"),
        ("numeric_precision", "Nullable(UInt64)"),
        ("numeric_precision_radix", "Nullable(UInt64)"),
        ("numeric_scale", "Nullable(UInt64)"),
        ("datetime_precision", "Nullable(UInt64)"),
    ],
    "settings": [
        ("name", "String"),
        ("value", "String"),
        ("changed", "UInt8"),
        ("description", "String"),
        ("min", "Nullable(String)"),
        ("max", "Nullable(String)"),
        ("readonly", "UInt8"),
        ("type", "String"),
        ("default", "String"),
        ("is_obsolete", "UInt8"),
    ],
    "formats": [("name", "String"), ("is_input", "UInt8"), ("is_output", "UInt8")],
    "time_zones": [("time_zone", "String")],
}


def _settings() -> list[tuple[Any, ...]]:
    """What a client may read about the session: everything is fixed, so everything is read-only."""
    timeout_s = str(max(1, tracking_settings.SQL_STATEMENT_TIMEOUT_MS // 1000))
    rows = [
        ("readonly", "1", "Queries are read-only: SELECT, SHOW, DESCRIBE and EXISTS only.", "UInt64", "0"),
        ("max_execution_time", timeout_s, "Per-query time limit in seconds (SQL_STATEMENT_TIMEOUT_MS).", "Seconds", "0"),
        ("max_result_rows", str(tracking_settings.SQL_MAX_ROWS), "Row cap of a result (SQL_MAX_ROWS).", "UInt64", "0"),
        ("max_result_bytes", str(tracking_settings.SQL_MAX_RESULT_BYTES), "Byte cap of a result.", "UInt64", "0"),
        ("output_format_json_quote_64bit_integers", "1", "64-bit integers are quoted in JSON formats.", "Bool", "1"),
        ("date_time_input_format", "basic", "DateTime text is parsed in the basic format.", "DateTimeInputFormat", "basic"),
        ("session_timezone", "", "Every session runs in the server timezone (UTC).", "Timezone", ""),
        ("join_use_nulls", "0", "Unmatched LEFT JOIN columns read as defaults.", "Bool", "0"),
        ("enable_http_compression", "0", "Responses are not compressed.", "Bool", "0"),
        ("send_progress_in_http_headers", "0", "No X-ClickHouse-Progress headers are sent.", "Bool", "0"),
        ("allow_experimental_analyzer", "0", "Not applicable.", "Bool", "0"),
    ]
    return [
        (name, value, int(value != default), description, None, None, 1, kind, default, 0)
        for name, value, description, kind, default in rows
    ]


def _column_rows(database: str, table: str, columns: list[tuple[str, str, str, str, str]]) -> list[tuple[Any, ...]]:
    rows = []
    for position, (name, ch_type, kind, expression, comment) in enumerate(columns, start=1):
        in_key = int(table != "" and database == DEFAULT_DATABASE and name in ("dataset", "timestamp"))
        numeric = ch_type.startswith(("UInt", "Int", "Float"))
        precision = {"UInt8": 8, "UInt32": 32, "UInt64": 64, "Float64": 53}.get(ch_type) if numeric else None
        rows.append(
            (
                database,
                table,
                name,
                ch_type,
                position,
                kind,
                expression,
                comment,
                int(database == DEFAULT_DATABASE and name == "timestamp"),
                in_key,
                in_key,
                0,
                "",
                None,
                precision,
                2 if numeric else None,
                0 if numeric and not ch_type.startswith("Float") else None,
                0 if ch_type == "DateTime" else None,
            )
        )
    return rows


def _dataset_columns(dataset: DatasetRef) -> list[tuple[str, str, str, str, str]]:
    """Physical columns first, then each label as an ALIAS column, as ``DESCRIBE`` lists them."""
    labels = {physical: label for physical, label in (dataset.labels or {}).items() if isinstance(label, str) and label}
    types = dict(DATASET_COLUMNS)
    columns = [(name, ch_type, "", "", f"label: {labels[name]}" if name in labels else "") for name, ch_type in DATASET_COLUMNS]
    for physical, label in sorted(labels.items(), key=lambda item: item[1]):
        if physical in types and label not in types:
            columns.append((label, types[physical], "ALIAS", physical, f"label of {physical}"))
    return columns


def dataset_describe(dataset: DatasetRef) -> list[tuple[str, str, str, str, str]]:
    """``DESCRIBE TABLE`` rows: name, type, default_type, default_expression, comment."""
    return _dataset_columns(dataset)


def _create_query(dataset: DatasetRef) -> str:
    columns = ", ".join(
        f"`{name}` {ch_type}" + (f" ALIAS {expression}" if kind == "ALIAS" else "")
        for name, ch_type, kind, expression, _ in _dataset_columns(dataset)
    )
    return (
        f"CREATE TABLE {DEFAULT_DATABASE}.`{dataset.name}` ({columns}) ENGINE = MergeTree "
        f"PARTITION BY toDate(timestamp) ORDER BY ({_SORTING_KEY})"
    )


def system_table(name: str, datasets: list[DatasetRef]) -> VirtualTable | None:
    """The rows of ``system.<name>`` for a project, or None when there is no such table."""
    schema = _SCHEMAS.get(name)
    if schema is None:
        return None
    if name == "one":
        rows: list[tuple[Any, ...]] = [(0,)]
    elif name == "databases":
        rows = [(database, "Atomic", "", "", "", "Atomic", "") for database in DATABASES]
    elif name == "tables":
        rows = [
            (
                DEFAULT_DATABASE,
                dataset.name,
                "",
                "MergeTree",
                0,
                _create_query(dataset),
                f"MergeTree PARTITION BY toDate(timestamp) ORDER BY ({_SORTING_KEY})",
                "toDate(timestamp)",
                _SORTING_KEY,
                _SORTING_KEY,
                "",
                None,
                None,
                "",
            )
            for dataset in datasets
        ]
        rows += [
            (SYSTEM_DATABASE, table, "", "SystemTable", 0, "", "SystemTable", "", "", "", "", None, None, "")
            for table in sorted(_SCHEMAS)
        ]
    elif name == "columns":
        rows = []
        for dataset in datasets:
            rows += _column_rows(DEFAULT_DATABASE, dataset.name, _dataset_columns(dataset))
        for table in sorted(_SCHEMAS):
            rows += _column_rows(
                SYSTEM_DATABASE, table, [(column, ch_type, "", "", "") for column, ch_type in _SCHEMAS[table]]
            )
    elif name == "settings":
        rows = _settings()
    elif name == "formats":
        rows = [(format_name, 0, 1) for format_name in sorted(CONTENT_TYPES)]
    else:
        rows = [(zone,) for zone in sorted(TIMEZONES)]
    return VirtualTable(columns=list(schema), rows=rows)


def system_table_names() -> list[str]:
    return sorted(_SCHEMAS)

