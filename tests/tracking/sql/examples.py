"""Every example query of the Analytics Engine docs (reference §6) and of the seed document.

Complete statements are kept verbatim. Fragments (a SELECT list, a WHERE clause, an
expression) are completed into the smallest statement around them over ``my_dataset``;
``wrap`` records how. ``clickhouse=False`` marks examples ClickHouse itself cannot run
(AE-only syntax or AE-specific semantics); they are checked for exact values instead.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    id: str
    sql: str
    clickhouse: bool = True
    ordered: bool = False


DOC_DATASETS = {
    "WEATHER": {},
    "weather": {},
    "temperatures": {},
    "dataset_name": {},
    "my_dataset": {
        "double1": "query_time",
        "double2": "bytes",
        "double3": "item_cost",
        "double4": "in_stock",
        "double5": "temp",
        "blob4": "unit",
        "blob3": "column_name",
    },
    "usage_indexed_by_customer_id": {},
    "api_requests": {},
    "your_dataset": {},
    "dataset": {},
    "temperature_readings": {},
    "weather_data": {},
    "logs": {},
    "requests": {},
    "events": {},
}

E1 = """SELECT
  blob1 AS city,
  SUM(_sample_interval * double2) / SUM(_sample_interval) AS avg_humidity
FROM WEATHER
WHERE double1 > 0
GROUP BY city
ORDER BY avg_humidity DESC
LIMIT 10"""

COMPLETE = [
    Example("E1", E1, ordered=True),
    Example(
        "E2",
        "SELECT blob1 AS city, SUM(_sample_interval * double2) / SUM(_sample_interval) AS avg_humidity FROM WEATHER WHERE double1 > 0 GROUP BY city ORDER BY avg_humidity DESC LIMIT 10",
        ordered=True,
    ),
    Example(
        "E3",
        """SELECT
  intDiv(toUInt32(timestamp), 300) * 300 AS t,
  blob1 AS city,
  SUM(_sample_interval * double2) / SUM(_sample_interval) AS avg_humidity
FROM WEATHER
WHERE
  timestamp >= NOW() - INTERVAL '1' DAY
  AND double1 > 0
GROUP BY t, city
ORDER BY t, avg_humidity DESC""",
    ),
    Example("E4", "SELECT 'Hello Workers Analytics Engine' AS message"),
    Example(
        "E6",
        """SELECT
    timestamp,
    blob1 AS location_id,
    double1 AS inside_temp,
    double2 AS outside_temp
FROM temperatures
WHERE timestamp > NOW() - INTERVAL '1' DAY""",
    ),
    Example(
        "E7",
        """SELECT
    index1 AS location_id,
    SUM(_sample_interval) AS n_readings
FROM temperatures
WHERE timestamp > NOW() - INTERVAL '7' DAY
GROUP BY index1""",
    ),
    Example(
        "E8",
        """SELECT
    index1 AS location_id,
    SUM(_sample_interval * double1) / SUM(_sample_interval) AS average_temp
FROM temperatures
WHERE timestamp > NOW() - INTERVAL '7' DAY
GROUP BY index1""",
    ),
    Example(
        "E9",
        """SELECT
    intDiv(toUInt32(timestamp), 60) * 60 AS t,
    blob1 AS label,
    SUM(_sample_interval * double1) / SUM(_sample_interval) AS average_metric
FROM dataset_name
WHERE
    timestamp <= NOW()
    AND timestamp > NOW() - INTERVAL '1' DAY
GROUP BY blob1, t
ORDER BY t""",
    ),
    Example("E11", "SELECT * FROM my_dataset"),
    Example(
        "E12",
        """
            SELECT
                blob1 AS city,
                max(double1) as max_temp,
                min(double1) as min_temp
            FROM weather
            WHERE timestamp > NOW() - INTERVAL '1' DAY
            GROUP BY city
            ORDER BY city
""",
        ordered=True,
    ),
    Example(
        "E13",
        """SELECT
  index1 AS customer_id,
  sum(_sample_interval) AS count
FROM
  usage_indexed_by_customer_id
GROUP BY customer_id""",
    ),
    Example(
        "E14",
        """SELECT
  index1 AS customer_id,
  blob1 AS request_endpoint,
  sum(_sample_interval) AS count
FROM
  usage_indexed_by_customer_id
GROUP BY customer_id, request_endpoint""",
    ),
    Example(
        "E15",
        """SELECT
  index1 AS customer_id,
  blob1 AS request_endpoint,
  sum(_sample_interval) AS usage_count
FROM
  usage_indexed_by_customer_id
WHERE
  customer_id = 'substitute_customer_id_here'
  AND timestamp >= toDateTime('2023-03-01 00:00:00')
  AND timestamp < toDateTime('2023-04-01 00:00:00')
GROUP BY customer_id, request_endpoint""",
    ),
    Example(
        "E16",
        """SELECT
  index1 AS customer_id,
  toStartOfInterval(timestamp, INTERVAL '1' DAY) AS date,
  blob1 AS request_endpoint,
  sum(_sample_interval) AS request_count
FROM
  usage_indexed_by_customer_id
WHERE
  customer_id = 'x'
  AND timestamp >= toDateTime('2023-03-01 00:00:00')
  AND timestamp < toDateTime('2023-04-01 00:00:00')
GROUP BY customer_id, date, request_endpoint""",
    ),
    Example("E17", "SELECT * FROM my_dataset LIMIT 10", clickhouse=False),
    Example(
        "E19",
        "SELECT blob1 AS city, AVG(double1) AS avg_temp FROM weather WHERE timestamp > NOW() - INTERVAL '1' DAY GROUP BY city",
    ),
    Example(
        "E20",
        """SELECT
    intDiv(toUInt32(timestamp), 300) * 300 AS t,
    blob1 AS city,
    SUM(_sample_interval * double1) / SUM(_sample_interval) AS avg_temp
FROM weather
WHERE timestamp >= NOW() - INTERVAL '1' DAY
GROUP BY t, city
ORDER BY t, city""",
        ordered=True,
    ),
    Example(
        "E21",
        "SELECT blob1 AS endpoint, SUM(_sample_interval) AS request_count FROM api_requests WHERE timestamp >= NOW() - INTERVAL '1' DAY GROUP BY endpoint ORDER BY request_count DESC",
    ),
    Example("E22", "SELECT * FROM my_dataset"),
    Example(
        "E27",
        """SELECT
    blob1 AS probe_name,
    avg(double1) AS average_temp
FROM temperature_readings
GROUP BY probe_name""",
    ),
    Example(
        "E28a",
        """SELECT
    blob1 AS probe_name,
    avg(double1) AS average_temp
FROM temperature_readings
GROUP BY probe_name
HAVING average_temp > 10""",
    ),
    Example(
        "E28b",
        """SELECT
    blob1 AS probe_name,
    count() AS num_readings
FROM temperature_readings
GROUP BY probe_name
HAVING num_readings > 100""",
    ),
    Example(
        "E28c",
        """SELECT
    blob1 AS city,
    avg(double1) AS avg_temp,
    count() AS readings
FROM weather_data
GROUP BY city
HAVING avg_temp > 20 AND readings >= 50""",
    ),
    Example(
        "E31a",
        """SELECT *
FROM logs
WHERE blob1 LIKE 'error%'""",
    ),
    Example(
        "E31b",
        """SELECT *
FROM requests
WHERE blob2 ILIKE '%.jpg'""",
    ),
    Example(
        "E31c",
        """SELECT *
FROM events
WHERE blob3 NOT ILIKE '%debug%'""",
    ),
    Example(
        "E32",
        """-- count the number of datapoints filed in each hourly window
SELECT
  toStartOfInterval(timestamp, INTERVAL '1' HOUR) AS hour,
  sum(_sample_interval) AS count
FROM your_dataset
GROUP BY hour
ORDER BY hour ASC""",
        ordered=True,
    ),
    Example("E38a", "SELECT first_value(blob1) FROM my_dataset ORDER BY timestamp ASC", clickhouse=False),
    Example("E38b", "SELECT last_value(blob1) FROM my_dataset ORDER BY timestamp DESC", clickhouse=False),
    Example("E39a", "SELECT topK(double1) FROM my_dataset", clickhouse=False),
    Example("E39b", "SELECT topK(15)(blob1) FROM my_dataset", clickhouse=False),
    Example("E39c", "SELECT topKWeighted(double1, _sample_interval) FROM my_dataset", clickhouse=False),
    Example("E39d", "SELECT topKWeighted(15)(blob1, _sample_interval) FROM my_dataset", clickhouse=False),
    Example("E42a", "SELECT length('a string') AS s;"),
    Example("E42b", "SELECT length(blob1) AS s FROM your_dataset;"),
    Example("E42c", "SELECT empty('a string') AS b;"),
    Example("E42d", "SELECT empty(blob1) AS b FROM your_dataset;"),
    Example("E42e", "SELECT lower('STRING TO DOWNCASE') AS s;"),
    Example("E42f", "SELECT lowerUTF8(blob1) AS s FROM your_dataset;"),
    Example("E42g", "SELECT upperUTF8('string to uppercase') AS s;"),
    Example("E42h", "SELECT startsWith(blob1, 'prefix') AS b FROM your_dataset;"),
    Example("E42i", "SELECT endsWith('prefix suffix', 'suffix') AS b;"),
    Example("E42j", "SELECT position(':' IN 'hello: world') AS p;"),
    Example("E42k", "SELECT position(':' IN blob1) AS p FROM your_dataset;"),
    Example("E42l", "SELECT substring('hello world', 6) AS s;"),
    Example("E42m", "SELECT substring('hello: world', 1, position(':' IN 'hello: world')-1) AS s;"),
    Example("E42n", "SELECT format('blob1: {}', blob1) AS s FROM dataset;"),
    Example(
        "E47",
        "SELECT blob1 AS path, SUM(_sample_interval) AS views FROM my_dataset WHERE timestamp > NOW() - INTERVAL '1' HOUR GROUP BY path ORDER BY views DESC LIMIT 10",
        clickhouse=False,
    ),
]

SELECT_LISTS = [
    ("E23a", "SELECT blob2, double3"),
    ("E23b", "SELECT *"),
    ("E23c", "SELECT\n    blob2 AS probe_name,\n    double3 AS temperature"),
    (
        "E24a",
        "SELECT\n    blob2 AS probe_name,\n    double3 AS temp_c,\n    double3*1.8+32 AS temp_f -- compute a value\n",
    ),
    (
        "E24b",
        "SELECT\n    blob2 AS probe_name,\n    if(double3 <= 0, 'FREEZING', 'NOT FREEZING') AS description -- use of functions\n",
    ),
]

AGGREGATE_LISTS = [
    (
        "E24c",
        "SELECT\n    blob2 AS probe_name,\n    avg(double3) AS avg_temp -- aggregation function\n",
        "GROUP BY probe_name",
    ),
]

FROM_CLAUSES = [
    ("E25a", '-- query data written to a workers dataset called "temperatures"\nFROM temperatures'),
    (
        "E25b",
        "-- use a subquery to manipulate the table\nFROM (\n    SELECT\n        blob1 AS probe_name,\n        count() as num_readings\n    FROM\n        temperatures\n    GROUP BY\n        probe_name\n)",
    ),
]

WHERE_CLAUSES = [
    ("E26a", "WHERE blob1 = 'test'"),
    ("E26b", "WHERE double1 = 4"),
    ("E26c", "WHERE double1 > 4"),
    ("E26d", "WHERE double1 + double2 > 4"),
    ("E26e", "WHERE blob1 = 'test1' OR blob2 = 'test2'"),
    ("E26f", "WHERE if(unit = 'f', (temp-32)/1.8, temp) <= 0"),
    ("E30a", "WHERE blob1 LIKE 'error%'"),
    ("E30b", "WHERE blob2 ILIKE '%.jpg'"),
    ("E30c", "WHERE blob3 LIKE '%test%'"),
    ("E30d", "WHERE blob4 LIKE 'log__'"),
    ("E30e", "WHERE blob5 NOT ILIKE '%debug%'"),
    ("E44a", "WHERE bitCount(double1) > 5"),
]

TRAILING_CLAUSES = [
    ("E29a", "ORDER BY double2, double3"),
    ("E29b", "ORDER BY double2, double3 DESC"),
    ("E29c", "LIMIT 10 -- return at most 10 rows"),
    ("E29d", "OFFSET 10 -- skip the first 10 result rows"),
    ("E29e", "FORMAT JSONEachRow"),
]

EXPRESSIONS = [
    ("E33a", "toStartOfInterval(now(), INTERVAL '15' MINUTE)"),
    ("E33b", "toStartOfInterval(timestamp, INTERVAL '1' DAY)"),
    ("E33c", "formatDateTime(now(), '%Y-%m-%d')"),
    ("E33d", "formatDateTime(toDateTime('2022-12-01 16:17:00', 'America/New_York'), '%Y-%m-%d')"),
    ("E33e", "formatDateTime(toDateTime('2022-12-01 16:17:00', 'America/New_York'), '%Y-%m-%d', 'Etc/UTC')"),
    ("E33f", "toDateTime(double1)"),
    ("E33g", "toDateTime(355924804)"),
    ("E33h", "toDateTime('355924804')"),
    ("E33i", "toDateTime('1981-04-12 12:00:04')"),
    ("E33j", "toDateTime('2022-12-01 16:17:00', 'America/New_York')"),
    ("E33k", "toUnixTimestamp(now())"),
    ("E34a", "toYear(toDateTime('2025-10-27 00:00:00'))"),
    ("E34b", "toMonth(toDateTime('2025-10-27 00:00:00'))"),
    ("E34c", "toDayOfWeek(toDateTime('2025-10-27 00:00:00'))"),
    ("E34d", "toDayOfWeek(toDateTime('2025-10-28 00:00:00'))"),
    ("E34e", "toDayOfWeek(toDateTime('2025-11-02 00:00:00'))"),
    ("E34f", "toDayOfMonth(toDateTime('2025-10-27 00:00:00'))"),
    ("E34g", "toHour(toDateTime('2025-10-27 09:11:13'))"),
    ("E34h", "toMinute(toDateTime('2025-10-27 09:11:13'))"),
    ("E34i", "toSecond(toDateTime('2025-10-27 09:11:13'))"),
    ("E34j", "toStartOfYear(toDateTime('2025-10-27 00:00:00'))"),
    ("E34k", "toStartOfMonth(toDateTime('2025-10-27 00:00:00'))"),
    ("E34l", "toStartOfWeek(toDateTime('2025-10-27 00:00:00'))"),
    ("E34m", "toStartOfWeek(toDateTime('2025-10-29 00:00:00'))"),
    ("E34n", "toStartOfDay(toDateTime('2025-10-27 00:00:00'))"),
    ("E34o", "toStartOfHour(toDateTime('2025-10-27 16:55:25'))"),
    ("E34p", "toStartOfFifteenMinutes(toDateTime('2025-10-27 16:55:25'))"),
    ("E34q", "toStartOfTenMinutes(toDateTime('2025-10-27 16:55:25'))"),
    ("E34r", "toStartOfFiveMinutes(toDateTime('2025-10-27 16:55:25'))"),
    ("E34s", "toStartOfMinute(toDateTime('2025-10-27 16:55:25'))"),
    ("E34t", "toYYYYMM(toDateTime('2025-10-27 16:55:25'))"),
    ("E35a", "quantileExactWeighted(0.5)(double1, _sample_interval)"),
    ("E35b", "quantileExactWeighted(0.95)(query_time, _sample_interval)"),
    ("E36a", "quantileWeighted(0.5, double1, _sample_interval)"),
    ("E36b", "quantileWeighted(0.95, query_time, _sample_interval)"),
    ("E37a", "argMax(blob1, double1)"),
    ("E37b", "argMax(blob1, _sample_interval)"),
    ("E37c", "argMin(blob1, double1)"),
    ("E37d", "argMin(blob1, _sample_interval)"),
    ("E40a", "countIf(double1 > 5)"),
    ("E40b", "sumIf(item_cost, in_stock > 0)"),
    ("E40c", "avgIf(item_cost, in_stock > 0)"),
    ("E41a", "count()"),
    ("E41b", "count(DISTINCT column_name)"),
    ("E41c", "sum(item_cost)"),
    ("E41d", "sum(DISTINCT item_cost)"),
    ("E41e", "avg(item_cost)"),
    ("E41f", "avg(DISTINCT item_cost)"),
    ("E41g", "min(item_cost)"),
    ("E41h", "max(item_cost)"),
    ("E43", "extract(SECOND from toDateTime('2022-06-06 11:30:15'))"),
    ("E45a", "log(double1)"),
    ("E45b", "pow(double1, 2)"),
    ("E45c", "round(3.14, 1)"),
    ("E45d", "floor(3.14, 1)"),
    ("E45e", "ceil(3.14, 1)"),
    ("E45f", "hex('abc')"),
    ("E45g", "bitAnd(toUInt8(double1), 1)"),
    ("E46", "if(temp > 20, 'It is warm', 'Bring a jumper')"),
    ("E48a", "count()"),
    ("E48b", "sum(_sample_interval)"),
    ("E48c", "sum(bytes)"),
    ("E48d", "sum(bytes * _sample_interval)"),
    ("E48e", "avg(bytes)"),
    ("E48f", "sum(bytes * _sample_interval) / sum(_sample_interval)"),
    ("E48g", "quantile(0.50)(bytes)"),
    ("E48h", "quantileExactWeighted(0.50)(bytes, _sample_interval)"),
]

#: Examples whose results ClickHouse cannot reproduce (AE-only names or semantics).
AE_ONLY = {"E34l", "E34m", "E36a", "E36b", "E33k", "E29c", "E29d", "E37a", "E37b", "E37c", "E37d"}


def fragment_statements() -> list[Example]:
    """Fragments completed into statements over my_dataset (docs/sql.md lists the wrapping)."""
    examples = []
    for key, select_list in SELECT_LISTS:
        examples.append(Example(key, f"{select_list}\nFROM my_dataset"))
    for key, select_list, tail in AGGREGATE_LISTS:
        examples.append(Example(key, f"{select_list}\nFROM my_dataset\n{tail}"))
    for key, from_clause in FROM_CLAUSES:
        examples.append(Example(key, f"SELECT *\n{from_clause}"))
    for key, where in WHERE_CLAUSES:
        examples.append(Example(key, f"SELECT * FROM my_dataset\n{where}", clickhouse=key not in AE_ONLY))
    for key, tail in TRAILING_CLAUSES:
        examples.append(
            Example(key, f"SELECT * FROM my_dataset\n{tail}", clickhouse=key not in AE_ONLY and "FORMAT" not in tail)
        )
    for key, expression in EXPRESSIONS:
        examples.append(Example(key, f"SELECT {expression} AS v FROM my_dataset", clickhouse=key not in AE_ONLY))
    return examples


GRAFANA_E10 = """SELECT
    $timeSeries AS t,
    blob1 AS label,
    SUM(_sample_interval * double1) / SUM(_sample_interval) AS average_metric
FROM dataset_name
WHERE $timeFilter
GROUP BY blob1, t
ORDER BY t"""

SEED_QUERIES = {
    "getRequestsByPath": """
    SELECT
      blob2 as path,
      SUM(double2) as request_count,
      AVG(double1) as avg_duration_ms
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '24' HOUR
      AND blob1 = 'GET'
    GROUP BY path
    ORDER BY request_count DESC
    LIMIT 10
  """,
    "getCostByProject": """
    SELECT
      blob1 as project_id,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '7' DAY
      AND blob3 = 'cost'
    GROUP BY project_id, cost_type
    ORDER BY total_cost DESC
  """,
    "getErrorRate": """
    SELECT
      blob2 as error_type,
      COUNT(*) as error_count
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '1' HOUR
      AND blob1 = 'error'
    GROUP BY error_type
    ORDER BY error_count DESC
  """,
    "metricsRealtime": """
    SELECT
      COUNT(*) as total_requests,
      AVG(double1) as avg_response_time,
      SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) as error_count
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '5' MINUTE
  """,
    "metricsCosts": """
    SELECT
      DATE_TRUNC('day', timestamp) as date,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '30' DAY
      AND blob3 = 'cost'
    GROUP BY date, cost_type
    ORDER BY date DESC
  """,
}
