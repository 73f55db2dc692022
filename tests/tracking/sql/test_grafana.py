"""Grafana's Altinity ClickHouse plugin against the Cloudflare-shaped endpoint, set up as Cloudflare documents it.

The requests are replayed from the plugin's source (Altinity/clickhouse-grafana):
- ``src/datasource/datasource.ts``: ``_getRequestOptions`` sends ``GET <url>/?query=<encodeURIComponent(sql)>``
  unless "Use POST" is ticked; ``_seriesQuery`` appends `` FORMAT JSON``; ``testDatasource``
  ("Save & test") runs ``DEFAULT_QUERY.query`` = ``SELECT 1`` through it.
- ``pkg/client.go``: the backend POSTs ``SELECT timezone() FORMAT JSON;`` and reads ``data[0]["timezone()"]``;
  ``pkg/datasource.go`` CheckHealth POSTs ``SELECT 1 FORMAT JSON`` (``pkg/query.go`` DefaultQuery).
- ``src/views/QueryEditor/components/QueryBuilder/hooks/useConnectionData.ts``, ``adhoc.ts`` and
  ``hooks/useSystemDatabases.ts``: the schema discovery queries, verbatim.
- ``src/datasource/sql-query/sql_query.ts`` and ``sql-query-macros.ts``: macro expansion for a
  DateTime column (``$timeSeries``, ``$timeFilter``, ``$table`` = ``<database>.<table>``,
  ``$rate``, ``$perSecond``, ``$delta``, ``$increase``, ``$columns`` and the ``*Columns`` and
  ``*ColumnsAggregated`` variants); the expanded SQL is checked against ClickHouse (chdb) on the
  same data.
- ``pkg/eval/eval_query.go``: the backend's expansion, the same shapes with ``lagInFrame(x,1,default)
  OVER ()`` in place of ``runningDifference``/``neighbor`` when "Use window functions" is on, which
  ``src/views/QueryEditor/helpers/initializeQueryDefaults.ts`` sets for every new query.
"""

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from django.test import Client

from tests.factories import ProjectFactory, key_for
from tests.tracking.sql.conftest import ClickHouse, LoadedProject, SeedData
from tests.tracking.sql.support import results_match

INTERVAL = 60
TIME_SERIES = f"(intDiv(toUInt32(timestamp), {INTERVAL}) * {INTERVAL}) * 1000"


@pytest.fixture
def grafana(client: Client, loaded: LoadedProject):
    """A datasource as Cloudflare's Grafana page sets it up: URL, auth off, one Authorization header."""
    key = key_for(loaded.project, "read").secret
    url = f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql"

    def get(sql: str, **extra: str):
        query = "query=" + quote(sql, safe="-_.!~*'()")
        params = "".join(f"&{name}={value}" for name, value in extra.items())
        return client.get(f"{url}/?{query}{params}", HTTP_AUTHORIZATION=f"Bearer {key}")

    def post(sql: str):
        return client.post(url, data=sql, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")

    return get, post


def _time_filter(seed_data: SeedData) -> tuple[int, int]:
    start = int(min(p.timestamp for p in seed_data.weather).timestamp()) - 3600
    end = int(max(p.timestamp for p in seed_data.weather).timestamp()) + 3600
    return start, end


def test_save_and_test_and_the_backends_timezone_probe_answer(grafana) -> None:
    get, post = grafana
    health = get("SELECT 1 FORMAT JSON")
    assert health.status_code == 200
    assert health.json()["data"] == [{"1": 1}]
    # pkg/datasource.go CheckHealth: the backend POSTs DefaultQuery (pkg/query.go) as the body.
    backend_health = post("SELECT 1 FORMAT JSON")
    assert (backend_health.status_code, backend_health.json()["data"]) == (200, [{"1": 1}])
    timezone = post("SELECT timezone() FORMAT JSON;")
    assert timezone.status_code == 200
    assert timezone.json()["data"][0]["timezone()"] == "Etc/UTC"


def test_spaces_may_come_as_plus_and_the_plugins_other_parameters_are_ignored(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    response = client.get(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql/"
        "?query=SELECT+count()+AS+n+FROM+weather+FORMAT+JSON&add_http_cors_header=1&enable_http_compression=1",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    assert int(response.json()["data"][0]["n"]) > 0
    no_slash = client.get(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql?query=SELECT+1+AS+x+FORMAT+JSONEachRow",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert no_slash.content == b'{"x":1}\n'


def test_get_refuses_what_post_refuses_in_cloudflares_shape(grafana, client: Client, loaded: LoadedProject) -> None:
    get, _ = grafana
    refused = get("SELECT * FROM secrets FORMAT JSON")
    assert refused.status_code == 422
    assert refused.content.decode().startswith("Input was invalid: Unknown table secrets")
    other_key = key_for(ProjectFactory(), "read")
    forbidden = client.get(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql/?query=SELECT+1",
        HTTP_AUTHORIZATION=f"Bearer {other_key.secret}",
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["success"] is False
    missing = get("")
    assert missing.status_code == 422


def _names(response) -> list:
    assert response.status_code == 200, response.content
    return [row[response.json()["meta"][0]["name"]] for row in response.json()["data"]]


def test_schema_discovery_lists_the_projects_databases_tables_and_columns(grafana) -> None:
    get, _ = grafana
    # useConnectionData.ts buildExploreQuery, each sent through _seriesQuery (+ " FORMAT JSON").
    assert _names(get("SELECT name FROM system.databases ORDER BY name FORMAT JSON")) == ["default", "system"]
    tables = get("SELECT name FROM system.tables WHERE database = 'default' ORDER BY name FORMAT JSON")
    assert _names(tables) == ["meauxcloud_analytics", "weather"]
    datetime_columns = get(
        "SELECT name FROM system.columns WHERE database = 'default' AND table = 'weather' AND "
        "(substring(type,1,8) = 'DateTime' OR substring(type,10,8) = 'DateTime') AND "
        "(substring(type,1,10) != 'DateTime64' OR substring(type,10,10) != 'DateTime64')ORDER BY name FORMAT JSON"
    )
    assert _names(datetime_columns) == ["timestamp"]
    date_columns = get(
        "SELECT name FROM system.columns WHERE database = 'default' AND table = 'weather' AND "
        "type IN ('Date','Date32','Nullable(Date)','Nullable(Date32)') ORDER BY name UNION ALL SELECT ' ' AS name FORMAT JSON"
    )
    assert _names(date_columns) == [" "]
    timestamp_columns = get(
        "SELECT name FROM system.columns WHERE database = 'default' AND table = 'weather' AND type = 'UInt32' "
        "ORDER BY name FORMAT JSON"
    )
    assert _names(timestamp_columns) == ["_sample_interval"]
    # The other "Timestamp type" choices: DateTime64, TimeStamp64(3|6|9) and Float.
    datetime64_columns = get(
        "SELECT name FROM system.columns WHERE database = 'default' AND table = 'weather' AND "
        "(substring(type,1,10) = 'DateTime64' OR substring(type,10,10) = 'DateTime64')ORDER BY name FORMAT JSON"
    )
    assert _names(datetime64_columns) == []
    uint64_columns = get(
        "SELECT name FROM system.columns WHERE database = 'default' AND table = 'weather' AND "
        "type LIKE '%UInt64%'ORDER BY name FORMAT JSON"
    )
    assert _names(uint64_columns) == []
    float_columns = get(
        "SELECT name FROM system.columns WHERE database = 'default' AND table = 'weather' AND "
        "type LIKE '%Float%' OR type LIKE '%Decimal%' ORDER BY name FORMAT JSON"
    )
    assert {"temp", "humidity", "double1", "double20"} <= set(_names(float_columns))
    columns = get(
        "SELECT name text, type value FROM system.columns WHERE database = 'default' AND table = 'weather' FORMAT JSON"
    )
    assert columns.status_code == 200
    pairs = {(row["text"], row["value"]) for row in columns.json()["data"]}
    assert {("timestamp", "DateTime"), ("city", "String"), ("temp", "Float64"), ("blob20", "String")} <= pairs
    # adhoc.ts: the ad-hoc filter keys.
    keys = get(
        "SELECT database, table, name, type FROM system.columns WHERE database NOT IN ('system','INFORMATION_SCHEMA') "
        "ORDER BY database, table FORMAT JSON"
    ).json()["data"]
    assert {row["table"] for row in keys} == {"meauxcloud_analytics", "weather"}
    values = get("SELECT DISTINCT city AS value FROM default.weather LIMIT 300 FORMAT JSON")
    assert values.status_code == 200 and len(values.json()["data"]) > 1
    # useSystemDatabases.ts: which system tables exist.
    system = get(
        "SELECT name FROM system.tables\nWHERE database='system' AND name IN (\n'functions','table_engines','formats',\n"
        "'table_functions','data_type_families','merge_tree_settings',\n'settings','clusters','macros','storage_policies',"
        "'aggregate_function_combinators',\n'database','tables','dictionaries','columns'\n) FORMAT JSON"
    )
    assert sorted(_names(system)) == ["columns", "formats", "settings", "tables"]
    shown = get("SHOW TABLES FORMAT JSON")
    assert _names(shown) == ["meauxcloud_analytics", "weather"]
    described = get("DESCRIBE TABLE default.weather FORMAT JSON").json()["data"]
    assert described[1] == {
        "name": "timestamp",
        "type": "DateTime",
        "default_type": "",
        "default_expression": "",
        "comment": "",
        "codec_expression": "",
        "ttl_expression": "",
    }


def _expand(template: str, *, start: int, end: int, table: str = "default.weather") -> str:
    """sql_query.ts ``replace``: the macro substitutions for dateTimeType DATETIME, column ``timestamp``."""
    return (
        template.replace("$timeSeries", TIME_SERIES)
        .replace("$timeFilter", f"timestamp >= toDateTime({start}) AND timestamp <= toDateTime({end})")
        .replace("$table", table)
        .replace("$from", str(start))
        .replace("$to", str(end))
        .replace("$interval", str(INTERVAL))
    )


def _macro(select: str, inner: str, *, group: str = "GROUP BY t ORDER BY t") -> str:
    """sql-query-macros.ts ``transformQuery``: ``SELECT t, <cols> FROM ( SELECT $timeSeries AS t, <args> FROM ...)``."""
    return f"SELECT t, {select} FROM ( SELECT $timeSeries AS t, {inner} FROM $table WHERE $timeFilter {group})"


def _columns_macro(kind: str, value: str) -> str:
    """sql-query-macros.ts ``perSecondColumns``/``increaseColumns``/``deltaColumns`` for ``$<kind>Columns(city, temp)``."""
    alias = f"{kind[0].lower()}{kind[1:]}Columns"
    return (
        f"SELECT t, groupArray(({alias}, max_0_{kind})) AS groupArr FROM ( SELECT t, {alias}, {value} AS max_0_{kind} "
        f"FROM ( SELECT $timeSeries AS t, city AS {alias}, max(temp) AS max_0 FROM $table WHERE $timeFilter "
        f"GROUP BY t, {alias} ORDER BY {alias}, t)) GROUP BY t ORDER BY t"
    )


def _aggregated_macro(name: str, value: str) -> str:
    """sql-query-macros.ts ``_formatColumnsAggregated`` for ``$<kind>ColumnsAggregated(city, unit, sum, max(temp) AS t1)``."""
    return (
        f"SELECT t, city, sum({name}) AS {name}Agg FROM (  SELECT t, city, unit, {value} AS {name}  FROM (   "
        "SELECT $timeSeries AS t, city, unit, max(temp) AS t1   FROM $table WHERE $timeFilter   GROUP BY city, unit, t "
        "   ORDER BY city, unit, t  ) ) GROUP BY city, t ORDER BY city, t"
    )


MACRO_QUERIES = {
    "timeSeries": "/* grafana dashboard='Weather' */ SELECT $timeSeries AS t, count() AS c FROM $table "
    "WHERE $timeFilter GROUP BY t ORDER BY t",
    "rate": _macro("c/runningDifference(t/1000) cRate", "count() c"),
    "perSecond": _macro(
        "if(runningDifference(max_0) < 0, nan, runningDifference(max_0) / runningDifference(t/1000)) AS max_0_PerSecond",
        "max(humidity) AS max_0",
    ),
    "delta": _macro("runningDifference(max_0) AS max_0_Delta", "max(temp) AS max_0"),
    "increase": _macro(
        "if(runningDifference(max_0) < 0, 0, runningDifference(max_0)) AS max_0_Increase", "max(temp) AS max_0"
    ),
    "columns": "SELECT t, groupArray((city, c)) AS groupArr FROM ( SELECT $timeSeries AS t, city, count() c "
    "FROM $table WHERE $timeFilter GROUP BY t, city ORDER BY t, city) GROUP BY t ORDER BY t",
    "timeFilterMs": "SELECT count() AS c FROM $table WHERE timestamp >= toDateTime($from000/1000) "
    "AND timestamp <= toDateTime($to000/1000)",
    "naturalTimeSeries": "SELECT toUInt32(toStartOfFiveMinute(timestamp)) * 1000 AS t, avg(temp) AS a FROM $table "
    "WHERE $timeFilter GROUP BY t ORDER BY t",
    "neighbor": "SELECT t, c, neighbor(c, 1) AS next, neighbor(c, -1, 99) AS previous FROM ( SELECT $timeSeries AS t, "
    "count() c FROM $table WHERE $timeFilter GROUP BY t ORDER BY t)",
    # rateColumns: _columns() wrapped in arrayMap over the (key, value) tuples.
    "rateColumns": "SELECT t, arrayMap(a -> (a.1, a.2/runningDifference( t/1000 )), groupArr) FROM (SELECT t, "
    "groupArray((city, c)) AS groupArr FROM ( SELECT $timeSeries AS t, city, count() c FROM $table WHERE $timeFilter "
    "GROUP BY t, city ORDER BY t, city) GROUP BY t ORDER BY t)",
    "perSecondColumns": _columns_macro(
        "PerSecond",
        "if(runningDifference(max_0) < 0 OR neighbor(perSecondColumns,-1,perSecondColumns) != perSecondColumns, nan, "
        "runningDifference(max_0) / runningDifference(t/1000))",
    ),
    "increaseColumns": _columns_macro(
        "Increase",
        "if(runningDifference(max_0) < 0 OR neighbor(increaseColumns,-1,increaseColumns) != increaseColumns, 0, "
        "runningDifference(max_0))",
    ),
    "deltaColumns": _columns_macro(
        "Delta", "if(neighbor(deltaColumns,-1,deltaColumns) != deltaColumns, 0, runningDifference(max_0))"
    ),
    "rateColumnsAggregated": _aggregated_macro("t1Rate", "t1 / runningDifference(t / 1000)"),
    "perSecondColumnsAggregated": _aggregated_macro(
        "t1PerSecond",
        "if(runningDifference(t1) < 0 OR neighbor(unit,-1,unit) != unit, nan, runningDifference(t1) / runningDifference(t / 1000))",
    ),
    "increaseColumnsAggregated": _aggregated_macro(
        "t1Increase",
        "if(runningDifference(t1) < 0 OR neighbor(unit,-1,unit) != unit, nan, runningDifference(t1) / 1)",
    ),
    "deltaColumnsAggregated": _aggregated_macro(
        "t1Delta", "if(neighbor(unit,-1,unit) != unit, 0, runningDifference(t1) / 1)"
    ),
    # pkg/eval/eval_query.go with useWindowFuncForMacros, which the query editor turns on for new queries
    # (initializeQueryDefaults.ts): lagInFrame(x,1,default) OVER () where runningDifference/neighbor stood.
    "rateWindow": _macro("c/((t - lagInFrame(t,1,0) OVER ())/1000) cRate", "count() c", group="\n GROUP BY t\n ORDER BY t"),
    "perSecondWindow": _macro(
        "if(max_0 - lagInFrame(max_0,1,0) OVER () < 0, nan, (max_0 - lagInFrame(max_0,1,0) OVER ()) "
        "/ ((t - lagInFrame(t,1,0) OVER ())/1000) ) AS max_0_PerSecond",
        "max(humidity) AS max_0",
        group="\n GROUP BY t\n ORDER BY t",
    ),
    "deltaWindow": _macro(
        "max_0 - lagInFrame(max_0,1,0) OVER () AS max_0_Delta", "max(temp) AS max_0", group="\n GROUP BY t\n ORDER BY t"
    ),
    "increaseWindow": _macro(
        "if((max_0 - lagInFrame(max_0,1,0) OVER ()) < 0, 0, max_0 - lagInFrame(max_0,1,0) OVER ()) AS max_0_Increase",
        "max(temp) AS max_0",
        group="\n GROUP BY t\n ORDER BY t",
    ),
    "perSecondColumnsWindow": _columns_macro(
        "PerSecond",
        "if((max_0 - lagInFrame(max_0,1,0) OVER ()) < 0 OR lagInFrame(perSecondColumns,1,perSecondColumns) OVER () "
        "!= perSecondColumns, nan, (max_0 - lagInFrame(max_0,1,0) OVER ()) / (t/1000 - lagInFrame(t/1000,1,0) OVER ()))",
    ),
    "increaseColumnsWindow": _columns_macro(
        "Increase",
        "if((max_0 - lagInFrame(max_0,1,0) OVER ()) < 0 OR lagInFrame(increaseColumns,1,increaseColumns) OVER () "
        "!= increaseColumns, 0, max_0 - lagInFrame(max_0,1,0) OVER ())",
    ),
    "deltaColumnsWindow": _columns_macro(
        "Delta",
        "if(lagInFrame(deltaColumns,1,deltaColumns) OVER () != deltaColumns, 0, max_0 - lagInFrame(max_0,1,0) OVER ())",
    ),
    "rateColumnsWindow": "SELECT t, arrayMap(a -> (a.1, a.2/(t/1000 - lagInFrame(t/1000,1,0) OVER ())), groupArr) "
    "FROM (SELECT t, groupArray((city, c)) AS groupArr FROM ( SELECT $timeSeries AS t, city, count() c FROM $table "
    "WHERE $timeFilter GROUP BY t, city ORDER BY t, city) GROUP BY t ORDER BY t)",
    "rateColumnsAggregatedWindow": _aggregated_macro("t1Rate", "t1 / (t/1000 - lagInFrame(t/1000,1,0) OVER ())"),
    "perSecondColumnsAggregatedWindow": _aggregated_macro(
        "t1PerSecond",
        "if((t1 - lagInFrame(t1,1,0) OVER ()) < 0 OR lagInFrame(unit,1,unit) OVER () != unit, nan, "
        "(t1 - lagInFrame(t1,1,0) OVER ()) / (t/1000 - lagInFrame(t/1000,1,0) OVER ()))",
    ),
    "increaseColumnsAggregatedWindow": _aggregated_macro(
        "t1Increase",
        "if((t1 - lagInFrame(t1,1,0) OVER ()) < 0 OR lagInFrame(unit,1,unit) OVER () != unit, nan, "
        "(t1 - lagInFrame(t1,1,0) OVER ()) / 1)",
    ),
    "deltaColumnsAggregatedWindow": _aggregated_macro(
        "t1Delta", "if(lagInFrame(unit,1,unit) OVER () != unit, 0, t1 - lagInFrame(t1,1,0) OVER ())"
    ),
    # getTimeSeriesMs with $__interval_ms = 60000.
    "timeSeriesMs": "SELECT (intDiv(toUInt32(timestamp) * 1000, 60000) * 60000) AS t, count() AS c FROM $table "
    "WHERE $timeFilter GROUP BY t ORDER BY t",
}


@pytest.mark.parametrize("name", sorted(MACRO_QUERIES))
def test_macro_expanded_queries_answer_as_clickhouse_does(
    name: str, grafana, seed_data: SeedData, clickhouse: ClickHouse
) -> None:
    get, _ = grafana
    start, end = _time_filter(seed_data)
    sql = _expand(MACRO_QUERIES[name], start=start, end=end)
    response = get(sql + " FORMAT JSON")
    assert response.status_code == 200, response.content
    ours = response.json()
    assert ours["rows"] >= 1 and ours["data"][0] != {}
    clickhouse.engine.query(f"USE {clickhouse.database}")
    theirs = json.loads(
        str(
            clickhouse.engine.query(
                sql.replace("default.weather", "weather") + " FORMAT JSON SETTINGS output_format_json_quote_64bit_integers=1, "
                "allow_deprecated_error_prone_window_functions=1, max_threads=1"
            )
        )
    )
    assert results_match(ours, theirs, ordered=True) is None


def test_columns_macro_gives_key_value_pairs_per_time_bucket(grafana, seed_data: SeedData) -> None:
    get, _ = grafana
    start, end = _time_filter(seed_data)
    body = get(_expand(MACRO_QUERIES["columns"], start=start, end=end) + " FORMAT JSON").json()
    assert body["meta"] == [{"name": "t", "type": "UInt64"}, {"name": "groupArr", "type": "Array(Tuple(String, UInt64))"}]
    first = body["data"][0]["groupArr"]
    assert all(isinstance(city, str) and isinstance(count, str) for city, count in first)
    assert sum(int(count) for row in body["data"] for _, count in row["groupArr"]) == len(seed_data.weather)


EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "grafana"


def test_the_example_datasource_is_cloudflares_documented_setup() -> None:
    provisioned = yaml.safe_load((EXAMPLES / "provisioning" / "datasources" / "meauxcloud.yaml").read_text())
    (datasource,) = provisioned["datasources"]
    assert datasource["type"] == "vertamedia-clickhouse-datasource"
    assert datasource["url"] == "${MEAUXCLOUD_URL}/client/v4/accounts/${MEAUXCLOUD_PROJECT}/analytics_engine/sql"
    assert datasource["jsonData"] == {"httpHeaderName1": "Authorization"}
    assert datasource["secureJsonData"] == {"httpHeaderValue1": "Bearer ${MEAUXCLOUD_READ_KEY}"}
    assert "basicAuth" not in datasource and "usePOST" not in datasource["jsonData"]
    provider = yaml.safe_load((EXAMPLES / "provisioning" / "dashboards" / "meauxcloud.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_the_documented_docker_run_provisions_the_examples_as_they_are() -> None:
    """Grafana's file provisioning as docs/grafana.md starts it: mounts, variables and uids line up."""
    docs = (Path(__file__).resolve().parents[3] / "docs" / "grafana.md").read_text()
    command = re.search(r"```sh\n(docker run .*?)```", docs, re.S)
    assert command is not None
    mounts = dict(re.findall(r'-v "\$PWD/(examples/grafana/\w+):([^"]+)"', command.group(1)))
    assert mounts["examples/grafana/provisioning"] == "/etc/grafana/provisioning"  # Grafana's default path
    provider = yaml.safe_load((EXAMPLES / "provisioning" / "dashboards" / "meauxcloud.yaml").read_text())
    (dashboards,) = provider["providers"]
    assert mounts["examples/grafana/dashboards"] == dashboards["options"]["path"]
    assert "GF_INSTALL_PLUGINS=vertamedia-clickhouse-datasource" in command.group(1)
    datasource_text = (EXAMPLES / "provisioning" / "datasources" / "meauxcloud.yaml").read_text()
    given = set(re.findall(r"-e (MEAUXCLOUD_\w+)=", command.group(1)))
    assert set(re.findall(r"\$\{(\w+)\}", datasource_text)) == given == {
        "MEAUXCLOUD_URL",
        "MEAUXCLOUD_PROJECT",
        "MEAUXCLOUD_READ_KEY",
    }
    (datasource,) = yaml.safe_load(datasource_text)["datasources"]
    files = sorted((EXAMPLES / "dashboards").glob("*.json"))
    boards = [json.loads(path.read_text()) for path in files]
    assert [path.stem for path in files] == ["ai", "costs", "errors", "requests"]
    assert len({board["uid"] for board in boards}) == len({board["title"] for board in boards}) == 4
    for board in boards:
        assert "id" not in board and board["panels"], board["title"]
        for panel in board["panels"]:
            refs = [panel["datasource"], *(target["datasource"] for target in panel["targets"])]
            assert all(ref == {"type": datasource["type"], "uid": datasource["uid"]} for ref in refs), panel["title"]


@pytest.mark.parametrize("name", ["ai", "costs", "errors", "requests"])
def test_every_example_dashboard_query_answers_through_the_plugins_request(
    name: str, grafana, seed_data: SeedData
) -> None:
    get, _ = grafana
    dashboard = json.loads((EXAMPLES / "dashboards" / f"{name}.json").read_text())
    start, end = _time_filter(seed_data)
    rows = 0
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "meauxcloud"
            assert target["dateTimeColDataType"] == "timestamp" and target["dateTimeType"] == "DATETIME"
            table = f"{target['database']}.{target['table']}"
            sql = _expand(target["query"], start=start, end=end, table=table)
            response = get(sql + " FORMAT JSON")
            assert response.status_code == 200, (panel["title"], response.content)
            rows += response.json()["rows"]
    assert rows > 0, name
