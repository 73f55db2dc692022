"""The differential suite's queries: each runs unchanged in ClickHouse (chdb) and through our engine.

Tables: ``meauxcloud_analytics`` (the seed's six event types, labels path/duration_ms) and
``weather`` (labels city/temp/humidity/unit). ``ordered`` marks queries whose ORDER BY
fixes the row order; the others compare as multisets. A ``clickhouse`` override is a
documented difference (docs/sql.md, "Differences from ClickHouse"): ClickHouse runs the
override, which states the semantics we implement on purpose.
"""

from dataclasses import dataclass

A = "meauxcloud_analytics"
W = "weather"


@dataclass(frozen=True)
class Case:
    id: str
    sql: str
    ordered: bool = False
    clickhouse: str | None = None
    difference: str = ""
    outer_limit_only: bool = False


CASES: list[Case] = [
    # ---- clauses -------------------------------------------------------------------------
    Case("select_star_ordered", f"SELECT * FROM {W} ORDER BY timestamp, index1, blob1, double1", True),
    Case("select_columns", f"SELECT timestamp, index1, blob1, double1, _sample_interval, dataset FROM {W}"),
    Case("select_labels", f"SELECT city, temp, humidity, unit FROM {W}"),
    Case("alias_in_where", f"SELECT blob1 AS kind, double1 AS v FROM {A} WHERE kind = 'error'"),
    Case(
        "alias_in_group_order", f"SELECT blob1 AS kind, count() AS n FROM {A} GROUP BY kind ORDER BY n DESC, kind", True
    ),
    Case("group_positional", f"SELECT blob1, count() AS n FROM {A} GROUP BY 1 ORDER BY 1", True),
    Case(
        "order_positional_desc",
        f"SELECT blob2 AS b, sum(_sample_interval) AS s FROM {A} GROUP BY b ORDER BY 2 DESC, 1",
        True,
    ),
    Case(
        "group_expression",
        f"SELECT intDiv(toUInt32(timestamp), 3600) * 3600 AS t, count() AS n FROM {A} GROUP BY t ORDER BY t",
        True,
    ),
    Case(
        "having_alias",
        f"SELECT blob2 AS t, count() AS n FROM {A} WHERE blob1 = 'error' GROUP BY t HAVING n > 5 ORDER BY t",
        True,
    ),
    Case(
        "having_aggregate",
        f"SELECT city, avg(temp) AS a FROM {W} GROUP BY city HAVING avg(temp) > 10 AND count() >= 40 ORDER BY city",
        True,
    ),
    Case("having_without_select_agg", f"SELECT city FROM {W} GROUP BY city HAVING max(temp) > 30 ORDER BY city", True),
    Case("limit", f"SELECT index1, double1 FROM {W} ORDER BY double1 DESC, index1 LIMIT 5", True),
    Case("limit_offset", f"SELECT index1, double1 FROM {W} ORDER BY double1, index1 LIMIT 5 OFFSET 10", True),
    Case("limit_comma", f"SELECT index1, double1 FROM {W} ORDER BY double1, index1 LIMIT 10, 5", True),
    Case(
        "limit_all",
        f"SELECT city, count() AS n FROM {W} GROUP BY city ORDER BY city LIMIT ALL",
        True,
        clickhouse=f"SELECT city, count() AS n FROM {W} GROUP BY city ORDER BY city",
        difference="LIMIT ALL is AE syntax for no limit; ClickHouse has no LIMIT ALL",
    ),
    Case("offset_only", f"SELECT city FROM {W} GROUP BY city ORDER BY city LIMIT 100 OFFSET 2", True),
    Case("distinct", f"SELECT DISTINCT blob1 FROM {A}"),
    Case("distinct_order", f"SELECT DISTINCT blob4 AS env FROM {A} WHERE blob1 IN ('GET', 'POST') ORDER BY env", True),
    Case(
        "subquery_from",
        f"SELECT probe, n FROM (SELECT blob3 AS probe, count() AS n FROM {W} GROUP BY probe) ORDER BY probe",
        True,
    ),
    Case(
        "subquery_alias",
        f"SELECT s.k, s.total FROM (SELECT blob1 AS k, sum(double1) AS total FROM {A} GROUP BY k) AS s ORDER BY s.k",
        True,
    ),
    Case(
        "nested_subqueries",
        f"SELECT max(n) AS m FROM (SELECT k, count() AS n FROM (SELECT blob2 AS k FROM {A} WHERE blob1 = 'user-event') GROUP BY k)",
    ),
    Case("subquery_star", f"SELECT * FROM (SELECT city, temp FROM {W} WHERE temp > 35) ORDER BY temp, city", True),
    Case(
        "cte",
        f"WITH hot AS (SELECT city, temp FROM {W} WHERE temp > 30) SELECT city, count() AS n FROM hot GROUP BY city ORDER BY city",
        True,
    ),
    Case(
        "with_expression_aliases",
        f"WITH toDateTime('2020-01-01 00:00:00') AS since, 'Oslo' AS c, 1.8 AS k "
        f"SELECT count() AS n, max(temp * k + 32) AS f FROM {W} WHERE timestamp > since AND city = c",
    ),
    Case(
        "cte_two",
        f"WITH a AS (SELECT blob1 AS k FROM {A}), b AS (SELECT k, count() AS n FROM a GROUP BY k) SELECT k, n FROM b ORDER BY k",
        True,
    ),
    Case(
        "union_all",
        f"SELECT 'analytics' AS src, count() AS n FROM {A} UNION ALL SELECT 'weather' AS src, count() AS n FROM {W}",
    ),
    Case(
        "union_all_rows",
        f"SELECT blob1 AS v FROM {A} WHERE blob1 = 'error' UNION ALL SELECT city AS v FROM {W} WHERE city = 'Oslo'",
    ),
    Case(
        "join_inner",
        f"SELECT a.city AS city, a.n AS n, b.m AS m FROM (SELECT city, count() AS n FROM {W} GROUP BY city) AS a "
        f"INNER JOIN (SELECT city, max(temp) AS m FROM {W} GROUP BY city) AS b ON a.city = b.city ORDER BY city",
        True,
    ),
    Case(
        "join_using",
        f"SELECT city, n, m FROM (SELECT city, count() AS n FROM {W} GROUP BY city) AS a "
        f"JOIN (SELECT city, min(temp) AS m FROM {W} GROUP BY city) AS b USING (city) ORDER BY city",
        True,
    ),
    Case(
        "join_left_defaults",
        f"SELECT a.k AS k, b.n AS n FROM (SELECT DISTINCT blob1 AS k FROM {A}) AS a "
        f"LEFT JOIN (SELECT blob1 AS k, count() AS n FROM {A} WHERE blob1 = 'error' GROUP BY k) AS b ON a.k = b.k ORDER BY k",
        True,
    ),
    Case(
        "join_datasets",
        f"SELECT w.city AS city, count() AS n FROM {W} AS w JOIN (SELECT DISTINCT blob3 AS p FROM {A} WHERE blob1 = 'resource') AS r "
        f"ON w.blob3 = r.p GROUP BY city ORDER BY city",
        True,
    ),
    Case("scalar_subquery", f"SELECT city, temp FROM {W} WHERE temp = (SELECT max(temp) FROM {W})"),
    Case("in_subquery", f"SELECT count() AS n FROM {A} WHERE blob2 IN (SELECT blob3 FROM {A} WHERE blob1 = 'error')"),
    Case(
        "where_on_dataset_column", f"SELECT dataset, count() AS n FROM {W} WHERE dataset = 'weather' GROUP BY dataset"
    ),
    Case("alias_shadows_column", f"SELECT double1 * 2 AS double1 FROM {W} WHERE double1 > 50 ORDER BY double1", True),
    Case(
        "unaliased_names",
        f"SELECT count(), sum(double1), blob1, 1 + 2, count() > 3 FROM {A} WHERE blob1 = 'error' GROUP BY blob1",
    ),
    Case(
        "unaliased_names_more",
        f"SELECT median(temp), quantile(temp), quantile(0.9)(temp * 2), floor(max(temp)), ceil(min(temp), 1), argMax(city, temp), "
        f"countIf(temp > 0), CAST(max(temp) AS String), max(temp) BETWEEN 1 AND 2, -min(temp), count(DISTINCT city) FROM {W}",
    ),
    Case(
        "unaliased_predicates",
        f"SELECT city NOT IN ('Oslo'), city IN ('Oslo', 'Cairo'), city NOT LIKE 'O%', NOT city LIKE 'O%', "
        f"city ILIKE 'o%', position(city, 'o'), substring(city, 2), toStartOfMonth(timestamp), if(temp > 0, 1, 0) FROM {W}",
    ),
    Case("no_from", "SELECT 1 AS one, 'two' AS two, 3.5 AS three"),
    Case(
        "case_insensitive_functions",
        f"SELECT COUNT(*) AS a, Sum(double1) AS b, AVG(double1) AS c, MIN(timestamp) AS d FROM {W}",
    ),
    # ---- operators -------------------------------------------------------------------------
    Case("arith_int_literals", "SELECT 1 + 2 AS a, 7 - 10 AS b, 6 * 7 AS c, 255 + 1 AS d, 100000 * 100000 AS e"),
    Case("division_float", "SELECT 7 / 2 AS a, 1 / 3 AS b, -7 / 2 AS c, 10 / 4 AS d"),
    Case("division_by_zero", "SELECT 1 / 0 AS a, -1 / 0 AS b, 0 / 0 AS c"),
    Case("modulo", "SELECT 7 % 3 AS a, -7 % 3 AS b, 7 % -3 AS c, 7.5 % 2 AS d"),
    Case("modulo_column", f"SELECT toUInt32(timestamp) % 60 AS s, count() AS n FROM {A} GROUP BY s ORDER BY s", True),
    Case(
        "arith_columns",
        f"SELECT double1 + double2 AS a, double1 - double2 AS b, double1 * double2 AS c, double1 / double2 AS d FROM {W}",
    ),
    Case(
        "arith_sample_interval",
        f"SELECT _sample_interval * 3 AS a, _sample_interval + 1 AS b, _sample_interval - 5 AS c FROM {W}",
    ),
    Case("unary_minus", f"SELECT -double1 AS a, -42 AS b, -(1 + 2) AS c, -_sample_interval AS d FROM {W}"),
    Case(
        "comparisons",
        f"SELECT double1 = 1 AS a, double1 != 1 AS b, double1 <> 1 AS c, double1 < 100 AS d, double1 > 100 AS e, "
        f"double1 <= 1 AS f, double1 >= 1 AS g FROM {A}",
    ),
    Case("string_comparisons", f"SELECT blob1 < 'm' AS a, blob1 >= 'error' AS b, blob1 = 'GET' AS c FROM {A}"),
    Case("in_list", f"SELECT count() AS n FROM {A} WHERE blob3 IN ('500', '503')"),
    Case("not_in_list", f"SELECT count() AS n FROM {A} WHERE blob1 NOT IN ('GET', 'POST', 'error')"),
    Case("in_numbers", f"SELECT count() AS n FROM {W} WHERE _sample_interval IN (1, 5)"),
    Case("in_as_value", f"SELECT blob1 IN ('GET', 'PUT') AS m, count() AS n FROM {A} GROUP BY m ORDER BY m", True),
    Case("between", f"SELECT count() AS n FROM {W} WHERE temp BETWEEN 0 AND 20"),
    Case("not_between", f"SELECT count() AS n FROM {W} WHERE temp NOT BETWEEN 0 AND 20"),
    Case("like", f"SELECT count() AS n FROM {A} WHERE blob3 LIKE '5%'"),
    Case("like_underscore", f"SELECT DISTINCT blob3 FROM {A} WHERE blob3 LIKE '2_4'"),
    Case("not_like", f"SELECT count() AS n FROM {A} WHERE blob2 NOT LIKE '/api/%'"),
    Case("ilike", f"SELECT count() AS n FROM {A} WHERE blob1 ILIKE 'get'"),
    Case("not_ilike", f"SELECT count() AS n FROM {A} WHERE blob2 NOT ILIKE '%USER%'"),
    Case(
        "like_as_value", f"SELECT blob2 LIKE '%a%' AS has_a, count() AS n FROM {A} GROUP BY has_a ORDER BY has_a", True
    ),
    Case("and_or_not", f"SELECT count() AS n FROM {A} WHERE (blob1 = 'GET' OR blob1 = 'POST') AND NOT blob3 = '200'"),
    Case("precedence", "SELECT 2 + 3 * 4 AS a, (2 + 3) * 4 AS b, 1 OR 0 AND 0 AS c, NOT 1 = 2 AS d"),
    Case("boolean_literals", "SELECT true AS t, false AS f"),
    Case("where_boolean_literal", f"SELECT count() AS n FROM {W} WHERE true"),
    Case("where_numeric_condition", f"SELECT count() AS n FROM {A} WHERE double3"),
    Case("concat_operator", f"SELECT blob1 || ':' || blob2 AS k FROM {A} WHERE blob1 = 'cost'"),
    # ---- aggregates ------------------------------------------------------------------------
    Case("count_forms", f"SELECT count() AS a, count(*) AS b, count(blob1) AS c, COUNT() AS d FROM {A}"),
    Case("count_distinct", f"SELECT count(DISTINCT blob2) AS a, count(DISTINCT index1) AS b FROM {A}"),
    Case("sum_avg", f"SELECT sum(double1) AS s, avg(double1) AS a, sum(_sample_interval) AS si FROM {W}"),
    Case(
        "sum_distinct_avg_distinct",
        f"SELECT sum(DISTINCT _sample_interval) AS s, avg(DISTINCT _sample_interval) AS a FROM {W}",
    ),
    Case(
        "min_max",
        f"SELECT min(double1) AS a, max(double1) AS b, min(blob1) AS c, max(blob2) AS d, min(timestamp) AS e, max(timestamp) AS f FROM {A}",
    ),
    Case("min_max_int", f"SELECT min(_sample_interval) AS a, max(_sample_interval) AS b FROM {A}"),
    Case(
        "weighted_avg", f"SELECT city, SUM(_sample_interval * temp) / SUM(_sample_interval) AS w FROM {W} GROUP BY city"
    ),
    Case(
        "quantile_exact_weighted",
        f"SELECT city, quantileExactWeighted(0.5)(temp, _sample_interval) AS p50, "
        f"quantileExactWeighted(0.95)(temp, _sample_interval) AS p95, quantileExactWeighted(0)(temp, _sample_interval) AS p0, "
        f"quantileExactWeighted(1)(temp, _sample_interval) AS p100 FROM {W} GROUP BY city",
    ),
    Case(
        "quantile_exact_weighted_int",
        f"SELECT quantileExactWeighted(0.5)(_sample_interval, _sample_interval) AS q FROM {A}",
    ),
    Case(
        "quantile_weighted_legacy",
        f"SELECT quantileWeighted(0.5, double1, _sample_interval) AS q FROM {W}",
        clickhouse=f"SELECT quantileExactWeighted(0.5)(double1, _sample_interval) AS q FROM {W}",
        difference="quantileWeighted(q, x, w) is the legacy AE spelling of quantileExactWeighted(q)(x, w)",
    ),
    Case(
        "quantile_exact_family",
        f"SELECT city, quantileExact(0.5)(temp) AS e50, quantileExact(0.9)(temp) AS e90, quantileExact(0)(temp) AS e0, "
        f"quantileExact(1)(temp) AS e100, medianExact(temp) AS me, quantileExact(temp) AS ed FROM {W} GROUP BY city",
    ),
    Case(
        "quantile_exact_int",
        f"SELECT quantileExact(0.25)(_sample_interval) AS a, medianExact(_sample_interval) AS m, "
        f"quantilesExact(0, 0.1, 0.5, 0.999, 1)(_sample_interval) AS qs FROM {A}",
    ),
    Case(
        "quantiles_interpolated",
        f"SELECT city, quantiles(0.1, 0.5, 0.9)(temp) AS qs, quantilesExact(0.25, 0.75)(temp) AS qe FROM {W} GROUP BY city",
    ),
    Case(
        "quantile_family_empty_group",
        f"SELECT quantileExact(0.5)(temp) AS e, quantiles(0.5, 0.9)(temp) AS qs, quantilesExact(0.5)(_sample_interval) AS qe, "
        f"medianExact(_sample_interval) AS mi FROM {W} WHERE temp > 1e9",
    ),
    Case(
        "quantile_median",
        f"SELECT city, quantile(0.5)(temp) AS q, median(temp) AS m, quantile(0.9)(temp) AS q9 FROM {W} GROUP BY city",
    ),
    Case(
        "arg_max_min",
        f"SELECT city, argMax(index1, temp) AS hottest, argMin(index1, temp) AS coldest FROM {W} GROUP BY city",
    ),
    Case(
        "arg_max_timestamp", f"SELECT argMax(blob2, timestamp) AS latest, argMin(blob2, timestamp) AS earliest FROM {A}"
    ),
    Case(
        "top_k",
        f"SELECT topK(2)(city) AS t, topK(city) AS all10 FROM {W} WHERE city = 'Oslo' OR (city = 'Perth' AND temp > 0) OR (city = 'Cairo' AND temp > 20)",
    ),
    Case(
        "top_k_weighted",
        f"SELECT topKWeighted(2)(blob1, _sample_interval) AS t FROM {W} WHERE blob1 IN ('Seattle', 'Oslo', 'Cairo')",
    ),
    Case(
        "count_if_sum_if_avg_if",
        f"SELECT countIf(double1 > 5) AS c, sumIf(double1, blob1 = 'GET') AS s, "
        f"avgIf(double1, blob1 = 'GET') AS a FROM {A}",
    ),
    Case(
        "if_aggregates_grouped",
        f"SELECT blob1 AS k, countIf(blob3 LIKE '5%') AS errors, sumIf(_sample_interval, blob3 = '200') AS ok FROM {A} "
        f"WHERE blob1 IN ('GET', 'POST', 'PUT', 'DELETE') GROUP BY k ORDER BY k",
        True,
    ),
    Case(
        "avg_counts_every_row_of_a_plain_value_and_skips_nulls_of_a_nullable_one",
        f"SELECT avg(double1) AS a, avg(nullIf(double1, 0)) AS n, avgIf(nullIf(double2, 1), blob1 = 'GET') AS ni, "
        f"avg(if(blob1 = 'GET', double1, NULL)) AS g FROM {A}",
    ),
    Case(
        "aggregates_of_a_nullable_value_skip_nulls_and_are_null_over_none",
        f"SELECT blob1 AS k, sum(nullIf(double2, 1)) AS s, sum(if(blob1 = 'GET', _sample_interval, NULL)) AS si, "
        f"min(nullIf(blob3, '200')) AS mi, max(if(blob1 = 'GET', double1, NULL)) AS ma, "
        f"sumIf(nullIf(double1, 0), blob3 = '200') AS sf, maxIf(nullIf(blob2, ''), double1 > 100) AS mf, "
        f"count(nullIf(blob3, '200')) AS c FROM {A} GROUP BY k ORDER BY k",
        True,
    ),
    Case("uniq", f"SELECT uniq(blob2) AS a, uniqExact(index1) AS b, uniq(blob1, blob2) AS c FROM {A}"),
    Case(
        "empty_aggregates",
        f"SELECT count() AS c, sum(double1) AS s, avg(double1) AS a, min(double1) AS mi, max(blob1) AS ma, "
        f"countIf(double1 > 0) AS ci, sumIf(double1, 1) AS si, quantileExactWeighted(0.5)(double1, _sample_interval) AS q, "
        f"argMax(blob1, double1) AS am FROM {W} WHERE temp > 1000",
    ),
    Case("empty_group_by", f"SELECT city, count() AS n FROM {W} WHERE temp > 1000 GROUP BY city"),
    Case("aggregate_of_expression", f"SELECT sum(temp * 1.8 + 32) AS f, max(length(city)) AS l FROM {W}"),
    Case(
        "expression_of_aggregates",
        f"SELECT round(sum(double1) / count(), 6) AS a, max(double1) - min(double1) AS r FROM {W}",
    ),
    Case("count_distinct_if_pattern", f"SELECT count(DISTINCT if(blob1 = 'error', blob2, NULL)) AS n FROM {A}"),
    # ---- conditionals ----------------------------------------------------------------------
    Case("if", f"SELECT city, if(temp <= 0, 'FREEZING', 'NOT FREEZING') AS d FROM {W}"),
    Case(
        "if_numeric",
        f"SELECT if(double1 > 100, 1, 0) AS slow, if(double1 > 100, double1, 0) AS v FROM {A} WHERE blob1 = 'GET'",
    ),
    Case("if_unit_conversion", f"SELECT count() AS n FROM {W} WHERE if(unit = 'f', (temp - 32) / 1.8, temp) <= 0"),
    Case(
        "multi_if",
        f"SELECT multiIf(temp < 0, 'cold', temp < 20, 'mild', 'hot') AS band, count() AS n FROM {W} GROUP BY band ORDER BY band",
        True,
    ),
    Case("case_when", f"SELECT SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) AS e, COUNT(*) AS n FROM {A}"),
    Case(
        "case_simple",
        f"SELECT CASE blob1 WHEN 'GET' THEN 'read' WHEN 'POST' THEN 'write' ELSE 'other' END AS kind, count() AS n FROM {A} GROUP BY kind",
    ),
    Case("case_no_else", f"SELECT CASE WHEN temp > 30 THEN 'hot' END AS h FROM {W}"),
    Case("coalesce", f"SELECT coalesce(blob5, 'x') AS a, coalesce(NULL, blob1) AS b FROM {A} WHERE blob1 = 'GET'"),
    Case("nested_if", f"SELECT if(temp > 0, if(temp > 20, 2, 1), 0) AS b, count() AS n FROM {W} GROUP BY b"),
    # ---- math ------------------------------------------------------------------------------
    Case("int_div", "SELECT intDiv(7, 2) AS a, intDiv(-7, 2) AS b, intDiv(7.5, 2) AS c, intDiv(1000, 7) AS d"),
    Case("int_div_timestamp", f"SELECT intDiv(toUInt32(timestamp), 300) * 300 AS t FROM {W}"),
    Case("log_ln", f"SELECT log(humidity) AS a, ln(temp + 100) AS b FROM {W}"),
    Case("log_special", "SELECT log(0) AS a, log(-1) AS b, log(1) AS c"),
    Case("pow", f"SELECT pow(double1, 2) AS a, power(2, 10) AS b, pow(humidity, 0.5) AS c FROM {W}"),
    Case(
        "round",
        "SELECT round(5.5) AS a, round(3.14, 1) AS b, round(2.5) AS c, round(-2.5) AS d, round(0.125, 2) AS e, round(7) AS f, round(15, -1) AS g",
    ),
    Case("round_column", f"SELECT round(temp, 1) AS a, round(temp) AS b, round(temp, -1) AS c FROM {W}"),
    Case(
        "floor_ceil",
        "SELECT floor(3.14, 1) AS a, ceil(3.14, 1) AS b, floor(-3.15, 1) AS c, ceil(-2.5) AS d, floor(2.7) AS e, ceiling(1.2) AS f",
    ),
    Case("floor_ceil_column", f"SELECT floor(temp) AS a, ceil(temp, 1) AS b FROM {W}"),
    Case("abs", f"SELECT abs(temp) AS a, abs(-3) AS b, abs(3) AS c FROM {W}"),
    Case("sqrt_exp", f"SELECT sqrt(humidity) AS a, exp(humidity) AS b FROM {W}"),
    # ---- strings ---------------------------------------------------------------------------
    Case("length_ascii", f"SELECT length(blob2) AS l, length('a string') AS s FROM {A}"),
    Case(
        "length_unicode",
        f"SELECT blob5, length(blob5) AS l FROM {A} WHERE blob5 != ''",
        clickhouse=f"SELECT blob5, lengthUTF8(blob5) AS l FROM {A} WHERE blob5 != ''",
        difference="length counts UTF-8 code points, as the AE docs state (ClickHouse's length counts bytes)",
    ),
    Case(
        "empty_functions",
        f"SELECT empty(blob5) AS a, notEmpty(blob5) AS b, empty('') AS c, empty('a string') AS d FROM {A}",
    ),
    Case(
        "is_empty_legacy",
        f"SELECT isEmpty(blob5) AS a FROM {A}",
        clickhouse=f"SELECT empty(blob5) AS a FROM {A}",
        difference="isEmpty is the legacy AE name of empty",
    ),
    Case("lower_upper", f"SELECT lower(blob1) AS a, upper(blob2) AS b, lower('STRING TO DOWNCASE') AS c FROM {A}"),
    Case("lower_upper_ascii_only", f"SELECT lower(blob5) AS a, upper(blob5) AS b FROM {A} WHERE blob5 != ''"),
    Case(
        "lower_upper_utf8",
        f"SELECT lowerUTF8(blob5) AS a, upperUTF8(blob5) AS b, upperUTF8('string to uppercase') AS c FROM {A} WHERE blob5 NOT LIKE '%ß%'",
    ),
    Case(
        "upper_utf8_sharp_s",
        "SELECT upperUTF8('straße') AS a, lowerUTF8('STRASSE') AS b",
        clickhouse="SELECT 'STRAßE' AS a, lowerUTF8('STRASSE') AS b",
        difference="upperUTF8 uses PostgreSQL's one-to-one case mapping: ß stays ß (ClickHouse expands it to SS)",
    ),
    Case(
        "starts_ends_with",
        f"SELECT startsWith(blob2, '/api') AS a, endsWith(blob2, 's') AS b, endsWith('prefix suffix', 'suffix') AS c FROM {A}",
    ),
    Case(
        "position",
        f"SELECT position(blob2, 'i') AS a, position('/' IN blob2) AS b, position(':' IN 'hello: world') AS c FROM {A}",
    ),
    Case(
        "substring",
        f"SELECT substring(blob2, 2) AS a, substring(blob2, 2, 3) AS b, substring('hello world', 6) AS c FROM {A}",
    ),
    Case(
        "substring_negative",
        "SELECT substring('hello', -3) AS a, substring('hello', 0) AS b, substring('hello', 2, -1) AS c, substring('hello', 10) AS d, substring('hello', -10, 7) AS e",
    ),
    Case("substring_position_example", "SELECT substring('hello: world', 1, position(':' IN 'hello: world') - 1) AS s"),
    Case(
        "substring_unicode",
        f"SELECT substring(blob5, 2, 3) AS s FROM {A} WHERE blob5 != ''",
        clickhouse=f"SELECT substringUTF8(blob5, 2, 3) AS s FROM {A} WHERE blob5 != ''",
        difference="substring counts code points, as the AE docs state (ClickHouse's substring counts bytes)",
    ),
    Case("format", f"SELECT format('blob1: {{}}', blob1) AS s, format('{{}}-{{}}', blob1, blob2) AS t FROM {A}"),
    Case(
        "format_numbers", f"SELECT format('{{}} at {{}}', _sample_interval, blob3) AS s FROM {A} WHERE blob1 = 'error'"
    ),
    Case("concat", f"SELECT concat(blob1, '/', blob2) AS s FROM {A}"),
    Case(
        "to_string", f"SELECT toString(_sample_interval) AS a, toString(timestamp) AS b, toString(blob1) AS c FROM {W}"
    ),
    Case("to_string_float", "SELECT toString(0.1) AS a, toString(2.5) AS b, toString(100) AS c"),
    # ---- date and time ---------------------------------------------------------------------
    Case(
        "date_parts",
        f"SELECT toYear(timestamp) AS y, toMonth(timestamp) AS m, toDayOfMonth(timestamp) AS d, toHour(timestamp) AS h, "
        f"toMinute(timestamp) AS mi, toSecond(timestamp) AS s, toDayOfWeek(timestamp) AS w FROM {W}",
    ),
    Case(
        "date_parts_literals",
        "SELECT toYear(toDateTime('2025-10-27 00:00:00')) AS y, toMonth(toDateTime('2025-10-27 00:00:00')) AS m, "
        "toDayOfWeek(toDateTime('2025-10-27 00:00:00')) AS w1, toDayOfWeek(toDateTime('2025-10-28 00:00:00')) AS w2, "
        "toDayOfWeek(toDateTime('2025-11-02 00:00:00')) AS w7, toDayOfMonth(toDateTime('2025-10-27 00:00:00')) AS d, "
        "toHour(toDateTime('2025-10-27 09:11:13')) AS h, toMinute(toDateTime('2025-10-27 09:11:13')) AS mi, "
        "toSecond(toDateTime('2025-10-27 09:11:13')) AS s",
    ),
    Case(
        "extract",
        "SELECT extract(SECOND FROM toDateTime('2022-06-06 11:30:15')) AS s, extract(YEAR FROM toDateTime('2022-06-06 11:30:15')) AS y, "
        "extract(MONTH FROM toDateTime('2022-06-06 11:30:15')) AS m, extract(DAY FROM toDateTime('2022-06-06 11:30:15')) AS d, "
        "extract(HOUR FROM toDateTime('2022-06-06 11:30:15')) AS h, extract(MINUTE FROM toDateTime('2022-06-06 11:30:15')) AS mi",
    ),
    Case(
        "extract_column", f"SELECT extract(HOUR FROM timestamp) AS h, count() AS n FROM {A} GROUP BY h ORDER BY h", True
    ),
    Case("to_unix_timestamp", f"SELECT toUnixTimestamp(timestamp) AS u, toUInt32(timestamp) AS v FROM {W}"),
    Case(
        "start_of_literals",
        "SELECT toStartOfYear(toDateTime('2025-10-27 00:00:00')) AS y, toStartOfMonth(toDateTime('2025-10-27 00:00:00')) AS m, "
        "toStartOfDay(toDateTime('2025-10-27 13:00:00')) AS d, toStartOfHour(toDateTime('2025-10-27 16:55:25')) AS h, "
        "toStartOfFifteenMinutes(toDateTime('2025-10-27 16:55:25')) AS f15, toStartOfTenMinutes(toDateTime('2025-10-27 16:55:25')) AS f10, "
        "toStartOfFiveMinutes(toDateTime('2025-10-27 16:55:25')) AS f5, toStartOfMinute(toDateTime('2025-10-27 16:55:25')) AS f1",
    ),
    Case(
        "start_of_week_monday",
        "SELECT toStartOfWeek(toDateTime('2025-10-27 00:00:00')) AS a, toStartOfWeek(toDateTime('2025-10-29 00:00:00')) AS b, "
        "toStartOfWeek(toDateTime('2025-11-02 12:00:00')) AS c",
        clickhouse="SELECT toStartOfWeek(toDateTime('2025-10-27 00:00:00'), 1) AS a, toStartOfWeek(toDateTime('2025-10-29 00:00:00'), 1) AS b, "
        "toStartOfWeek(toDateTime('2025-11-02 12:00:00'), 1) AS c",
        difference="toStartOfWeek starts weeks on Monday, as the AE docs state (ClickHouse's default mode 0 starts on Sunday)",
    ),
    Case(
        "start_of_columns",
        f"SELECT toStartOfDay(timestamp) AS d, toStartOfHour(timestamp) AS h, toStartOfMinute(timestamp) AS m, "
        f"toStartOfFiveMinutes(timestamp) AS f5, toStartOfFifteenMinutes(timestamp) AS f15, toStartOfMonth(timestamp) AS mo, toStartOfYear(timestamp) AS y FROM {W}",
    ),
    Case("to_yyyymm", f"SELECT toYYYYMM(timestamp) AS ym, toYYYYMM(toDateTime('2025-10-27 16:55:25')) AS lit FROM {W}"),
    Case(
        "start_of_interval_units",
        f"SELECT toStartOfInterval(timestamp, INTERVAL '1' HOUR) AS h, toStartOfInterval(timestamp, INTERVAL '1' DAY) AS d, "
        f"toStartOfInterval(timestamp, INTERVAL '15' MINUTE) AS m15, toStartOfInterval(timestamp, INTERVAL 30 SECOND) AS s30 FROM {W}",
    ),
    Case(
        "start_of_interval_multi",
        "SELECT toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL 7 HOUR) AS a, "
        "toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL 2 DAY) AS b, toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL 7 MINUTE) AS c, "
        "toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL 2 WEEK) AS d, toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL 5 MONTH) AS e, "
        "toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL 7 YEAR) AS f, toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL 1 QUARTER) AS g",
    ),
    Case(
        "start_of_interval_tz",
        "SELECT toStartOfInterval(toDateTime('2025-10-27 02:55:25'), INTERVAL '1' DAY, 'America/New_York') AS a, "
        "toStartOfInterval(toDateTime('2025-10-27 16:55:25'), INTERVAL '1' HOUR, 'Asia/Kolkata') AS b",
    ),
    Case(
        "start_of_interval_group",
        f"SELECT toStartOfInterval(timestamp, INTERVAL '1' DAY) AS day, sum(_sample_interval) AS n FROM {A} GROUP BY day ORDER BY day",
        True,
    ),
    Case(
        "start_of_interval_week_month",
        f"SELECT toStartOfInterval(timestamp, INTERVAL 1 WEEK) AS w, toStartOfInterval(timestamp, INTERVAL 1 MONTH) AS m FROM {W}",
    ),
    Case(
        "date_trunc",
        f"SELECT DATE_TRUNC('day', timestamp) AS d, date_trunc('hour', timestamp) AS h, date_trunc('month', timestamp) AS m FROM {W}",
    ),
    Case(
        "format_datetime_codes",
        "SELECT formatDateTime(toDateTime('2025-10-27 09:05:03'), '%a|%b|%c|%C|%d|%D|%e|%F|%G|%g|%h|%H|%i|%I|%j|%k|%l|%m|%M|%n|%p|%Q|%r|%R|%s|%S|%t|%T|%u|%V|%w|%W|%y|%Y|%z|%%|%f') AS s",
    ),
    Case(
        "format_datetime_pm",
        "SELECT formatDateTime(toDateTime('2025-01-02 15:05:03'), '%e|%h|%I|%k|%l|%p|%r|%j|%V|%u|%w') AS s",
    ),
    Case(
        "format_datetime_column",
        f"SELECT formatDateTime(timestamp, '%Y-%m-%d %H:%i:%S') AS s, formatDateTime(timestamp, '%F') AS d FROM {W}",
    ),
    Case(
        "format_datetime_tz",
        "SELECT formatDateTime(toDateTime('2022-12-01 16:17:00', 'America/New_York'), '%Y-%m-%d %H') AS a, "
        "formatDateTime(toDateTime('2022-12-01 16:17:00', 'America/New_York'), '%Y-%m-%d %H', 'Etc/UTC') AS b, "
        "formatDateTime(toDateTime('2022-12-01 23:17:00'), '%Y-%m-%d', 'Asia/Tokyo') AS c",
    ),
    Case(
        "to_datetime_forms",
        "SELECT toDateTime(355924804) AS a, toDateTime('355924804') AS b, toDateTime('1981-04-12 12:00:04') AS c, "
        "toDateTime('2022-12-01 16:17:00', 'America/New_York') AS d",
    ),
    Case("to_datetime_column", f"SELECT toDateTime(double3 * 1000000) AS a FROM {W}"),
    Case(
        "datetime_tz_parts",
        "SELECT toHour(toDateTime('2022-12-01 16:17:00', 'America/New_York')) AS h, "
        "toUnixTimestamp(toDateTime('2022-12-01 16:17:00', 'America/New_York')) AS u",
    ),
    Case(
        "interval_arithmetic",
        "SELECT toDateTime('2025-03-01 00:00:00') - INTERVAL '1' DAY AS a, toDateTime('2025-03-01 00:00:00') + INTERVAL 90 MINUTE AS b, "
        "toDateTime('2025-01-31 00:00:00') + INTERVAL '1' MONTH AS c, toDateTime('2024-02-29 12:00:00') + INTERVAL 1 YEAR AS d, "
        "toDateTime('2025-03-01 00:00:00') - INTERVAL 30 SECOND AS e, toDateTime('2025-03-01 00:00:00') + INTERVAL 2 HOUR AS f, "
        "toDateTime('2025-03-01 00:00:00') - INTERVAL 2 WEEK AS g",
    ),
    Case("now_window_day", f"SELECT count() AS n FROM {A} WHERE timestamp > NOW() - INTERVAL '1' DAY"),
    Case(
        "now_window_hours",
        f"SELECT count() AS n FROM {A} WHERE timestamp > NOW() - INTERVAL '24' HOUR AND timestamp <= now()",
    ),
    Case("now_window_minutes", f"SELECT count() AS n FROM {W} WHERE timestamp >= NOW() - INTERVAL '300' MINUTE"),
    Case("now_window_month", f"SELECT count() AS n FROM {W} WHERE timestamp > now() - INTERVAL '1' MONTH"),
    Case("today", f"SELECT count() AS n FROM {W} WHERE toStartOfDay(timestamp) < today()"),
    Case(
        "compare_datetime_string",
        f"SELECT count() AS n FROM {W} WHERE timestamp >= toDateTime('2020-01-01 00:00:00') AND timestamp < '2099-01-01 00:00:00'",
    ),
    Case("datetime_output", f"SELECT timestamp, toDateTime(timestamp, 'Asia/Tokyo') AS tokyo FROM {W}"),
    # ---- conversions -----------------------------------------------------------------------
    Case(
        "to_uint8",
        f"SELECT toUInt8(double3) AS a, toUInt8('12') AS b, toUInt8(2.9) AS c, toUInt8(300.7) AS d, toUInt8(-1) AS e FROM {W}",
    ),
    Case(
        "to_uint32",
        f"SELECT toUInt32(double1 * 10) AS a, toUInt32(-1) AS b, toUInt32('4000000000') AS c FROM {W} WHERE double1 > 0",
    ),
    Case(
        "to_int",
        "SELECT toInt8(200) AS a, toInt16(40000) AS b, toInt32(-5) AS c, toInt64(123456789012) AS d, toUInt16(70000) AS e, toUInt64(5) AS f",
    ),
    Case("to_float64", f"SELECT toFloat64(_sample_interval) AS a, toFloat64('2.5') AS b FROM {W}"),
    # ---- bits and encoding -----------------------------------------------------------------
    Case(
        "bit_docs_examples",
        "SELECT bitAnd(1, 3) AS a, bitOr(1, 2) AS b, bitXor(1, 2) AS c, bitXor(3, 3) AS d, bitHammingDistance(1, 1) AS e, "
        "bitHammingDistance(3, 0) AS f, bitTest(3, 1) AS g, bitTest(2, 1) AS h",
    ),
    Case(
        "bit_shift_rotate",
        "SELECT bitRotateLeft(1, 1) AS a, bitRotateLeft(128, 1) AS b, bitRotateRight(1, 1) AS c, bitRotateRight(12, 2) AS d, "
        "bitShiftLeft(1, 1) AS e, bitShiftLeft(128, 1) AS f, bitShiftRight(1, 1) AS g, bitShiftRight(12, 2) AS h, bitShiftLeft(1, 8) AS i",
    ),
    Case(
        "bit_widths",
        "SELECT bitNot(1) AS a, bitNot(300) AS b, bitRotateLeft(toUInt16(1), 17) AS c, bitAnd(1, 300) AS d, bitCount(255) AS e, "
        "bitCount(-1) AS f, bitNot(toInt8(1)) AS g, bitShiftLeft(toUInt32(1), 31) AS h",
    ),
    Case(
        "bit_columns",
        f"SELECT bitAnd(toUInt8(double3), 1) AS a, bitCount(toUInt32(double3)) AS b, bitTest(toUInt8(double3), 2) AS c, "
        f"bitXor(toUInt8(double3), 255) AS d, bitShiftRight(toUInt32(double3), 3) AS e FROM {W}",
    ),
    Case("bit_count_float", f"SELECT bitCount(double1) AS a, bitCount(1.0) AS b FROM {W}"),
    Case("bit_filter", f"SELECT count() AS n FROM {W} WHERE bitCount(toUInt32(double3)) > 5"),
    Case(
        "hex_bin",
        "SELECT hex(1) AS a, hex(255) AS b, hex(256) AS c, hex('abc') AS d, bin(1) AS e, bin('abc') AS f, hex(1.0) AS g, hex(-1) AS h, bin(300) AS i",
    ),
    Case("hex_columns", f"SELECT hex(blob1) AS a, hex(_sample_interval) AS b, hex(double1) AS c FROM {W}"),
    # ---- the seed's and the docs' full queries -------------------------------------------
    Case(
        "seed_requests_by_path",
        f"""
    SELECT
      blob2 as path,
      SUM(double2) as request_count,
      AVG(double1) as avg_duration_ms
    FROM {A}
    WHERE timestamp > NOW() - INTERVAL '24' HOUR
      AND blob1 = 'GET'
    GROUP BY path
    ORDER BY request_count DESC, path
    LIMIT 10
  """,
        True,
    ),
    Case(
        "seed_cost_by_project",
        f"""
    SELECT
      blob1 as project_id,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM {A}
    WHERE timestamp > NOW() - INTERVAL '7' DAY
      AND blob3 = 'cost'
    GROUP BY project_id, cost_type
    ORDER BY total_cost DESC
  """,
        True,
    ),
    Case(
        "seed_error_rate",
        f"""
    SELECT
      blob2 as error_type,
      COUNT(*) as error_count
    FROM {A}
    WHERE timestamp > NOW() - INTERVAL '1' HOUR
      AND blob1 = 'error'
    GROUP BY error_type
    ORDER BY error_count DESC
  """,
    ),
    Case(
        "seed_realtime",
        f"""
    SELECT
      COUNT(*) as total_requests,
      AVG(double1) as avg_response_time,
      SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) as error_count
    FROM {A}
    WHERE timestamp > NOW() - INTERVAL '5' MINUTE
  """,
    ),
    Case(
        "seed_realtime_day",
        f"SELECT COUNT(*) as total_requests, AVG(double1) as avg_response_time, "
        f"SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) as error_count FROM {A} WHERE timestamp > NOW() - INTERVAL '1' DAY",
    ),
    Case(
        "seed_cost_trends",
        f"""
    SELECT
      DATE_TRUNC('day', timestamp) as date,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM {A}
    WHERE timestamp > NOW() - INTERVAL '30' DAY
      AND blob3 = 'cost'
    GROUP BY date, cost_type
    ORDER BY date DESC, cost_type
  """,
        True,
    ),
    Case(
        "docs_e1",
        f"SELECT blob1 AS city, SUM(_sample_interval * double2) / SUM(_sample_interval) AS avg_humidity FROM {W} "
        "WHERE double1 > 0 GROUP BY city ORDER BY avg_humidity DESC LIMIT 10",
        True,
    ),
    Case(
        "docs_e3",
        f"SELECT intDiv(toUInt32(timestamp), 300) * 300 AS t, blob1 AS city, SUM(_sample_interval * double2) / SUM(_sample_interval) AS avg_humidity "
        f"FROM {W} WHERE timestamp >= NOW() - INTERVAL '1' DAY AND double1 > 0 GROUP BY t, city ORDER BY t, avg_humidity DESC",
        True,
    ),
    Case("docs_e4", "SELECT 'Hello Workers Analytics Engine' AS message"),
    Case(
        "docs_e7",
        f"SELECT index1 AS location_id, SUM(_sample_interval) AS n_readings FROM {W} WHERE timestamp > NOW() - INTERVAL '7' DAY GROUP BY index1",
    ),
    Case(
        "docs_e9",
        f"SELECT intDiv(toUInt32(timestamp), 60) * 60 AS t, blob1 AS label, SUM(_sample_interval * double1) / SUM(_sample_interval) AS average_metric "
        f"FROM {W} WHERE timestamp <= NOW() AND timestamp > NOW() - INTERVAL '1' DAY GROUP BY blob1, t ORDER BY t, label",
        True,
    ),
    Case(
        "docs_e12",
        f"SELECT blob1 AS city, max(double1) as max_temp, min(double1) as min_temp FROM {W} WHERE timestamp > NOW() - INTERVAL '1' DAY GROUP BY city ORDER BY city",
        True,
    ),
    Case(
        "docs_e15_alias_where",
        f"SELECT index1 AS customer_id, blob1 AS request_endpoint, sum(_sample_interval) AS usage_count FROM {A} "
        "WHERE customer_id = 'proj-alpha' AND timestamp >= toDateTime('2020-03-01 00:00:00') AND timestamp < toDateTime('2099-04-01 00:00:00') "
        "GROUP BY customer_id, request_endpoint",
    ),
    Case(
        "docs_e16",
        f"SELECT index1 AS customer_id, toStartOfInterval(timestamp, INTERVAL '1' DAY) AS date, blob1 AS request_endpoint, "
        f"sum(_sample_interval) AS request_count FROM {A} WHERE customer_id = 'proj-beta' GROUP BY customer_id, date, request_endpoint",
    ),
    Case("docs_e24", f"SELECT blob2 AS probe_name, double3 AS temp_c, double3*1.8+32 AS temp_f FROM {W}"),
    Case(
        "docs_e28",
        f"SELECT blob1 AS city, avg(double1) AS avg_temp, count() AS readings FROM {W} GROUP BY city HAVING avg_temp > 5 AND readings >= 40",
    ),
    Case(
        "docs_e32",
        f"SELECT toStartOfInterval(timestamp, INTERVAL '1' HOUR) AS hour, sum(_sample_interval) AS count FROM {A} GROUP BY hour ORDER BY hour ASC",
        True,
    ),
    Case(
        "docs_e47",
        f"SELECT blob2 AS path, SUM(_sample_interval) AS views FROM {A} WHERE timestamp > NOW() - INTERVAL '1' HOUR GROUP BY path ORDER BY views DESC, path LIMIT 10",
        True,
    ),
    Case(
        "docs_sampling_idioms",
        f"SELECT count() AS a, sum(_sample_interval) AS b, sum(double1) AS c, sum(double1 * _sample_interval) AS d, avg(double1) AS e, "
        f"sum(double1 * _sample_interval) / sum(_sample_interval) AS f FROM {A}",
    ),
    # ---- larger shapes ---------------------------------------------------------------------
    Case(
        "ai_cost_by_model",
        f"SELECT blob2 AS model, sum(double1 * _sample_interval) AS tokens, round(sum(double2 * _sample_interval), 6) AS cost "
        f"FROM {A} WHERE blob1 = 'ai-usage' GROUP BY model ORDER BY model",
        True,
    ),
    Case(
        "error_share_by_day",
        f"SELECT toStartOfDay(timestamp) AS day, countIf(blob1 = 'error') / count() AS share FROM {A} GROUP BY day ORDER BY day",
        True,
    ),
    Case(
        "p95_latency_by_path",
        f"SELECT blob2 AS path, quantileExactWeighted(0.95)(double1, _sample_interval) AS p95 FROM {A} "
        f"WHERE blob1 IN ('GET', 'POST', 'PUT', 'DELETE') GROUP BY path ORDER BY path",
        True,
    ),
    Case(
        "users_active",
        f"SELECT uniqExact(blob3) AS users, countIf(blob2 = 'login') AS logins FROM {A} WHERE blob1 = 'user-event'",
    ),
    Case(
        "resource_usage",
        f"SELECT blob3 AS project, blob2 AS resource, sum(double1) AS usage, max(double1) AS peak FROM {A} "
        f"WHERE blob1 = 'resource' GROUP BY project, resource ORDER BY project, resource",
        True,
    ),
    Case(
        "status_classes",
        f"SELECT substring(blob3, 1, 1) AS class, count() AS n FROM {A} WHERE blob1 IN ('GET', 'POST', 'PUT', 'DELETE') GROUP BY class ORDER BY class",
        True,
    ),
    Case(
        "hourly_series",
        f"SELECT toStartOfHour(timestamp) AS h, blob1 AS k, count() AS n FROM {A} WHERE timestamp > now() - INTERVAL '6' HOUR GROUP BY h, k ORDER BY h, k",
        True,
    ),
    Case(
        "slowest_requests",
        f"SELECT index1, double1 FROM {A} WHERE blob1 = 'GET' ORDER BY double1 DESC, index1 LIMIT 3",
        True,
    ),
    Case(
        "weighted_bytes",
        f"SELECT blob4 AS env, sum(double3 * _sample_interval) AS bytes FROM {A} WHERE blob1 IN ('GET', 'POST') GROUP BY env",
    ),
    Case(
        "multi_level_cte_union",
        f"WITH c AS (SELECT blob1 AS k, count() AS n FROM {A} GROUP BY k) SELECT k, n FROM c WHERE n > 50 UNION ALL SELECT 'total' AS k, sum(n) AS n FROM c",
    ),
    Case("order_by_expression", f"SELECT city, temp FROM {W} ORDER BY abs(temp - 10), city, temp LIMIT 7", True),
    Case("order_by_string_desc", f"SELECT DISTINCT blob2 AS p FROM {A} ORDER BY p DESC", True),
    Case(
        "where_in_and_like",
        f"SELECT blob2, count() AS n FROM {A} WHERE blob1 IN ('GET', 'POST') AND blob2 LIKE '/api/%' GROUP BY blob2 ORDER BY blob2",
        True,
    ),
    Case(
        "group_by_two_expressions",
        f"SELECT toDayOfWeek(timestamp) AS dow, toHour(timestamp) >= 12 AS pm, count() AS n FROM {A} GROUP BY dow, pm ORDER BY dow, pm",
        True,
    ),
    Case("sum_of_if", f"SELECT sum(if(blob3 = '200', _sample_interval, 0)) AS ok FROM {A}"),
    Case(
        "avg_of_bool",
        f"SELECT avg(blob3 LIKE '5%') AS error_rate FROM {A} WHERE blob1 IN ('GET', 'POST', 'PUT', 'DELETE')",
    ),
    Case("greatest_least", f"SELECT greatest(double1, double2) AS g, least(double1, double2) AS l FROM {W}"),
    Case("nullif_ifnull", f"SELECT ifNull(NULL, 'x') AS a, coalesce(blob1, 'y') AS b FROM {W}"),
    # ---- aliases and extras ----------------------------------------------------------------
    Case(
        "utf8_aliases",
        f"SELECT lengthUTF8(blob5) AS l, positionUTF8(blob5, 'c') AS p, substringUTF8(blob5, 2, 3) AS s, substr(blob2, 2) AS t FROM {A}",
    ),
    Case(
        "to_lower_upper_legacy",
        f"SELECT toLower(blob5) AS a, toUpper(blob2) AS b FROM {A} WHERE blob5 NOT LIKE '%ß%'",
        clickhouse=f"SELECT lowerUTF8(blob5) AS a, upperUTF8(blob2) AS b FROM {A} WHERE blob5 NOT LIKE '%ß%'",
        difference="toLower/toUpper are the AE legacy names of lowerUTF8/upperUTF8; ClickHouse 26 has no toLower",
    ),
    Case(
        "more_conditional_aggregates",
        f"SELECT minIf(temp, city = 'Oslo') AS a, maxIf(temp, city = 'Oslo') AS b, uniqIf(index1, temp > 0) AS c FROM {W}",
    ),
    Case(
        "first_last_single_valued",
        f"SELECT blob1 AS k, first_value(blob3) AS f, last_value(blob3) AS l, any(blob3) AS a, anyLast(blob3) AS z FROM {A} "
        f"WHERE blob1 IN ('cost', 'ai-usage') GROUP BY k ORDER BY k",
        True,
    ),
    Case("log2_log10", f"SELECT log2(humidity) AS a, log10(double3 + 1) AS b, log2(8) AS c, log10(1000) AS d FROM {W}"),
    Case("null_if_is_null", f"SELECT nullIf(blob1, 'Oslo') AS a, blob1 IS NULL AS b, blob1 IS NOT NULL AS c FROM {W}"),
    Case(
        "quarter_day_of_year",
        f"SELECT toQuarter(timestamp) AS q, toDayOfYear(timestamp) AS d, toStartOfQuarter(timestamp) AS s FROM {W}",
    ),
    Case(
        "yyyymmdd_monday_dayofweek",
        f"SELECT toYYYYMMDD(timestamp) AS a, toMonday(timestamp) AS b, dayOfWeek(timestamp) AS c FROM {W}",
    ),
    Case(
        "to_date",
        f"SELECT toDate(timestamp) AS a, toDate('2025-01-02') AS b, toString(toDate('2025-01-02')) AS c FROM {W}",
    ),
    Case(
        "date_arithmetic",
        f"SELECT toDate('2025-03-01') - INTERVAL 1 DAY AS a, toDate('2025-01-31') + INTERVAL 1 MONTH AS b, "
        f"timestamp + 60 AS c, timestamp - 3600 AS d FROM {W}",
    ),
    Case(
        "today_compare",
        f"SELECT count() AS n FROM {W} WHERE toDate(timestamp) < today() AND toDate(timestamp) >= today() - INTERVAL 30 DAY",
    ),
    Case(
        "timezone_function",
        "SELECT timezone() AS tz",
        clickhouse="SELECT 'Etc/UTC' AS tz",
        difference="timezone() answers Etc/UTC, the AE default timezone SHOW TIMEZONE reports (ClickHouse prints the server's UTC)",
    ),
    Case(
        "cast_simple",
        f"SELECT CAST(_sample_interval AS String) AS a, CAST(double3 AS UInt8) AS b, CAST('12' AS UInt16) AS c FROM {W}",
    ),
    Case("if_null", f"SELECT ifNull(nullIf(city, 'Oslo'), 'none') AS a FROM {W}"),
    Case(
        "top_k_weighted_default",
        f"SELECT topKWeighted(city, toUInt32(temp > 30)) AS t FROM {W} WHERE city IN ('Cairo', 'Oslo')",
    ),
    Case("quantile_default_level", f"SELECT quantile(temp) AS q FROM {W}"),
    Case(
        "tz_column_parts",
        f"SELECT toHour(toDateTime(timestamp, 'Asia/Tokyo')) AS h, toDayOfMonth(toDateTime(timestamp, 'America/Los_Angeles')) AS d, "
        f"formatDateTime(toDateTime(timestamp, 'Asia/Kolkata'), '%H:%i') AS f FROM {W}",
    ),
    Case(
        "tz_start_of_interval_column",
        f"SELECT toStartOfInterval(timestamp, INTERVAL 1 DAY, 'Asia/Tokyo') AS d, toStartOfDay(toDateTime(timestamp, 'Asia/Tokyo')) AS e FROM {W}",
    ),
    Case(
        "unix_timestamp_of_string",
        "SELECT toUnixTimestamp('2025-01-01 00:00:00') AS a, toUnixTimestamp(toDateTime('2025-01-01 00:00:00')) AS b",
    ),
    Case(
        "string_to_datetime_compare_with_column",
        f"SELECT count() AS n FROM {W} WHERE timestamp BETWEEN '2000-01-01 00:00:00' AND '2100-01-01 00:00:00'",
    ),
    Case("where_on_label_and_physical", f"SELECT count() AS n FROM {W} WHERE temp = double1 AND city = blob1"),
    Case("order_by_label_desc", f"SELECT city, temp FROM {W} ORDER BY temp DESC, city LIMIT 4", True),
    Case("distinct_multiple", f"SELECT DISTINCT blob1, blob4 FROM {A} WHERE blob1 IN ('GET', 'POST')"),
    Case(
        "having_on_group_key",
        f"SELECT blob1 AS k, count() AS n FROM {A} GROUP BY k HAVING k != 'error' ORDER BY k",
        True,
    ),
    Case(
        "subquery_with_limit",
        f"SELECT count() AS n FROM (SELECT index1 FROM {W} ORDER BY temp DESC, index1 LIMIT 17)",
        outer_limit_only=True,
        difference="rows_before_limit_at_least counts the outermost LIMIT only; ClickHouse also reports a subquery's",
    ),
    Case("in_tuple_numbers", f"SELECT count() AS n FROM {A} WHERE toUInt32(double2) IN (0, 1)"),
    Case(
        "order_nan_null_last",
        "SELECT x FROM (SELECT 1 / 0 AS x UNION ALL SELECT 0 / 0 AS x UNION ALL SELECT 2.5 AS x UNION ALL SELECT -1 / 0 AS x) ORDER BY x DESC",
        True,
    ),
    Case(
        "order_nan_null_last_asc",
        "SELECT x FROM (SELECT 0 / 0 AS x UNION ALL SELECT 2.5 AS x UNION ALL SELECT -1.5 AS x) ORDER BY x",
        True,
    ),
    Case(
        "to_interval_functions",
        f"SELECT toStartOfInterval(timestamp, toIntervalMinute(10)) AS a, timestamp - toIntervalDay(1) AS b, "
        f"timestamp + toIntervalHour('2') AS c FROM {W}",
    ),
    Case(
        "empty_string_defaults",
        f"SELECT count() AS n, countIf(blob20 = '') AS empty_blob, countIf(double20 = 0) AS zero_double FROM {A}",
    ),
    # ---- shapes real AE clients send (counterscale, Grafana, dashboards) ---------------------
    Case(
        "client_tz_bucket",
        f"SELECT toStartOfInterval(timestamp, INTERVAL '1' DAY, 'America/New_York') AS _bucket, "
        f"toDateTime(_bucket, 'Etc/UTC') AS bucket, SUM(_sample_interval) AS count FROM {W} GROUP BY _bucket ORDER BY _bucket",
        True,
    ),
    Case(
        "client_top_paths_paged",
        f"SELECT blob2, SUM(_sample_interval) AS count FROM {A} WHERE blob2 != '' GROUP BY blob2 "
        f"ORDER BY count DESC, blob2 LIMIT 3 OFFSET 2",
        True,
    ),
    Case(
        "client_order_by_aggregate_not_selected",
        f"SELECT blob1 FROM {A} GROUP BY blob1 ORDER BY count() DESC, blob1",
        True,
    ),
    Case(
        "client_ratio", f"SELECT countIf(blob3 LIKE '5%') / count() AS error_ratio, uniq(index1) AS visitors FROM {A}"
    ),
    Case(
        "client_grafana_macro_expanded",
        f"SELECT (intDiv(toUInt32(timestamp), 60) * 60) * 1000 AS t, blob1 AS label, "
        f"SUM(_sample_interval * double1) / SUM(_sample_interval) AS average_metric FROM {W} "
        f"WHERE timestamp >= toDateTime(1600000000) AND timestamp <= toDateTime(4000000000) GROUP BY blob1, t ORDER BY t, label",
        True,
    ),
    Case("client_count_distinct_name", f"SELECT count(DISTINCT blob1), uniqExact(blob2) FROM {A}"),
    Case("client_unquoted_interval", f"SELECT count() AS n FROM {A} WHERE timestamp > now() - INTERVAL 3 DAY"),
    Case(
        "client_weekly_rollup",
        f"SELECT toStartOfWeek(timestamp) AS week, count() AS n FROM {W} GROUP BY week ORDER BY week",
        True,
        clickhouse=f"SELECT toStartOfWeek(timestamp, 1) AS week, count() AS n FROM {W} GROUP BY week ORDER BY week",
        difference="toStartOfWeek starts weeks on Monday, as the AE docs state (ClickHouse's default mode 0 starts on Sunday)",
    ),
    # ---- row order, window functions and lambdas (Grafana's macros) -------------------------
    Case(
        "lag_lead_in_frame",
        f"SELECT t, n, lagInFrame(n) OVER () AS p, lagInFrame(n, 2, 99) OVER () AS p2, leadInFrame(n, 1, n) OVER () AS nx, "
        f"leadInFrame(city) OVER () AS c FROM (SELECT toStartOfDay(timestamp) AS t, city, count() AS n FROM {W} "
        "GROUP BY t, city ORDER BY t, city)",
        True,
    ),
    Case(
        "lag_in_frame_unaliased_name",
        f"SELECT t, lagInFrame(t / 1000, 1, 0) OVER () FROM (SELECT toUInt32(timestamp) * 1000 AS t FROM {W} ORDER BY t)",
        True,
    ),
    Case(
        "group_array_keeps_the_sorted_subquerys_order",
        f"SELECT d, groupArray(city) AS cities, groupArray(2)(n) AS first_two FROM (SELECT d, city, n FROM (SELECT "
        f"toDate(timestamp) AS d, city, count() AS n FROM {W} GROUP BY d, city ORDER BY city DESC, d)) GROUP BY d ORDER BY d",
        True,
    ),
    Case(
        "array_map_over_tuples_and_numbers",
        "SELECT d, arrayMap(p -> (p.2, p.1), pairs) AS swapped, arrayMap(x -> x * 2 + 1, counts) AS odd, "
        "arrayMap(p -> concat(p.1, '!'), pairs) AS names FROM (SELECT d, groupArray((city, n)) AS pairs, "
        f"groupArray(n) AS counts FROM (SELECT toDate(timestamp) AS d, city, count() AS n FROM {W} GROUP BY d, city "
        "ORDER BY d, city) GROUP BY d ORDER BY d)",
        True,
    ),
    Case(
        "array_map_over_a_group_array",
        f"SELECT city, arrayMap(x -> x * 10, groupArray(3)(n)) AS tens FROM (SELECT city, toDate(timestamp) AS d, "
        f"count() AS n FROM {W} GROUP BY city, d ORDER BY city, d) GROUP BY city ORDER BY city",
        True,
    ),
    Case(
        "array_map_reads_a_per_row_window_after_where",
        "SELECT d, arrayMap(p -> (p.1, p.2 / (toUInt32(d) - lagInFrame(toUInt32(d), 1, 0) OVER ())), pairs) FROM "
        f"(SELECT d, groupArray((city, n)) AS pairs FROM (SELECT toDate(timestamp) AS d, city, count() AS n FROM {W} "
        "GROUP BY d, city ORDER BY d, city) GROUP BY d ORDER BY d) WHERE length(pairs) > 1 AND notEmpty(pairs)",
        True,
    ),
    Case(
        "array_map_row_order_value_is_computed_before_order_by_its_alias",
        "SELECT d, arrayMap(p -> (p.1, p.2 - lagInFrame(n, 1, 0) OVER ()), pairs) AS r, length(r) AS k FROM (SELECT d, "
        f"groupArray((city, c)) AS pairs, sum(c) AS n FROM (SELECT toDate(timestamp) AS d, city, count() AS c FROM {W} "
        "GROUP BY d, city ORDER BY d, city) GROUP BY d ORDER BY d) ORDER BY k DESC, r, d",
        True,
    ),
]

FORMAT_CASES: list[Case] = [
    Case(
        "tsv",
        f"SELECT city, temp, timestamp, _sample_interval FROM {W} ORDER BY timestamp, index1, temp FORMAT TabSeparated",
        True,
    ),
    Case(
        "tsv_escapes",
        "SELECT 'a\\tb' AS a, 'line\\nbreak' AS b, 'back\\\\slash' AS c, 1.5 AS d, 100 AS e FORMAT TabSeparated",
        True,
    ),
    Case(
        "csv",
        f"SELECT city, temp, timestamp, 'say \"hi\"' AS q FROM {W} ORDER BY timestamp, index1, temp FORMAT CSV",
        True,
    ),
    Case(
        "json_each_row",
        f"SELECT city, count() AS n, max(temp) AS s, min(timestamp) AS t FROM {W} GROUP BY city ORDER BY city FORMAT JSONEachRow",
        True,
    ),
    Case("json_compact", f"SELECT city, count() AS n FROM {W} GROUP BY city ORDER BY city FORMAT JSONCompact", True),
    Case("json_explicit", f"SELECT city, count() AS n FROM {W} GROUP BY city ORDER BY city FORMAT JSON", True),
]
