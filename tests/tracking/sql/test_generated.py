"""Generated differential test: random expressions, conditions and aggregates answer as in ClickHouse.

One documented difference is tolerated (docs/sql.md): where branches of if/multiIf/greatest mix
Float64 with 64-bit integers, ClickHouse 26 answers with a ``Variant``/``Int128`` type (and a
``Nullable(UInt8)`` comparison of it, or refuses to aggregate it); we answer Float64/Int64 with
the same values.
"""

import json
import random

from tests.tracking.sql.conftest import ClickHouse, LoadedProject
from tests.tracking.sql.generator import query
from tests.tracking.sql.support import results_match
from tracking.sql.engine import sql_execute
from tracking.sql.errors import SqlError


def _ours(loaded: LoadedProject, sql: str) -> dict | None:
    try:
        return json.loads(sql_execute(project=loaded.project, sql=sql).body)
    except SqlError:
        return None


def _theirs(clickhouse: ClickHouse, sql: str) -> dict | str:
    try:
        return clickhouse.json(sql)
    except Exception as error:
        return str(error)


def _variant_types(ours: dict, theirs: dict) -> dict[str, str]:
    """ClickHouse's Variant/Int128/Nullable answers for mixed Float64 and 64-bit branches → ours."""
    mapping = {}
    for mine, other in zip(ours["meta"], theirs["meta"]):
        if other["type"].startswith("Variant(") or other["type"] in ("Int128", f"Nullable({mine['type']})"):
            mapping[other["type"]] = mine["type"]
    return mapping


def test_generated_queries_match_clickhouse(loaded: LoadedProject, clickhouse: ClickHouse) -> None:
    rng = random.Random(20261129)
    mismatches = []
    compared = 0
    for _ in range(400):
        sql = query(rng)
        ours, theirs = _ours(loaded, sql), _theirs(clickhouse, sql)
        if isinstance(theirs, str):
            if ours is not None and "Variant" not in theirs and "Int128" not in theirs:
                mismatches.append((sql, f"only we answered; ClickHouse: {theirs[:160]}"))
            continue
        if ours is None:
            mismatches.append((sql, "only ClickHouse answered"))
            continue
        compared += 1
        problem = results_match(ours, theirs, ordered=False, equivalent_types=_variant_types(ours, theirs))
        if problem:
            mismatches.append((sql, problem[:300]))
    for sql, problem in mismatches:
        print(sql, "\n   ", problem)
    assert mismatches == []
    assert compared >= 300
