"""The parse cache shares one tree per query text, so translating a statement must never change it."""

import datetime as dt

import pytest
from sqlglot import exp

from tracking.projections.db import Spec
from tracking.sql.ir import DatasetRef
from tracking.sql.translate import sql_parse, sql_translate

DATASETS = [DatasetRef(id=11, name="web", labels={"blob2": "path"}), DatasetRef(id=12, name="logs", labels={})]
PROJECTIONS = {11: [Spec(id=5, dataset_id=11, grain=3600, dimensions=("blob1", "blob2"), doubles=("double1", "double2"), name="pair")]}
NOW = dt.datetime(2026, 12, 5, 10, 36, 15, tzinfo=dt.UTC)

QUERIES = [
    "SELECT blob2 AS path, SUM(double2) AS n, AVG(double1) AS ms FROM web "
    "WHERE timestamp > NOW() - INTERVAL '24' HOUR AND blob1 = 'GET' GROUP BY path ORDER BY n DESC LIMIT 10 FORMAT CSV",
    "SELECT count() FROM web WHERE timestamp > NOW() - INTERVAL '5' MINUTE FORMAT JSONEachRow",
    "SELECT path, count() FROM web GROUP BY path ORDER BY path LIMIT 3 OFFSET 1",
    "WITH w AS (SELECT blob1 FROM web) SELECT blob1 FROM w UNION ALL SELECT blob1 FROM logs FORMAT TabSeparated",
    "SELECT toStartOfHour(timestamp) AS h, sumIf(double1, blob1 = 'GET') FROM web "
    "WHERE timestamp >= '2026-12-04 10:15:00' GROUP BY h ORDER BY h",
    "SELECT blob1 FROM logs WHERE NOT (blob1 = 'x') AND blob2 NOT IN ('a', 'b') LIMIT 5",
]


@pytest.fixture
def frozen_trees(monkeypatch):
    """Make every node of the registered trees refuse ``set`` and ``append``, the ways sqlglot changes a tree."""
    frozen: set[int] = set()

    def guard(method):
        def guarded(self, *args, **kwargs):
            if id(self) in frozen:
                raise AssertionError(f"{type(self).__name__}.{method.__name__}{args[:1]} changed a cached tree")
            return method(self, *args, **kwargs)

        return guarded

    monkeypatch.setattr(exp.Expression, "set", guard(exp.Expression.set))
    monkeypatch.setattr(exp.Expression, "append", guard(exp.Expression.append))

    def freeze(statement: exp.Expression) -> exp.Expression:
        frozen.update(id(node) for node in statement.walk())
        return statement

    return freeze


@pytest.mark.parametrize("sql", QUERIES)
@pytest.mark.parametrize("projections", [None, PROJECTIONS], ids=["raw", "projection"])
def test_translating_a_cached_statement_changes_no_node_of_it(frozen_trees, sql: str, projections) -> None:
    statement = frozen_trees(sql_parse(sql=sql))
    before = statement.sql(dialect="clickhouse")

    first = sql_translate(statement=statement, datasets=DATASETS, projections=projections, now=NOW)
    second = sql_translate(statement=statement, datasets=DATASETS, projections=projections, now=NOW)

    assert (second.sql, second.count_sql, second.format) == (first.sql, first.count_sql, first.format)
    assert statement.sql(dialect="clickhouse") == before


def test_format_is_refused_below_the_top_statement() -> None:
    from tracking.sql.errors import SqlError

    statement = sql_parse(sql="SELECT * FROM (SELECT count() FROM web FORMAT CSV)")

    with pytest.raises(SqlError, match="FORMAT is not supported"):
        sql_translate(statement=statement, datasets=DATASETS, now=NOW)
