"""The shared vocabulary of the SQL translator: datasets, typed fragments, scopes and results.

The compiler (``tracking.sql.compiler``) and the function allowlist (``tracking.sql.functions``)
both speak these types. Functions see the compiler only through ``ExpressionCompiler``, so the
allowlist does not import the compiler and the compiler imports the allowlist one way.
"""

import calendar
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlglot import exp

TIMEZONES = frozenset(zoneinfo.available_timezones()) | {"UTC", "Etc/UTC"}
DEFAULT_TIMEZONE = "Etc/UTC"
ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
_NO_CONST = object()


@dataclass(frozen=True)
class DatasetRef:
    id: int
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Typed:
    """A translated expression: PostgreSQL text plus its ClickHouse type."""

    sql: str
    type: str
    boolean: bool = False
    aggregate: bool = False
    const: Any = _NO_CONST

    @property
    def is_const(self) -> bool:
        return self.const is not _NO_CONST


@dataclass
class Source:
    name: str
    columns: dict[str, Typed]
    star: list[str]
    hidden: set[str] = field(default_factory=set)
    outer: bool = False
    pg_name: str = ""
    compiled: "Compiled | None" = None
    # The position in which each row of a subquery arrives, when the SELECT over it has a groupArray:
    # ClickHouse's groupArray keeps a sorted subquery's order (Grafana's $perSecondColumns shows it).
    ordinal: str = ""


@dataclass
class Scope:
    sources: list[Source]
    ctes: dict[str, Source]
    aliases: dict[str, exp.Expression] = field(default_factory=dict)
    expanding: set[str] = field(default_factory=set)
    agg_order: list[str] = field(default_factory=list)
    in_agg: bool = False
    # Arguments of the aggregates whose state is every value they read (topK, groupArray,
    # quantileExactWeighted): the SELECT gates them (Compiler.aggregate_gate). Shared by the
    # copies ``replace`` makes of this scope.
    array_inputs: list[str] = field(default_factory=list)
    raw_outer: bool = False
    # arrayMap: its lambda's parameter bound to the element, and the parts of the lambda that
    # ClickHouse evaluates per row (runningDifference(t) with no parameter in it) as columns
    # computed one level below this SELECT, which ``hoisted`` lists (shared like array_inputs).
    lambdas: dict[str, Typed] = field(default_factory=dict)
    substitutes: dict[int, Typed] = field(default_factory=dict)
    hoisted: list[str] = field(default_factory=list)
    row_alias: str = ""


@dataclass(frozen=True)
class Compiled:
    sql: str
    columns: list[tuple[str, Typed]]


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_ORIGIN = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


class Pinning:
    """The edges of a query's window at one moment, and, for each edge, the range over which every value
    computed from it so far (``Pins``) stays the same."""

    def __init__(self, values: dict[str, datetime]) -> None:
        self.values = values
        self.ranges = {edge: (_EARLIEST, _LATEST) for edge in values}

    def narrow(self, edge: str, low: datetime, high: datetime) -> None:
        """The value just computed stays the same while ``edge`` is in [low, high)."""
        before, after = self.ranges[edge]
        self.ranges[edge] = (max(before, low), min(after, high))

    def before(self, edge: str, moment: datetime) -> bool:
        """Whether ``edge`` is before ``moment``; the answer holds on its side of ``moment``."""
        if self.values[edge] < moment:
            self.narrow(edge, _EARLIEST, moment)
            return True
        self.narrow(edge, moment, _LATEST)
        return False


@dataclass(frozen=True)
class NowShift:
    """An edge computed from ``NOW()`` by calendar steps, taken in order as the compiled SQL takes them, in UTC:
    ``("add", seconds)``, ``("months", n)`` (PostgreSQL's month arithmetic: a day past the month's end becomes its
    last day) and ``("floor", (amount, unit))`` (``functions.start_of`` in UTC: ``toStartOfDay(NOW())``, ``today()``,
    ``toStartOfMonth(NOW())``). ``planner.now_shift`` reads them."""

    steps: tuple[tuple[str, Any], ...]

    def at(self, now: datetime, *, lower: bool = False) -> datetime:
        """The edge when ``NOW()`` is ``now``; OverflowError past the years ``datetime`` holds.

        ``lower``: a value no later than the edge at ``now`` or at any later moment, for the time floor
        (``translate.time_floor``), which computes it from a clock estimate behind the query's ``NOW()``. Adds and
        floors never decrease as ``now`` grows, but a month step does: a month after January 30 23:59:59 is February
        28 23:59:59, after January 31 00:00:00 February 28 00:00:00, and a later floor to the month can turn that
        second into a month. Its lower form takes every day from the 28th on to the target month's 28th at midnight.
        """
        return steps_taken(now.astimezone(UTC).replace(microsecond=0), self.steps, lower=lower)


def steps_taken(moment: datetime, steps: tuple[tuple[str, Any], ...], *, lower: bool = False) -> datetime:
    """``moment`` moved by ``NowShift`` steps (``NowShift.at``); OverflowError past the years ``datetime`` holds."""
    try:
        for kind, value in steps:
            if kind == "add":
                moment += timedelta(seconds=value)
            elif kind == "months":
                moment = _months_added(moment, value, lower=lower)
            elif kind == "floor":
                moment = _floored(moment, *value)
            else:
                raise TypeError(f"unknown step {kind!r}")
    except ValueError as error:
        raise OverflowError(str(error)) from None
    return moment


def _months_added(moment: datetime, months: int, *, lower: bool) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    if lower and moment.day >= 28:
        return moment.replace(year=year, month=month + 1, day=28, hour=0, minute=0, second=0, microsecond=0)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _floored(moment: datetime, amount: int, unit: str) -> datetime:
    """``functions.start_of`` in UTC: seconds and minutes count from the epoch, hours from midnight, days from
    1970-01-01; weeks start on Monday (``date_trunc('week')``)."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit in ("SECOND", "MINUTE"):
        seconds = amount * (1 if unit == "SECOND" else 60)
        return _ORIGIN + timedelta(seconds=(moment - _ORIGIN) // timedelta(seconds=seconds) * seconds)
    if unit == "HOUR":
        return midnight.replace(hour=moment.hour // amount * amount)
    if unit == "DAY":
        return _ORIGIN + timedelta(days=(midnight - _ORIGIN).days // amount * amount)
    if unit == "WEEK":
        return midnight - timedelta(days=moment.weekday())
    if unit == "MONTH":
        return midnight.replace(day=1)
    if unit == "QUARTER":
        return midnight.replace(month=(moment.month - 1) // 3 * 3 + 1, day=1)
    if unit == "YEAR":
        return midnight.replace(month=1, day=1)
    raise TypeError(f"unknown unit {unit!r}")


def edge_at(anchor: timedelta | datetime | NowShift, now: datetime) -> datetime:
    """An edge's value when the query's ``NOW()``, to the second, is ``now`` (``Pins.edges``)."""
    if isinstance(anchor, NowShift):
        return anchor.at(now)
    return now + anchor if isinstance(anchor, timedelta) else anchor


#: How a projection plan marks an arm that reads nothing when its pinned values say so (``ProjectionPlan.arm``): the
#: boolean parameters that must hold and the pairs of parameters that must be a range that is not empty.
ARM_MARK = re.compile(r"/\*meaux_arm ([a-z0-9 =:]*)\*/(.*?)/\*meaux_arm_end\*/", re.DOTALL)


def arm_marked(sql: str, *, gates: list[str], ranges: list[tuple[str, str]]) -> str:
    """``sql`` between the comments ``Pins.pruned`` finds it by; a comment, so that the statement runs as it is too
    (the tests ``Pins.params`` computed, ``pin<n>``, cannot hold anything that ends it)."""
    names = [*gates, *(name for pair in ranges for name in pair)]
    assert all(re.fullmatch(r"pin[0-9]+", name) for name in names), names
    tests = [f"g={name}" for name in gates] + [f"r={low}:{high}" for low, high in ranges]
    return f"/*meaux_arm {' '.join(tests)}*/{sql}/*meaux_arm_end*/"


def _reads_nothing(tests: str, values: dict[str, Any]) -> bool:
    """Whether a marked arm's tests rule out every row at ``values``: a gate that is not true (NULL, like false, passes
    no row) or a range of buckets ``[low, high)`` that is empty or has a NULL end."""
    for test in tests.split():
        kind, _, names = test.partition("=")
        if kind == "g" and values[names] is not True:
            return True
        if kind == "r":
            low, high = (values[name] for name in names.split(":"))
            if low is None or high is None or low >= high:
                return True
    return False


@dataclass(frozen=True)
class Pins:
    """What a projection plan's SQL computes from ``NOW()``, passed in as constants.

    The arms of a projection plan are chosen by the buckets its window's edges fall in, which
    PostgreSQL computes from ``NOW()`` as it runs: as SQL, every arm is planned, whether it runs
    or not, and S1 spent 2.1 ms of its 8 ms at 1M points planning eight arms, three of which run.
    With the values passed in as constants, PostgreSQL folds them as it plans, and the arms whose
    tests are false are left out of the statement sent (``pruned``). The values are computed from a moment no later than the query's
    ``NOW()`` (``sql_translate``'s ``now``) and hold over a range of each edge (``Pinning``); the
    query checks first that its own edges are in those ranges (``guard``) and is refused
    otherwise (``db.PinsMissed``), to be run again without pins: exact either way.

    ``edges`` are the edges' SQL with their offset from ``date_trunc('second', NOW())`` (a ``NowShift`` when they step
    by months or floor it), or their moment for a literal edge (a dashboard's time range: a translation is compiled for
    it once all the same);
    ``terms`` the parameters' names, the SQL they stand for, and how to compute each from a ``Pinning``.
    """

    edges: tuple[tuple[str, timedelta | datetime | NowShift], ...]
    terms: tuple[tuple[str, str, Callable[[Pinning], Any]], ...]

    @property
    def guard(self) -> str:
        """A condition on the query's own ``NOW()``: its edges are in the ranges ``params`` computed."""
        return " AND ".join(
            f"{edge} >= %(pin_low{k})s::timestamptz AND {edge} < %(pin_high{k})s::timestamptz" for k, (edge, _) in enumerate(self.edges)
        )

    def pruned(self, sql: str, values: dict[str, Any]) -> str:
        """``sql`` without the arms that read nothing at ``values`` (``ARM_MARK``).

        PostgreSQL drops an arm whose test folds to false only when that test is the arm's one condition
        (``relation_excluded_by_constraints``); under the reader role's row-level security the policy is another, so
        such an arm stayed in the plan, never run but planned and costed: the seed's requests by path at 1M points
        was estimated at 142,240 instead of 10,328, and PostgreSQL grouped 11,000 rows by sorting them instead of
        hashing (4.8 ms to run instead of 3.4). An arm reads nothing when a gate is false (a cut that does not apply,
        a bucket an earlier arm reads) or its bucket range is empty."""
        return ARM_MARK.sub(lambda arm: "" if _reads_nothing(arm[1], values) else arm[2], sql)

    def params(self, now: datetime) -> dict[str, Any] | None:
        """The parameters at ``now``, or None when an edge is before 1970 or past the years Python's datetime holds:
        before the origin of ``date_bin``'s buckets, PostgreSQL releases have disagreed on a bucket's start (a
        fix posted in 2021 rounded one bucket early on a boundary), so those plans stay in SQL."""
        moment = now.astimezone(UTC).replace(microsecond=0)
        try:
            pinning = Pinning({edge: edge_at(anchor, moment) for edge, anchor in self.edges})
            if any(value < _ORIGIN for value in pinning.values.values()):
                return None
            values = {name: term(pinning) for name, _, term in self.terms}
        except OverflowError:
            return None
        for k, (edge, _) in enumerate(self.edges):
            values[f"pin_low{k}"], values[f"pin_high{k}"] = pinning.ranges[edge]
        return values


@dataclass(frozen=True)
class Translation:
    """Everything the executor needs.

    With a LIMIT/OFFSET, ``count_sql`` counts the rows before it; when ``count_column`` is set
    the main query already carries that count in an extra last column (a window count), and
    ``count_sql`` is only needed for a page past the end.
    """

    sql: str
    params: dict[str, Any]
    columns: list[tuple[str, str]]
    count_sql: str | None
    count_column: bool
    format: str
    dataset_ids: list[int]
    #: Which path answers: ``raw`` or ``projection=<name>`` (the ``X-Query-Plan`` header).
    plan: str = "raw"
    #: The most rows the statement can return, where known before it runs: one for an aggregate with no
    #: GROUP BY, ``n`` for a ``LIMIT n`` with no OFFSET; else None.
    most_rows: int | None = None
    #: The values the SQL takes as parameters computed from ``NOW()`` (``Pins``), or None.
    pins: Pins | None = None


@dataclass(frozen=True)
class ShowStatement:
    """SHOW, DESCRIBE or EXISTS: answered from the dataset list, never from the catalog."""

    what: str
    format: str
    target: str = ""
    database: str | None = None



class ExpressionCompiler(Protocol):
    """What a function translation needs from the compiler: bound values and nested expressions."""

    database: str
    #: A ``tracking.sql.planner.ProjectionPlan`` while a query is compiled over a projection.
    plan: Any

    def param(self, value: Any, pg: str) -> str: ...

    def text(self, value: str) -> Typed: ...

    def float_const(self, value: float) -> Typed: ...

    def value(self, typed: Typed) -> str: ...

    def expr(self, scope: Scope, node: exp.Expression | None) -> Typed: ...

    def cond(self, scope: Scope, node: exp.Expression) -> Typed: ...

    def as_cond(self, typed: Typed, node: exp.Expression) -> Typed: ...


BINARY_NAMES = {
    exp.Add: "plus",
    exp.Sub: "minus",
    exp.Mul: "multiply",
    exp.Div: "divide",
    exp.Mod: "modulo",
    exp.EQ: "equals",
    exp.NEQ: "notEquals",
    exp.GT: "greater",
    exp.GTE: "greaterOrEquals",
    exp.LT: "less",
    exp.LTE: "lessOrEquals",
    exp.And: "and",
    exp.Or: "or",
    exp.DPipe: "concat",
}
#: EXTRACT(<unit> FROM x) is ClickHouse's <function>(x).
EXTRACT_FUNCTIONS = {
    "YEAR": "toYear",
    "MONTH": "toMonth",
    "DAY": "toDayOfMonth",
    "HOUR": "toHour",
    "MINUTE": "toMinute",
    "SECOND": "toSecond",
}
NORMALISED_FUNCTIONS = {exp.ArgMax: "argMax", exp.ArgMin: "argMin", exp.Floor: "floor", exp.Ceil: "ceil"}


def display_name(node: exp.Expression | None) -> str:
    """The column name ClickHouse gives an unaliased expression (``plus(1, 2)``, ``count()``)."""
    if node is None:
        return ""
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Paren):
        return display_name(node.this)
    if isinstance(node, exp.Column):
        if isinstance(node.this, exp.Star):
            return "*"
        return node.name
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "'" + node.this.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return node.this
    if isinstance(node, exp.Neg):
        inner = display_name(node.this)
        return f"-{inner}" if isinstance(node.this, exp.Literal) else f"negate({inner})"
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Null):
        return "NULL"
    if isinstance(node, exp.Star):
        return "*"
    for cls, name in BINARY_NAMES.items():
        if type(node) is cls:
            return f"{name}({display_name(node.this)}, {display_name(node.expression)})"
    if isinstance(node, exp.Not):
        inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
        if isinstance(inner, exp.In) and not inner.args.get("negate"):
            negated = inner.copy()
            negated.set("negate", True)
            return display_name(negated)
        return f"not({display_name(node.this)})"
    if isinstance(node, exp.Between):
        target = display_name(node.this)
        low, high = display_name(node.args.get("low")), display_name(node.args.get("high"))
        return f"and(greaterOrEquals({target}, {low}), lessOrEquals({target}, {high}))"
    if isinstance(node, exp.Cast):
        return f"CAST({display_name(node.this)}, '{node.args['to'].sql(dialect='clickhouse')}')"
    if type(node) in NORMALISED_FUNCTIONS:
        args = [node.this] + [node.args[key] for key in ("expression", "decimals") if node.args.get(key) is not None]
        return f"{NORMALISED_FUNCTIONS[type(node)]}(" + ", ".join(display_name(arg) for arg in args) + ")"
    if isinstance(node, (exp.Like, exp.ILike)):
        base = "like" if isinstance(node, exp.Like) else "ilike"
        if node.args.get("negate"):
            base = "notLike" if base == "like" else "notILike"
        return f"{base}({display_name(node.this)}, {display_name(node.expression)})"
    if isinstance(node, exp.In):
        base = "notIn" if node.args.get("negate") else "in"
        items = ", ".join(display_name(item) for item in node.expressions)
        if len(node.expressions) > 1:
            items = f"({items})"
        return f"{base}({display_name(node.this)}, {items})"
    if isinstance(node, exp.If):
        branches = [node.this, node.args.get("true"), node.args.get("false")]
        return "if(" + ", ".join(display_name(part) for part in branches if part is not None) + ")"
    if isinstance(node, exp.StrPosition):
        return f"position({display_name(node.this)}, {display_name(node.args.get('substr'))})"
    if isinstance(node, exp.Substring):
        operands = [node.this, node.args.get("start"), node.args.get("length")]
        return "substring(" + ", ".join(display_name(part) for part in operands if part is not None) + ")"
    if isinstance(node, exp.Interval):
        unit = node.unit.name.capitalize() if node.unit else ""
        return f"toInterval{unit}({display_name(node.this)})"
    if isinstance(node, exp.Extract):
        field_name = EXTRACT_FUNCTIONS.get(node.this.name.upper(), "extract")
        return f"{field_name}({display_name(node.expression)})"
    if isinstance(node, exp.Distinct):
        return ", ".join(display_name(item) for item in node.expressions)
    if isinstance(node, exp.ParameterizedAgg):
        params = ", ".join(display_name(item) for item in node.expressions)
        arguments = ", ".join(display_name(item) for item in node.args.get("params") or [])
        return f"{node.name}({params})({arguments})"
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc, exp.CombinedAggFunc)):
        args = node.expressions
        if len(args) == 1 and isinstance(args[0], exp.Star):
            return f"{node.name}()"
        if len(args) == 1 and isinstance(args[0], exp.Distinct):
            return f"{node.name}Distinct({display_name(args[0])})"
        return f"{node.name}(" + ", ".join(display_name(item) for item in args) + ")"
    if isinstance(node, exp.Case):
        parts: list[str] = []
        for branch in node.args.get("ifs") or []:
            parts += [display_name(branch.this), display_name(branch.args.get("true"))]
        parts.append(display_name(node.args["default"]) if node.args.get("default") else "NULL")
        return "multiIf(" + ", ".join(parts) + ")"
    if isinstance(node, exp.Tuple):
        return "(" + ", ".join(display_name(item) for item in node.expressions) + ")"
    if isinstance(node, exp.Lambda):
        parameters = ", ".join(display_name(item) for item in node.expressions)
        return f"lambda(tuple({parameters}), {display_name(node.this)})"
    if isinstance(node, exp.Identifier):
        return node.name
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Literal):
        return f"tupleElement({display_name(node.this)}, {node.expression.this})"
    if isinstance(node, exp.Window) and not any(node.args.get(key) for key in ("partition_by", "order", "spec", "alias")):
        return f"{display_name(node.this)} OVER ()"
    if isinstance(node, exp.Quantile):
        spelling = (getattr(node, "_meta", None) or {}).get("spelling")
        if spelling:
            return f"{spelling}({display_name(node.this)})"
        return f"quantile({display_name(node.args.get('quantile'))})({display_name(node.this)})"
    return node.sql(dialect="clickhouse")


def is_storable_text(value: str) -> bool:
    """PostgreSQL text holds neither NUL nor a lone surrogate (which has no UTF-8 form)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
