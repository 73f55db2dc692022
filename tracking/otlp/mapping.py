"""How a dataset turns OTLP spans, logs and metrics into data points (``Dataset.otlp_mapping``).

Every kind of point has fixed columns, the ones the seed's layouts and the reports read
(docs/reports.md), and free ``columns`` that the mapping fills from attributes. A dataset
stores only what it changes; ``mapping_resolve`` lays that over the defaults, section by
section, so a new default reaches every dataset that did not override it. docs/otlp.md
documents the layouts.
"""

from typing import Any

import msgspec
from django.core.exceptions import ValidationError

from tracking.columns import DATA_COLUMNS

#: Sources that are not attributes: ids and names of the span, log record or scope.
SPECIAL_SOURCES = frozenset({"trace_id", "span_id", "span.name", "scope.name", "severity_text"})
SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
SEVERITY_ERROR = 17

#: Columns each kind of point fills itself; a mapping's free columns cannot take them.
FIXED_COLUMNS: dict[str, frozenset[str]] = {
    "requests": frozenset({"blob1", "blob2", "blob3", "double1", "double2", "double3"}),
    "errors": frozenset({"blob1", "blob2", "blob3", "blob6", "double1"}),
    "ai": frozenset({"blob1", "blob2", "blob3", "blob6", "double1", "double2", "double3", "double4", "double5"}),
    "logs": frozenset({"blob1", "blob2", "blob3", "blob6", "double1", "double2"}),
    "metrics": frozenset({"blob1", "blob2", "blob5", "blob6", "blob7", "double1", "double2", "double3"}),
}
COMMON_COLUMNS = {"blob4": "deployment.environment", "blob5": "service.name", "index1": "trace_id"}


class Requests(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    span_kinds: list[str] = msgspec.field(default_factory=lambda: ["server"])
    columns: dict[str, str] = msgspec.field(default_factory=lambda: dict(COMMON_COLUMNS))


class Errors(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    from_spans: bool = True
    #: Log records at this severity number or above become error points (17 is ERROR).
    min_log_severity: int = SEVERITY_ERROR
    columns: dict[str, str] = msgspec.field(default_factory=lambda: dict(COMMON_COLUMNS))


class Ai(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    cost_attribute: str = "gen_ai.usage.cost"
    #: ``gen_ai.client.token.usage`` histograms as AI points; off by default because a
    #: service exporting both spans and metrics would be counted twice.
    from_metrics: bool = False
    columns: dict[str, str] = msgspec.field(default_factory=lambda: dict(COMMON_COLUMNS))


class Logs(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Log records below the error threshold; stored only when enabled."""

    enabled: bool = False
    min_severity: int = 1
    columns: dict[str, str] = msgspec.field(default_factory=lambda: dict(COMMON_COLUMNS))


class Metrics(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    columns: dict[str, str] = msgspec.field(
        default_factory=lambda: {"blob3": "service.name", "blob4": "deployment.environment"}
    )


class OtlpMapping(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    requests: Requests = msgspec.field(default_factory=Requests)
    errors: Errors = msgspec.field(default_factory=Errors)
    ai: Ai = msgspec.field(default_factory=Ai)
    logs: Logs = msgspec.field(default_factory=Logs)
    metrics: Metrics = msgspec.field(default_factory=Metrics)
    #: Give each point an id derived from its span, record or data point, so an exporter's
    #: retry of a batch that was in fact stored is not stored twice.
    dedup: bool = True


DEFAULT_MAPPING = OtlpMapping()


def _check_columns(section: str, columns: dict[str, str]) -> None:
    for column, source in columns.items():
        if column not in DATA_COLUMNS:
            raise ValidationError(f"{section}.columns: '{column}' is not a column (blob1..blob20, double1..double20, index1).")
        if column in FIXED_COLUMNS[section]:
            fixed = ", ".join(sorted(FIXED_COLUMNS[section]))
            raise ValidationError(f"{section}.columns: {column} is filled by the {section} layout ({fixed}).")
        if not source or len(source) > 255:
            raise ValidationError(f"{section}.columns.{column}: name an attribute (1 to 255 characters).")


def mapping_validate(*, mapping: object) -> dict[str, Any]:
    """The stored form of a mapping (only what it sets), or ``ValidationError`` naming the field."""
    if not isinstance(mapping, dict):
        raise ValidationError("The OTLP mapping must be a JSON object.")
    try:
        resolved = msgspec.convert(mapping, OtlpMapping)
    except msgspec.ValidationError as error:
        raise ValidationError(f"OTLP mapping: {str(error).replace('$.', '')}") from None
    for section in FIXED_COLUMNS:
        _check_columns(section, getattr(resolved, section).columns)
    for name, severity in (("errors.min_log_severity", resolved.errors.min_log_severity), ("logs.min_severity", resolved.logs.min_severity)):
        if not 1 <= severity <= 24:
            raise ValidationError(f"{name}: a severity number is 1 (TRACE) to 24 (FATAL4); it was {severity}.")
    for kind in resolved.requests.span_kinds:
        if kind not in SPAN_KINDS:
            raise ValidationError(f"requests.span_kinds: '{kind}' is not one of {', '.join(SPAN_KINDS)}.")
    return mapping


def mapping_resolve(stored: dict[str, Any] | None) -> OtlpMapping:
    """A dataset's stored mapping over the defaults.

    Every write of the field validates it (the service, the settings form and admin through
    the model field's validator), so a stored mapping converts.
    """
    if not stored:
        return DEFAULT_MAPPING
    return msgspec.convert(stored, OtlpMapping)


def mapping_effective(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The whole mapping in force, for display and docs."""
    return msgspec.to_builtins(mapping_resolve(stored))
