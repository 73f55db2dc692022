"""Hostile queries: each is refused with a 4xx error, never a 500, never another tenant's rows."""

import json

import pytest
from django.test import Client

from tests.factories import key_for
from tests.tracking.sql.conftest import LoadedProject

DEEP = "SELECT " + "(" * 10_000 + "1" + ")" * 10_000
MEGABYTE_IN = "SELECT count() FROM weather WHERE blob1 IN (" + ", ".join(["'aaaaaaaaaa'"] * 80_000) + ")"
DEEP_CALLS = "SELECT " + "abs(" * 2_000 + "1" + ")" * 2_000
WIDE_OR = "SELECT count() FROM weather WHERE " + " OR ".join(["temp = 1"] * 25_000)

ATTACKS = {
    "other_projects_dataset": "SELECT * FROM secrets",
    "other_projects_dataset_quoted": 'SELECT * FROM "secrets"',
    "other_projects_dataset_backticks": "SELECT * FROM `secrets`",
    "physical_table": "SELECT * FROM tracking_datapoint",
    "physical_table_qualified": "SELECT * FROM public.tracking_datapoint",
    "pg_catalog_qualified": "SELECT * FROM pg_catalog.pg_class",
    "pg_class": "SELECT relname FROM pg_class",
    "pg_user": "SELECT usename, passwd FROM pg_shadow",
    "information_schema": "SELECT * FROM information_schema.tables",
    "information_schema_columns": "SELECT column_name FROM information_schema.columns",
    "pg_sleep": "SELECT pg_sleep(10)",
    "pg_sleep_in_where": "SELECT count() FROM weather WHERE pg_sleep(1) IS NULL",
    "pg_read_file": "SELECT pg_read_file('/etc/passwd')",
    "pg_ls_dir": "SELECT pg_ls_dir('.')",
    "lo_import": "SELECT lo_import('/etc/passwd')",
    "set_config": "SELECT set_config('meaux_sql.dataset_ids', '1,2,3,4,5', true)",
    "current_setting": "SELECT current_setting('meaux_sql.dataset_ids')",
    "dblink": "SELECT dblink('host=127.0.0.1 user=postgres', 'SELECT 1')",
    "query_to_xml": "SELECT query_to_xml('SELECT * FROM tracking_datapoint', true, true, '')",
    "backend_pid": "SELECT pg_backend_pid()",
    "stacked_drop": "SELECT 1; DROP TABLE tracking_datapoint",
    "stacked_select_other_tenant": "SELECT 1; SELECT * FROM secrets",
    "comment_hidden_delete": "SELECT 1 /* harmless */; DELETE FROM tracking_datapoint",
    "line_comment_hidden_update": "SELECT 1 -- done\n; UPDATE tracking_datapoint SET blob1 = 'x'",
    "union_other_tenant": "SELECT blob1 FROM weather UNION ALL SELECT blob1 FROM secrets",
    "union_distinct_catalog": "SELECT blob1 FROM weather UNION DISTINCT SELECT relname FROM pg_class",
    "join_other_tenant": "SELECT * FROM weather JOIN secrets ON 1 = 1",
    "subquery_other_tenant": "SELECT * FROM weather WHERE blob1 IN (SELECT blob1 FROM secrets)",
    "scalar_subquery_other_tenant": "SELECT (SELECT max(blob1) FROM secrets) AS s",
    "cte_over_other_tenant": "WITH w AS (SELECT * FROM secrets) SELECT * FROM w",
    "recursive_cte_bomb": "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT count() FROM r",
    "generate_series_table": "SELECT * FROM generate_series(1, 1000000000)",
    "generate_series_scalar": "SELECT generate_series(1, 1000000000)",
    "clickhouse_table_function": "SELECT * FROM numbers(1000000000)",
    "url_table_function": "SELECT * FROM url('http://169.254.169.254/latest/meta-data', CSV)",
    "ten_thousand_deep_nesting": DEEP,
    "two_thousand_nested_calls": DEEP_CALLS,
    "megabyte_in_list": MEGABYTE_IN,
    "huge_or_chain": WIDE_OR,
    "insert": "INSERT INTO weather (blob1) VALUES ('x')",
    "drop": "DROP TABLE weather",
    "set_role": "SET ROLE postgres",
    "reset_role": "RESET ROLE",
    "explain_analyze": "EXPLAIN ANALYZE SELECT * FROM weather",
    "copy_to_file": "COPY tracking_datapoint TO '/tmp/leak.csv'",
    "into_outfile": "SELECT * FROM weather INTO OUTFILE '/tmp/leak.csv'",
    "settings_clause": "SELECT * FROM weather SETTINGS max_execution_time = 100000",
    "cast_regclass": "SELECT CAST('tracking_datapoint' AS regclass)",
    "advisory_lock": "SELECT pg_advisory_lock(1)",
    "repeat_memory_bomb": "SELECT repeat('x', 1000000000)",
    "string_agg_other_tenant": "SELECT string_agg(blob1, ',') FROM secrets",
    "dataset_id_column": "SELECT * FROM weather WHERE dataset_id > 0",
    "window_function": "SELECT count() OVER () FROM weather",
    "unknown_format": "SELECT 1 FORMAT Parquet",
    "limit_by": "SELECT blob1 FROM weather LIMIT 1 BY blob1",
    "empty": "   ",
    "garbage": "SELEC * FROMM weather",
    "txid": "SELECT txid_current()",
}

#: Why each attack is refused: the reason must be the intended one, not an accident.
REASONS = {
    "advisory_lock": "Unknown or not allowed function: pg_advisory_lock",
    "cast_regclass": "Syntax error",
    "clickhouse_table_function": "Unsupported FROM source: numbers(1000000000)",
    "comment_hidden_delete": "Exactly one statement is allowed per query",
    "copy_to_file": "Only SELECT and SHOW statements are allowed, not COPY",
    "cte_over_other_tenant": "Unknown table secrets: not a dataset of this project",
    "current_setting": "Unknown or not allowed function: current_setting",
    "dataset_id_column": "Unknown column dataset_id",
    "dblink": "Unknown or not allowed function: dblink",
    "drop": "Only SELECT and SHOW statements are allowed, not DROP",
    "empty": "Empty query",
    "explain_analyze": "Only SELECT and SHOW statements are allowed, not EXPLAIN",
    "garbage": "Syntax error",
    "generate_series_scalar": "Unknown or not allowed function: generate_series",
    "generate_series_table": "Unsupported FROM source: generate_series",
    "huge_or_chain": "Query is longer than 65536 bytes",
    "information_schema": "Unknown database information_schema",
    "information_schema_columns": "Unknown database information_schema",
    "insert": "Only SELECT and SHOW statements are allowed, not INSERT",
    "into_outfile": "Syntax error",
    "join_other_tenant": "Unknown table secrets: not a dataset of this project",
    "limit_by": "LIMIT ... BY is not supported",
    "line_comment_hidden_update": "Exactly one statement is allowed per query",
    "lo_import": "Unknown or not allowed function: lo_import",
    "megabyte_in_list": "Query is longer than 65536 bytes",
    "other_projects_dataset": "Unknown table secrets: not a dataset of this project",
    "other_projects_dataset_backticks": "Unknown table secrets: not a dataset of this project",
    "other_projects_dataset_quoted": "Unknown table secrets: not a dataset of this project",
    "pg_catalog_qualified": "Unknown database pg_catalog",
    "pg_class": "Unknown table pg_class: not a dataset of this project",
    "pg_ls_dir": "Unknown or not allowed function: pg_ls_dir",
    "pg_read_file": "Unknown or not allowed function: pg_read_file",
    "pg_sleep": "Unknown or not allowed function: pg_sleep",
    "pg_sleep_in_where": "Unknown or not allowed function: pg_sleep",
    "pg_user": "Unknown table pg_shadow: not a dataset of this project",
    "physical_table": "Unknown table tracking_datapoint: not a dataset of this project",
    "physical_table_qualified": "Unknown database public",
    "query_to_xml": "Unknown or not allowed function: query_to_xml",
    "recursive_cte_bomb": "WITH RECURSIVE is not supported",
    "repeat_memory_bomb": "Unknown or not allowed function: repeat",
    "reset_role": "Syntax error",
    "scalar_subquery_other_tenant": "Unknown table secrets: not a dataset of this project",
    "set_config": "Unknown or not allowed function: set_config",
    "set_role": "Only SELECT and SHOW statements are allowed, not SET",
    "settings_clause": "SETTINGS is not supported",
    "stacked_drop": "Exactly one statement is allowed per query",
    "stacked_select_other_tenant": "Exactly one statement is allowed per query",
    "string_agg_other_tenant": "Unknown table secrets: not a dataset of this project",
    "subquery_other_tenant": "Unknown table secrets: not a dataset of this project",
    "ten_thousand_deep_nesting": "Query is nested too deeply",
    "two_thousand_nested_calls": "Query is nested too deeply",
    "txid": "Unknown or not allowed function: txid_current",
    "union_distinct_catalog": "Only UNION ALL is supported",
    "union_other_tenant": "Unknown table secrets: not a dataset of this project",
    "unknown_format": "Unknown format Parquet",
    "url_table_function": "Unsupported FROM source: url(",
    "backend_pid": "Unknown or not allowed function: pg_backend_pid",
    "window_function": "Window functions are limited to lagInFrame(x[, offset[, default]]) OVER () and leadInFrame(...) OVER ()",
}


def _assert_refused(response, *, cloudflare: bool) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    body = response.content.decode()
    assert "TOP-SECRET" not in body
    assert "%(p" not in body and "meaux_sql_reader" not in body
    if cloudflare:
        assert response.status_code == 422
        assert response["Content-Type"].startswith("text/plain")
        assert body.startswith("Input was invalid: ")
    else:
        assert response["Content-Type"] == "application/problem+json"
        assert json.loads(body)["status"] == response.status_code


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_query_is_refused_on_both_endpoints(
    name: str, client: Client, loaded: LoadedProject, settings: object
) -> None:
    settings.SQL_STATEMENT_TIMEOUT_MS = 2_000
    key = key_for(loaded.project, "read").secret
    sql = ATTACKS[name]
    cloudflare = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data=sql,
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    _assert_refused(cloudflare, cloudflare=True)
    assert REASONS[name] in cloudflare.content.decode()
    native = client.post("/api/v1/sql", data=sql, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")
    _assert_refused(native, cloudflare=False)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_hostile_query_is_refused_through_the_clickhouse_interface(
    name: str, client: Client, loaded: LoadedProject, settings: object
) -> None:
    settings.SQL_STATEMENT_TIMEOUT_MS = 2_000
    key = key_for(loaded.project, "read").secret
    response = client.post(
        f"/clickhouse/?user={loaded.project.slug}",
        data=ATTACKS[name],
        content_type="text/plain",
        HTTP_X_CLICKHOUSE_KEY=key,
    )
    body = response.content.decode()
    assert 400 <= response.status_code < 500, (response.status_code, body[:300])
    assert body.startswith(f"Code: {response['X-ClickHouse-Exception-Code']}. DB::Exception: ")
    assert "TOP-SECRET" not in body and "%(p" not in body and "meaux_sql_reader" not in body
    assert REASONS[name] in body


def test_other_tenants_never_appear_in_system_tables(client: Client, loaded: LoadedProject) -> None:
    key = key_for(loaded.project, "read").secret
    for sql in (
        "SELECT * FROM system.tables FORMAT JSON",
        "SELECT * FROM system.columns FORMAT JSON",
        "SELECT * FROM system.databases FORMAT JSON",
        "SHOW TABLES",
        "DESCRIBE TABLE secrets",
        "SELECT * FROM default.secrets",
        "SELECT * FROM system.secrets",
    ):
        response = client.post("/clickhouse/", data=sql, content_type="text/plain", HTTP_X_CLICKHOUSE_KEY=key)
        assert b"secrets" not in response.content.replace(b"Unknown table default.secrets", b"").replace(
            b"Unknown table secrets", b""
        ).replace(b"Unknown table system.secrets", b""), (sql, response.content[:300])


def test_cross_join_explosion_stops_at_the_statement_timeout(
    client: Client, loaded: LoadedProject, settings: object
) -> None:
    settings.SQL_STATEMENT_TIMEOUT_MS = 300
    key = key_for(loaded.project, "read").secret
    sql = "SELECT count() FROM weather AS a, weather AS b, weather AS c, meauxcloud_analytics AS d"
    response = client.post("/api/v1/sql", data=sql, content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 422
    assert response.json()["detail"] == "Query exceeded the time limit"


def test_row_cap_refuses_results_larger_than_the_limit(client: Client, loaded: LoadedProject, settings: object) -> None:
    settings.SQL_MAX_ROWS = 100
    key = key_for(loaded.project, "read").secret
    response = client.post(
        "/api/v1/sql", data="SELECT * FROM weather", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "Result exceeds 100 rows: add a LIMIT or aggregate"


def test_byte_cap_refuses_large_bodies(client: Client, loaded: LoadedProject, settings: object) -> None:
    settings.SQL_MAX_RESULT_BYTES = 10_000
    key = key_for(loaded.project, "read").secret
    response = client.post(
        "/api/v1/sql", data="SELECT * FROM weather", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "Result exceeds 10000 bytes: add a LIMIT or aggregate"


def test_same_named_dataset_of_another_project_is_never_read(client: Client, loaded: LoadedProject) -> None:
    """Both projects have a 'weather' dataset; each key sees only its own 240 (not 25) rows."""
    key = key_for(loaded.project, "read").secret
    response = client.post(
        "/api/v1/sql",
        data="SELECT count() AS n FROM weather",
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.json()["data"] == [{"n": "240"}]


def test_another_projects_key_or_data_is_never_reachable_through_the_clickhouse_interface(
    client: Client, loaded: LoadedProject
) -> None:
    """The intruder owns a 25-row 'weather' and 'secrets'; no way of naming them reaches across."""
    import base64

    from tracking.models import Dataset

    intruder = Dataset.objects.get(name="secrets").project
    ours, theirs = key_for(loaded.project, "read").secret, key_for(intruder, "read").secret
    slug, other = loaded.project.slug, intruder.slug

    def ask(sql: str, **credentials: str):
        return client.post(
            "/clickhouse/?" + "&".join(f"{name}={value}" for name, value in credentials.items() if name != "basic"),
            data=sql,
            content_type="text/plain",
            **({"HTTP_AUTHORIZATION": f"Basic {credentials['basic']}"} if "basic" in credentials else {}),
        )

    # Their key presented as this project's user, in each of ClickHouse's ways: refused, code 516.
    basic = base64.b64encode(f"{slug}:{theirs}".encode()).decode()
    for credentials in ({"user": slug, "password": theirs}, {"basic": basic}):
        refused = ask("SELECT count() FROM weather", **credentials)
        assert (refused.status_code, refused["X-ClickHouse-Exception-Code"]) == (403, "516"), credentials
    # This project's key naming their project as user, database or qualifier: refused.
    as_them = ask("SELECT count() FROM weather", user=other, password=ours)
    assert (as_them.status_code, as_them["X-ClickHouse-Exception-Code"]) == (403, "516")
    their_database = ask("SELECT count() FROM weather", user=slug, password=ours, database=other)
    assert (their_database.status_code, their_database["X-ClickHouse-Exception-Code"]) == (404, "81")
    for sql in (f"SELECT count() FROM {other}.weather", f"SELECT count() FROM `{other}`.secrets"):
        qualified = ask(sql, user=slug, password=ours)
        assert 400 <= qualified.status_code < 500 and b"TOP-SECRET" not in qualified.content, sql
    # Each key reads its own 'weather' only: 240 rows here, 25 there.
    assert ask("SELECT count() FROM weather", user=slug, password=ours).content == b"240\n"
    assert ask("SELECT count() FROM default.weather", password=theirs).content == b"25\n"
    assert b"TOP-SECRET" in ask("SELECT blob1 FROM secrets", password=theirs).content
