"""Data and oracles shared by the SQL API tests: the seed's six event types, loaders, comparison."""

import datetime as dt
import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from psycopg import sql as pgsql

from tracking import db as tracking_db
from tracking.models import Dataset
from tracking.sql.catalog import catalog_read
from tracking.sql.engine import sql_parse
from tracking.sql.translate import sql_translate

BLOB_COUNT = 20
DOUBLE_COUNT = 20


@dataclass
class Point:
    timestamp: dt.datetime
    index1: str
    blobs: list[str | None] = field(default_factory=list)
    doubles: list[float | None] = field(default_factory=list)
    sample_interval: int = 1


def _ts(now: dt.datetime, rng: random.Random, *, max_minutes: int) -> dt.datetime:
    """Whole-minute offsets plus 30 s, so `NOW() - INTERVAL` boundaries never fall between two engines' clocks."""
    base = now.replace(second=0, microsecond=0)
    return base - dt.timedelta(minutes=rng.randint(2, max_minutes)) + dt.timedelta(seconds=30)


def seed_points(*, now: dt.datetime, count: int = 600, seed: int = 20261128) -> list[Point]:
    """The six event types of the seed document (request, cost, AI, error, user, resource)."""
    rng = random.Random(seed)
    points: list[Point] = []
    methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
    paths = ["/", "/api/users", "/api/projects", "/api/costs", "/health", "/api/ai/chat"]
    statuses = ["200", "200", "200", "201", "204", "404", "500", "503"]
    projects = ["proj-alpha", "proj-beta", "proj-gamma"]
    models = ["@cf/meta/llama-3-8b", "gpt-4o-mini", "claude-3-haiku"]
    errors = ["TypeError", "RangeError", "NetworkError", "TimeoutError"]
    users = [f"user-{i}" for i in range(1, 10)]
    for i in range(count):
        kind = i % 6
        ts = _ts(now, rng, max_minutes=60 * 24 * 10)
        interval = rng.choice([1, 1, 1, 1, 2, 10, 100])
        if kind == 0:
            extra = rng.choice([None, None, "naïve café", "Ünïcödé ß", "plain"])
            points.append(
                Point(
                    ts,
                    f"{rng.getrandbits(64):016x}",
                    [
                        rng.choice(methods),
                        rng.choice(paths),
                        rng.choice(statuses),
                        rng.choice(["production", "staging"]),
                        extra,
                    ],
                    [round(rng.uniform(0.5, 900.0), 3), 1.0, float(rng.randint(0, 50_000))],
                    interval,
                )
            )
        elif kind == 1:
            project = rng.choice(projects)
            points.append(
                Point(
                    ts,
                    project,
                    [project, rng.choice(["time", "ai", "compute"]), "cost"],
                    [round(rng.uniform(0.0001, 5.0), 6), 1.0],
                    interval,
                )
            )
        elif kind == 2:
            model = rng.choice(models)
            points.append(
                Point(
                    ts,
                    model,
                    ["ai-usage", model, "tokens"],
                    [float(rng.randint(10, 8000)), round(rng.uniform(0.00001, 0.5), 7), 1.0],
                    interval,
                )
            )
        elif kind == 3:
            error = rng.choice(errors)
            points.append(Point(ts, error, ["error", error, rng.choice(paths)], [1.0], interval))
        elif kind == 4:
            user = rng.choice(users)
            points.append(
                Point(
                    ts, user, ["user-event", rng.choice(["login", "logout", "signup", "view"]), user], [1.0], interval
                )
            )
        else:
            project = rng.choice(projects)
            points.append(
                Point(
                    ts,
                    project,
                    ["resource", rng.choice(["cpu", "memory", "kv", "r2"]), project],
                    [round(rng.uniform(0, 100), 4), 1.0],
                    interval,
                )
            )
    return points


def weather_points(*, now: dt.datetime, count: int = 240, seed: int = 7) -> list[Point]:
    """Temperature readings shaped like the Analytics Engine docs' WEATHER/temperatures examples."""
    rng = random.Random(seed)
    cities = [("Seattle", "USA"), ("Lisbon", "PT"), ("Oslo", "NO"), ("Cairo", "EG"), ("Perth", "AU")]
    points = []
    for i in range(count):
        city, state = cities[i % len(cities)]
        unit = "f" if city == "Seattle" else "c"
        temperature = round(rng.uniform(-15.0, 40.0), 2)
        points.append(
            Point(
                _ts(now, rng, max_minutes=60 * 24 * 8),
                f"sensor-{i % 7}",
                [city, state, f"probe-{i % 4}", unit],
                [temperature, round(rng.uniform(0.05, 0.99), 3), float(rng.randint(0, 255))],
                rng.choice([1, 1, 2, 5]),
            )
        )
    return points


def round_trips(run) -> tuple[Any, list[str]]:
    """What ``run()`` returns and the messages it sent to PostgreSQL, one per round trip (each one's first word)."""
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql.split(";")[0].split()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        return run(), sent


def partitions_for(points: list[Point]) -> None:
    existing = set(tracking_db.partition_list())
    for day in sorted({p.timestamp.date() for p in points}):
        if tracking_db.partition_name(day) not in existing:
            tracking_db.partition_create(day)
            existing.add(tracking_db.partition_name(day))


def points_insert(*, dataset: Dataset, points: list[Point]) -> None:
    """COPY straight into tracking_datapoint (unset slots stay NULL, as the ingest pipeline stores them)."""
    partitions_for(points)
    columns = (
        ["dataset_id", "timestamp", "_sample_interval", "index1"]
        + [f"blob{i}" for i in range(1, 21)]
        + [f"double{i}" for i in range(1, 21)]
    )
    statement = pgsql.SQL("COPY tracking_datapoint ({}) FROM STDIN").format(
        pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns)
    )
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for p in points:
            blobs = (p.blobs + [None] * BLOB_COUNT)[:BLOB_COUNT]
            doubles = (p.doubles + [None] * DOUBLE_COUNT)[:DOUBLE_COUNT]
            copy.write_row([dataset.id, p.timestamp, p.sample_interval, p.index1, *blobs, *doubles])


CH_COLUMNS = (
    "dataset String, timestamp DateTime, _sample_interval UInt32, index1 String, "
    + ", ".join(f"blob{i} String" for i in range(1, 21))
    + ", "
    + ", ".join(f"double{i} Float64" for i in range(1, 21))
)


def chdb_table_load(session: Any, *, database: str, name: str, points: list[Point], labels: dict[str, str]) -> None:
    """The same points in ClickHouse (chdb), as non-Nullable columns with label ALIAS columns."""
    session.query(f"CREATE DATABASE IF NOT EXISTS {database}")
    session.query(f"USE {database}")
    aliases = "".join(
        f", {label} {'String' if column.startswith(('blob', 'index')) else 'Float64'} ALIAS {column}"
        for column, label in labels.items()
    )
    session.query(f"CREATE TABLE {name} ({CH_COLUMNS}{aliases}) ENGINE = Memory")
    lines = []
    for p in points:
        row: dict[str, Any] = {
            "dataset": name,
            "timestamp": p.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            "_sample_interval": p.sample_interval,
            "index1": p.index1,
        }
        for i in range(BLOB_COUNT):
            value = p.blobs[i] if i < len(p.blobs) else None
            row[f"blob{i + 1}"] = value if value is not None else ""
        for i in range(DOUBLE_COUNT):
            value = p.doubles[i] if i < len(p.doubles) else None
            row[f"double{i + 1}"] = value if value is not None else 0.0
        lines.append(json.dumps(row, ensure_ascii=False))
    session.query(f"INSERT INTO {name} FORMAT JSONEachRow\n" + "\n".join(lines))


def clock_settle(sql: str) -> None:
    """Keep NOW() away from the :30 second every test point sits on, so both engines see one side.

    ClickHouse and PostgreSQL evaluate now() a few milliseconds apart; a window boundary
    (`NOW() - INTERVAL '1' DAY`) landing on a point's second in between would split them.
    """
    if "now()" not in sql.lower():
        return
    second = dt.datetime.now(dt.UTC).second + dt.datetime.now(dt.UTC).microsecond / 1e6
    if 28 <= second <= 32:
        time.sleep(33 - second)


def _normal(value: Any, ch_type: str) -> Any:
    base = ch_type[len("Nullable(") : -1] if ch_type.startswith("Nullable(") else ch_type
    if value is None:
        return None
    if base.startswith("Array("):
        element = base[len("Array(") : -1]
        return [_normal(item, element) for item in value]
    if base.startswith(("UInt", "Int")):
        return int(value)
    if base == "Float64":
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else number
    return value


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _sort_key(row: list[Any]) -> str:
    return json.dumps(row, default=str)


def results_match(
    ours: dict[str, Any],
    theirs: dict[str, Any],
    *,
    ordered: bool,
    outer_limit_only: bool = False,
    equivalent_types: dict[str, str] | None = None,
) -> str | None:
    """None when equal (names, types, values with floats to rel 1e-9); otherwise what differs.

    ``equivalent_types`` maps a ClickHouse type to the one we document for it (e.g. a Variant).
    """
    equivalent_types = equivalent_types or {}
    our_meta = [(m["name"], m["type"]) for m in ours["meta"]]
    their_meta = [(m["name"], equivalent_types.get(m["type"], m["type"])) for m in theirs["meta"]]
    if our_meta != their_meta:
        return f"meta differs: ours {our_meta} vs ClickHouse {their_meta}"
    names = [name for name, _ in our_meta]
    types = [t for _, t in our_meta]
    our_rows = [[_normal(row[n], t) for n, t in zip(names, types)] for row in ours["data"]]
    their_rows = [[_normal(row[n], t) for n, t in zip(names, types)] for row in theirs["data"]]
    if len(our_rows) != len(their_rows):
        return f"row count differs: ours {len(our_rows)} vs ClickHouse {len(their_rows)}"
    their_before_limit = None if outer_limit_only else theirs.get("rows_before_limit_at_least")
    if their_before_limit is not None and ours["rows_before_limit_at_least"] != their_before_limit:
        return (
            f"rows_before_limit_at_least differs: ours {ours['rows_before_limit_at_least']} "
            f"vs ClickHouse {theirs['rows_before_limit_at_least']}"
        )
    if not ordered:
        our_rows = sorted(our_rows, key=_sort_key)
        their_rows = sorted(their_rows, key=_sort_key)
    for index, (a, b) in enumerate(zip(our_rows, their_rows)):
        if not all(_close(x, y) for x, y in zip(a, b)):
            return f"row {index} differs: ours {a} vs ClickHouse {b}"
    return None


def plan_nodes(node: dict, parent: dict | None = None):
    """Each node of an EXPLAIN (FORMAT JSON) plan with its parent."""
    yield node, parent
    for child in node.get("Plans", []):
        yield from plan_nodes(child, node)


def project_translation(project, sql: str, *, cheapest: bool = True):
    """The translation ``sql_execute`` would run for ``project`` (its catalog, projections and clock), and the clock;
    ``cheapest=False`` as for ``plan="projection"``."""
    catalog = catalog_read(project_id=project.id)
    statement = sql_parse(sql=sql, default_format="JSON")
    return sql_translate(statement=statement, datasets=catalog.datasets, projections=catalog.projections, now=catalog.clock,
                          cheapest=cheapest), catalog.clock
