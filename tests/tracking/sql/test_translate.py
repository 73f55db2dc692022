"""Unit tests of the translator: types, guards, parameters and refusals, without executing."""

import pytest

from tracking.sql.errors import SqlError
from tracking.sql.ir import DatasetRef, ShowStatement
from tracking.sql.translate import sql_parse, sql_translate

DATASETS = [DatasetRef(id=11, name="weather", labels={"double1": "temp"}), DatasetRef(id=12, name="logs", labels={})]


def translate(sql: str, **bound: object):
    return sql_translate(statement=sql_parse(sql=sql), datasets=DATASETS, bound=bound)


def types_of(sql: str) -> list[tuple[str, str]]:
    return translate(sql).columns


def test_every_dataset_reference_is_a_guarded_subquery_with_a_bound_id() -> None:
    result = translate(
        "SELECT w.blob1 FROM weather AS w JOIN (SELECT blob1 FROM logs UNION ALL SELECT blob1 FROM weather) AS l ON w.blob1 = l.blob1"
    )
    assert result.sql.count("FROM public.tracking_datapoint WHERE dataset_id = ") == 3
    assert result.dataset_ids == [11, 12]
    assert sorted(v for v in result.params.values() if isinstance(v, int)) == [11, 12]


def test_user_strings_are_parameters_never_sql_text() -> None:
    result = translate("SELECT count() FROM weather WHERE blob1 = 'x''); DROP TABLE t; --'")
    assert "DROP TABLE" not in result.sql
    assert "x'); DROP TABLE t; --" in result.params.values()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1 AS a", [("a", "UInt8")]),
        (
            "SELECT 300 AS a, -1 AS b, 70000 AS c, 1.5 AS d",
            [("a", "UInt16"), ("b", "Int8"), ("c", "UInt32"), ("d", "Float64")],
        ),
        (
            "SELECT 1 + 2 AS a, 7 - 10 AS b, 7 / 2 AS c, 7 % 3 AS d",
            [("a", "UInt16"), ("b", "Int16"), ("c", "Float64"), ("d", "UInt8")],
        ),
        (
            "SELECT count() AS a, sum(_sample_interval) AS b, avg(temp) AS c FROM weather",
            [("a", "UInt64"), ("b", "UInt64"), ("c", "Float64")],
        ),
        ("SELECT intDiv(toUInt32(timestamp), 300) * 300 AS t FROM weather", [("t", "UInt64")]),
        (
            "SELECT timestamp, toDateTime('2022-12-01 16:17:00', 'America/New_York') AS ny FROM weather",
            [("timestamp", "DateTime"), ("ny", "DateTime('America/New_York')")],
        ),
        (
            "SELECT toStartOfMonth(timestamp) AS m, toStartOfHour(timestamp) AS h FROM weather",
            [("m", "Date"), ("h", "DateTime")],
        ),
        (
            "SELECT blob1 = 'x' AS eq, topK(3)(blob1) AS top FROM weather GROUP BY eq",
            [("eq", "UInt8"), ("top", "Array(String)")],
        ),
        ("SELECT true AS t, if(1, 'a', NULL) AS n", [("t", "Bool"), ("n", "Nullable(String)")]),
        ("SELECT bitRotateLeft(128, 1) AS r, bitAnd(1, 300) AS a", [("r", "UInt8"), ("a", "UInt16")]),
    ],
)
def test_result_types_follow_clickhouse(sql: str, expected: list[tuple[str, str]]) -> None:
    assert types_of(sql) == expected


def test_unaliased_columns_are_named_as_clickhouse_names_them() -> None:
    assert [
        name
        for name, _ in types_of(
            "SELECT count(), 1 + 2, position('abc', 'b'), blob1 LIKE 'a%' FROM weather GROUP BY blob1"
        )
    ] == ["count()", "plus(1, 2)", "position('abc', 'b')", "like(blob1, 'a%')"]


def test_select_aliases_are_visible_in_where_group_by_and_having() -> None:
    result = translate(
        "SELECT index1 AS customer, count() AS n FROM weather WHERE customer = 'c' GROUP BY customer HAVING n > 1"
    )
    assert result.sql.count('t1."index1"') == 3
    assert "HAVING (count(*) > (1)::bigint)" in result.sql


def test_labels_are_columns() -> None:
    assert 't1."double1"' in translate("SELECT temp FROM weather").sql


def test_limit_adds_a_rows_before_limit_count() -> None:
    result = translate("SELECT blob1 FROM weather ORDER BY blob1 LIMIT 5 OFFSET 2")
    assert result.sql.endswith("LIMIT 5 OFFSET 2")
    assert result.count_sql is not None and "LIMIT" not in result.count_sql


def test_format_clause_is_taken_out_of_the_query() -> None:
    result = translate("SELECT 1 FORMAT TSV")
    assert (result.format, "FORMAT" in result.sql) == ("TabSeparated", False)


def test_show_statements_parse_with_an_optional_format() -> None:
    assert sql_parse(sql="SHOW TABLES") == ShowStatement(what="TABLES", format="JSON")
    assert sql_parse(sql="show timezones format JSONEachRow;") == ShowStatement(what="TIMEZONES", format="JSONEachRow")


@pytest.mark.parametrize(
    ("sql", "message", "line", "column"),
    [
        ("SELECT nope FROM weather", "Unknown column nope", 1, 8),
        ("SELECT blob1\nFROM weather\nWHERE nosuch(blob1)", "Unknown or not allowed function: nosuch", 3, 7),
        ("SELECT * FROM other", "Unknown table other: not a dataset of this project", 1, 15),
        ("SELECT count(count()) FROM weather", "Aggregate function inside another aggregate function", None, None),
        ("SELECT if(1, 'a', 2) FROM weather", "Branches of if/multiIf/CASE have no common type (String, UInt8)", 1, 11),
        (
            "SELECT blob1 + 1 FROM weather",
            "Illegal type String of argument of function plus(blob1, 1): a number is required",
            1,
            8,
        ),
        ("SELECT toDateTime(blob1, 'Mars/Olympus') FROM weather", "Unknown timezone Mars/Olympus", 1, 8),
        (
            "SELECT\n  quantileExactWeighted(2)(temp, _sample_interval) FROM weather",
            "The level of quantileExactWeighted must be between 0 and 1",
            2,
            3,
        ),
        (
            "SELECT sumIf(blob1, temp > 0) FROM weather",
            "Illegal type String of argument for aggregate function sumIf",
            1,
            8,
        ),
        (
            "SELECT lagInFrame(temp) OVER (ORDER BY timestamp) FROM weather",
            "Window functions are limited to lagInFrame(x[, offset[, default]]) OVER () and leadInFrame(...) OVER ()",
            1,
            8,
        ),
        (
            "SELECT row_number() OVER () FROM weather",
            "Window functions are limited to lagInFrame(x[, offset[, default]]) OVER () and leadInFrame(...) OVER ()",
            1,
            8,
        ),
        (
            "SELECT lagInFrame(blob1, 1, 0) OVER () FROM weather",
            "The default value of function lagInFrame must be of type String, not UInt8",
            1,
            8,
        ),
        ("SELECT leadInFrame(temp, -1) OVER () FROM weather", "The offset of function leadInFrame must be non-negative", 1, 8),
        (
            "SELECT blob1 FROM weather\nWHERE lagInFrame(temp) OVER () > 0",
            "Window functions are not allowed in WHERE",
            2,
            7,
        ),
        (
            "SELECT arrayMap(x -> runningDifference(x), g) FROM (SELECT groupArray(temp) AS g FROM weather)",
            "runningDifference(x) over a lambda's parameter is not supported",
            1,
            22,
        ),
        (
            "SELECT arrayMap((x, y) -> x + y, g, g) FROM (SELECT groupArray(temp) AS g FROM weather)",
            "arrayMap takes a lambda of one parameter and one array",
            1,
            8,
        ),
        ("SELECT arrayMap(x -> x, temp) FROM weather", "Illegal type Float64 of the array argument of arrayMap", 1, 25),
        (
            "SELECT arrayMap(x -> sum(x), g) FROM (SELECT groupArray(temp) AS g FROM weather)",
            "The body of arrayMap cannot hold an aggregate function or an INTERVAL",
            1,
            22,
        ),
        (
            "SELECT arrayMap(x -> x.3, g) FROM (SELECT groupArray((blob1, temp)) AS g FROM weather)",
            "Tuple element 3 is out of range 1..2",
            1,
            22,
        ),
        (
            "SELECT count(), arrayMap(x -> x / runningDifference(m), any(g)) "
            "FROM (SELECT groupArray(temp) AS g, max(temp) AS m FROM weather)",
            "arrayMap with a row-order function is not supported in an aggregating SELECT",
            1,
            17,
        ),
        (
            "SELECT length(arrayMap(x -> a, a)) FROM (SELECT groupArray(blob1) AS a FROM weather)",
            "The body of arrayMap cannot read or return an array (a is Array(String)): "
            "it may use its parameter x and numbers, strings or tuples",
            1,
            29,
        ),
        (
            "SELECT arrayMap(x -> concat(x, toString(length(a))), a) FROM (SELECT groupArray(blob1) AS a FROM weather)",
            "The body of arrayMap cannot read or return an array (a is Array(String)): "
            "it may use its parameter x and numbers, strings or tuples",
            1,
            48,
        ),
        (
            "SELECT arrayMap(x -> lagInFrame(a) OVER (), a) FROM (SELECT groupArray(temp) AS a FROM weather)",
            "The body of arrayMap cannot read or return an array (lagInFrame(a) OVER () is Array(Float64)): "
            "it may use its parameter x and numbers, strings or tuples",
            1,
            22,
        ),
        (
            "SELECT length(arrayMap(x -> arrayMap(y -> concat(y, x), a), a)) FROM (SELECT groupArray(blob1) AS a FROM weather)",
            "arrayMap inside the body of arrayMap is not supported",
            1,
            29,
        ),
        (
            "SELECT a FROM (SELECT groupArray(blob1) AS a, max(timestamp) AS t FROM weather)"
            " WHERE length(arrayMap(x -> runningDifference(t), a)) > 0",
            "runningDifference(t) inside arrayMap is supported only in the SELECT list, not in WHERE",
            1,
            108,
        ),
        (
            "SELECT arrayMap(x -> runningDifference(t), a) AS m FROM (SELECT groupArray(blob1) AS a, max(timestamp) AS t FROM weather)"
            " WHERE length(m) > 0",
            "runningDifference(t) inside arrayMap is supported only in the SELECT list, not in WHERE",
            1,
            22,
        ),
        (
            "SELECT a FROM (SELECT groupArray(blob1) AS a, max(timestamp) AS t FROM weather)"
            " ORDER BY length(arrayMap(x -> runningDifference(t), a))",
            "runningDifference(t) inside arrayMap is supported only in the SELECT list, not in ORDER BY",
            1,
            111,
        ),
        (
            "SELECT a FROM (SELECT groupArray(blob1) AS a, max(timestamp) AS t FROM weather)"
            " ORDER BY length(arrayMap(x -> lagInFrame(t) OVER (), a))",
            "lagInFrame(t) OVER () inside arrayMap is supported only in the SELECT list, not in ORDER BY",
            1,
            111,
        ),
        (
            "SELECT count() FROM (SELECT groupArray(blob1) AS a, max(timestamp) AS t FROM weather)"
            " GROUP BY length(arrayMap(x -> runningDifference(t), a))",
            "runningDifference(t) inside arrayMap is supported only in the SELECT list, not in GROUP BY",
            1,
            117,
        ),
        (
            "SELECT count() FROM (SELECT groupArray(blob1) AS a, max(timestamp) AS t FROM weather)"
            " HAVING max(length(arrayMap(x -> neighbor(t, 1), a))) > 0",
            "neighbor(t, 1) inside arrayMap is supported only in the SELECT list, not in HAVING",
            1,
            119,
        ),
    ],
)
def test_refusals_name_the_problem_and_its_position(
    sql: str, message: str, line: int | None, column: int | None
) -> None:
    with pytest.raises(SqlError) as error:
        translate(sql)
    assert (error.value.message, error.value.line, error.value.column) == (message, line, column)


def test_array_maps_row_order_value_is_computed_once_and_read_by_order_by_its_alias() -> None:
    result = translate(
        "SELECT arrayMap(x -> x / runningDifference(t), a) AS m, length(m) AS k "
        "FROM (SELECT groupArray(temp) AS a, max(toUInt32(timestamp)) AS t FROM weather) ORDER BY m, k"
    )
    assert result.columns == [("m", "Array(Float64)"), ("k", "UInt64")]
    assert result.sql.count('AS "hoisted') == 1
    assert result.sql.count('s2."hoisted0"') == 4


def test_a_repeated_query_is_parsed_once_and_every_caller_shares_its_tree(monkeypatch) -> None:
    """Shared, not copied: translation never changes a statement (test_parse_cache.py)."""
    import tracking.sql.translate as translate_module

    sql = "SELECT count() AS n FROM weather WHERE timestamp > NOW() - INTERVAL '7' MINUTE AND blob1 = 'parse-once'"
    first = sql_parse(sql=sql)

    def parse_again(*args: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(translate_module, "_parse", parse_again)

    assert sql_parse(sql=sql) is first
    assert translate(sql).columns == [("n", "UInt64")]


def test_the_parse_cache_keeps_a_bounded_number_of_syntax_nodes() -> None:
    from tracking.sql.translate import _parse, _ParsedCache

    cache = _ParsedCache(max_nodes=1000)
    for i in range(120):
        text = f"SELECT count() AS n{i} FROM weather WHERE blob1 = 'v{i}'"
        statement, nodes = _parse(text, "JSON")
        cache.put((text, "JSON"), statement, nodes)
    wide = "SELECT " + ", ".join(f"blob{i % 20 + 1} AS c{i}" for i in range(40)) + " FROM weather"
    statement, nodes = _parse(wide, "JSON")
    cache.put((wide, "JSON"), statement, nodes)

    assert 900 < cache.nodes <= 1000
    assert cache.get((wide, "JSON")) is None and nodes > 1000 // 40
    assert cache.get(("SELECT count() AS n119 FROM weather WHERE blob1 = 'v119'", "JSON")) is not None
    assert cache.get(("SELECT count() AS n0 FROM weather WHERE blob1 = 'v0'", "JSON")) is None


def test_the_parse_cache_weighs_a_long_text_not_only_its_few_nodes() -> None:
    """A 60 KB string literal is a handful of syntax nodes; kept, 20,000 of them would be gigabytes."""
    from tracking.sql.translate import _parse, _ParsedCache

    cache = _ParsedCache(max_nodes=20_000)
    long_text = "SELECT count() AS n FROM weather WHERE blob1 = '" + "x" * 60_000 + "'"
    medium_text = "SELECT count() AS n FROM weather WHERE blob1 = '" + "y" * 4_000 + "'"
    for text in (long_text, medium_text):
        statement, nodes = _parse(text, "JSON")
        cache.put((text, "JSON"), statement, nodes)

    assert nodes < 20
    assert cache.get((long_text, "JSON")) is None
    assert cache.get((medium_text, "JSON")) is not None and cache.nodes == nodes + len(medium_text) // 80
