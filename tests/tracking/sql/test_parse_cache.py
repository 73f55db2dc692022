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


# ---- translations ---------------------------------------------------------------------------------------------

S1 = QUERIES[0]


@pytest.fixture
def compiles(monkeypatch) -> list[str]:
    """The statements the compiler was run on, by their SQL, as translations are made."""
    from tracking.sql import translate as translate_module

    made: list[str] = []
    compile_real = translate_module._translate

    def counted(statement, **kwargs):
        made.append(statement.sql(dialect="clickhouse"))
        return compile_real(statement, **kwargs)

    monkeypatch.setattr(translate_module, "_translate", counted)
    return made


def _translate_kept(sql: str, *, key: object, now: dt.datetime = NOW, bound: dict | None = None, projections=PROJECTIONS):
    return sql_translate(statement=sql_parse(sql=sql), datasets=DATASETS, projections=projections, now=now, bound=bound, cache_key=key)


def test_a_text_translated_against_the_same_catalog_is_not_compiled_again(compiles) -> None:
    first = _translate_kept(S1, key=("project 1", "fingerprint a", S1))
    second = _translate_kept(S1, key=("project 1", "fingerprint a", S1))

    assert second is first and len(compiles) == 1


def test_another_catalog_another_day_or_another_plan_option_compiles_again(compiles) -> None:
    key = ("project 1", "fingerprint b", S1)
    base = _translate_kept(S1, key=key)
    other_catalog = _translate_kept(S1, key=("project 1", "fingerprint c", S1))
    next_day = _translate_kept(S1, key=key, now=NOW + dt.timedelta(days=1))
    raw = _translate_kept(S1, key=key, projections=None)

    assert len(compiles) == 4
    assert (base.plan, other_catalog.plan, next_day.plan, raw.plan) == ("projection=pair", "projection=pair", "projection=pair", "raw")
    assert sorted(value for value in next_day.params.values() if isinstance(value, dt.datetime)) != sorted(
        value for value in base.params.values() if isinstance(value, dt.datetime)
    )


def test_a_window_that_grows_past_a_grain_changes_the_plan_it_is_kept_under(compiles, monkeypatch) -> None:
    """A window bounded by a literal on one side grows with the clock; the planner leaves a window that fits in
    a projection's bucket to the raw scan, so the key holds which grains it fits in, not the window itself."""
    from tracking.sql import translate as translate_module

    clock = [NOW]

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return clock[0]

    monkeypatch.setattr(translate_module, "datetime", Clock)
    since = (NOW - dt.timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
    sql = f"SELECT blob1, count() FROM web WHERE timestamp >= '{since}' GROUP BY blob1"
    key = ("p", "f", sql)

    early = [_translate_kept(sql, key=key).plan for _ in range(2)]
    clock[0] = NOW + dt.timedelta(hours=3)
    late = [_translate_kept(sql, key=key).plan for _ in range(2)]

    assert (early, late, len(compiles)) == (["raw", "raw"], ["projection=pair", "projection=pair"], 2)


def test_bound_parameters_are_never_kept(compiles) -> None:
    sql = "SELECT count() FROM web WHERE blob1 = {method:String}"

    first = _translate_kept(sql, key=("p", "f", sql), bound={"method": "GET"})
    second = _translate_kept(sql, key=("p", "f", sql), bound={"method": "POST"})

    assert len(compiles) == 2 and first.params != second.params


def test_the_translation_cache_keeps_a_bounded_number_of_characters() -> None:
    from tracking.sql.translate import _TranslationCache

    cache = _TranslationCache(max_chars=400_000)
    translation = _translate_kept(S1, key=None)
    for i in range(100):
        cache.put(("key", i), translation)

    size = len(translation.sql) + len(translation.count_sql or "")
    assert len(cache._entries) == 400_000 // size and cache.get(("key", 99)) is translation and cache.get(("key", 0)) is None


def test_a_translation_longer_than_a_fortieth_of_the_budget_is_not_kept() -> None:
    from tracking.sql.translate import _TranslationCache

    cache = _TranslationCache(max_chars=40_000)
    cache.put(("key", 1), _translate_kept(S1, key=None))

    assert cache.get(("key", 1)) is None
