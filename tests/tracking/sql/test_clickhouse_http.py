"""The ClickHouse HTTP interface at /clickhouse/: auth conventions, formats, errors, introspection, isolation."""

import base64
import json

import pytest
from django.test import Client

from tests.factories import key_for
from tests.tracking.sql.conftest import ClickHouse, LoadedProject, SeedData


def ch_get(client: Client, key: str | None, user: str = "", **params: str):
    headers = {"HTTP_X_CLICKHOUSE_USER": user, "HTTP_X_CLICKHOUSE_KEY": key} if key is not None else {}
    return client.get("/clickhouse/", params, **headers)


def ch_post(client: Client, key: str, body: str, user: str = "", **params: str):
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return client.post(
        "/clickhouse/" + (f"?{query}" if query else ""),
        data=body,
        content_type="text/plain",
        HTTP_X_CLICKHOUSE_USER=user,
        HTTP_X_CLICKHOUSE_KEY=key,
    )


@pytest.fixture
def read_key(loaded: LoadedProject) -> str:
    return key_for(loaded.project, "read").secret


def test_a_query_without_format_answers_tab_separated_with_clickhouse_headers(
    client: Client, loaded: LoadedProject, read_key: str
) -> None:
    response = ch_post(client, read_key, "SELECT version(), timezone()", user=loaded.project.slug, query_id="q-1")
    assert response.status_code == 200
    assert response.content == b"24.8.1.1\tEtc/UTC\n"
    assert response["X-ClickHouse-Format"] == "TabSeparated"
    assert response["X-ClickHouse-Query-Id"] == "q-1"
    assert response["X-ClickHouse-Timezone"] == "UTC"
    assert json.loads(response["X-ClickHouse-Summary"])["result_rows"] == "1"


def test_every_clickhouse_way_of_authenticating_is_accepted(client: Client, loaded: LoadedProject, read_key: str) -> None:
    slug = loaded.project.slug
    basic = base64.b64encode(f"{slug}:{read_key}".encode()).decode()
    answers = [
        client.get("/clickhouse/", {"query": "SELECT 1"}, HTTP_X_CLICKHOUSE_USER=slug, HTTP_X_CLICKHOUSE_KEY=read_key),
        client.get("/clickhouse/", {"query": "SELECT 1"}, HTTP_AUTHORIZATION=f"Basic {basic}"),
        client.get("/clickhouse/", {"query": "SELECT 1", "user": slug, "password": read_key}),
        client.get("/clickhouse/", {"query": "SELECT 1", "user": "default", "password": read_key}),
        client.get("/clickhouse/", {"query": "SELECT 1"}, HTTP_AUTHORIZATION=f"Bearer {read_key}"),
        client.post("/clickhouse", data="SELECT 1", content_type="text/plain", HTTP_AUTHORIZATION=f"Basic {basic}"),
    ]
    assert [(r.status_code, r.content) for r in answers] == [(200, b"1\n")] * 6


def test_refused_credentials_get_clickhouse_error_codes(client: Client, loaded: LoadedProject, read_key: str) -> None:
    missing = ch_get(client, None, query="SELECT 1")
    assert (missing.status_code, missing["X-ClickHouse-Exception-Code"]) == (401, "194")
    wrong = ch_get(client, "not-a-key", query="SELECT 1")
    assert (wrong.status_code, wrong["X-ClickHouse-Exception-Code"]) == (403, "516")
    assert wrong.content.decode().startswith("Code: 516. DB::Exception: default: Authentication failed")
    other_slug = ch_get(client, read_key, user="someone-else", query="SELECT 1")
    assert (other_slug.status_code, other_slug["X-ClickHouse-Exception-Code"]) == (403, "516")
    write_only = key_for(loaded.project, "write").secret
    no_read = ch_get(client, write_only, query="SELECT 1")
    assert (no_read.status_code, no_read["X-ClickHouse-Exception-Code"]) == (403, "497")


def test_ping_and_a_bare_get_answer_ok(client: Client) -> None:
    assert client.get("/clickhouse/ping").content == b"Ok.\n"
    assert client.get("/clickhouse/").content == b"Ok.\n"


def test_settings_parameters_are_accepted_and_change_nothing(
    client: Client, loaded: LoadedProject, read_key: str, seed_data: SeedData
) -> None:
    response = ch_get(
        client,
        read_key,
        query="SELECT count() FROM weather",
        readonly="0",
        max_result_rows="1",
        enable_http_compression="1",
        wait_end_of_query="1",
        session_id="abc",
        output_format_json_quote_64bit_integers="0",
        allow_ddl="1",
    )
    assert response.status_code == 200
    assert response.content == f"{len(seed_data.weather)}\n".encode()


def test_query_in_the_url_and_the_body_are_joined(client: Client, loaded: LoadedProject, read_key: str) -> None:
    response = ch_post(client, read_key, "FORMAT JSONEachRow", query="SELECT%201%20AS%20x")
    assert response.content == b'{"x":1}\n'


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("JSONEachRow", b'{"n":"7","s":"a\\tb"}\n'),
        ("JSONCompactEachRow", b'["7", "a\\tb"]\n'),
        ("TabSeparated", b"7\ta\\tb\n"),
        ("TabSeparatedWithNames", b"n\ts\n7\ta\\tb\n"),
        ("TabSeparatedWithNamesAndTypes", b"n\ts\nUInt64\tString\n7\ta\\tb\n"),
        ("CSVWithNames", b'"n","s"\n7,"a\tb"\n'),
    ],
)
def test_text_formats_match_clickhouse(
    fmt: str, expected: bytes, client: Client, loaded: LoadedProject, read_key: str, clickhouse: ClickHouse
) -> None:
    sql = "SELECT toUInt64(7) AS n, 'a\\tb' AS s"
    response = ch_get(client, read_key, query=sql, default_format=fmt)
    assert response.status_code == 200
    assert response.content == expected
    assert clickhouse.raw(f"{sql} FORMAT {fmt}").encode() == expected


@pytest.mark.parametrize("fmt", ["Native", "RowBinary", "RowBinaryWithNames", "RowBinaryWithNamesAndTypes"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 AS a, 'x' AS b",
        "SELECT toUInt64(18446744073709551615) AS big, toInt8(-3) AS small, 2.5 AS f, NULL AS n",
        "SELECT toDateTime('2024-01-02 03:04:05') AS t, toDate('2024-01-02') AS d, toInt64(-1) AS i",
        "SELECT city, count() AS n, max(temp) AS t, min(timestamp) > 0 AS ok FROM weather GROUP BY city ORDER BY city",
        "SELECT (1, 'a') AS tup, groupArray((city, toUInt64(1))) AS pairs FROM (SELECT city FROM weather ORDER BY city "
        "LIMIT 3)",
    ],
)
def test_binary_formats_are_byte_for_byte_clickhouses(
    fmt: str, sql: str, client: Client, loaded: LoadedProject, read_key: str, clickhouse: ClickHouse
) -> None:
    response = ch_get(client, read_key, query=f"{sql} FORMAT {fmt}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/octet-stream"
    clickhouse.engine.query(f"USE {clickhouse.database}")
    theirs = clickhouse.engine.query(f"{sql} SETTINGS session_timezone='UTC'", fmt).bytes()
    assert response.content == theirs.replace(b"DateTime('UTC')", b"DateTime")


def test_errors_have_clickhouse_codes_bodies_and_statuses(client: Client, loaded: LoadedProject, read_key: str) -> None:
    cases = {
        "SELECT * FROM secrets": (404, "60", "UNKNOWN_TABLE"),
        "SELECT nope FROM weather": (404, "47", "UNKNOWN_IDENTIFIER"),
        "SELECT 1 FORMAT Parquet": (404, "73", "UNKNOWN_FORMAT"),
        "SELEC 1": (400, "62", "SYNTAX_ERROR"),
        "INSERT INTO weather VALUES (1)": (403, "164", "READONLY"),
        "DROP TABLE weather": (403, "164", "READONLY"),
        "SELECT * FROM otherdb.weather": (404, "81", "UNKNOWN_DATABASE"),
    }
    for sql, (status, code, name) in cases.items():
        response = ch_post(client, read_key, sql)
        body = response.content.decode()
        assert (response.status_code, response["X-ClickHouse-Exception-Code"]) == (status, code), (sql, body)
        assert body.startswith(f"Code: {code}. DB::Exception: ") and f"({name}) (version 24.8.1.1)" in body


def test_unknown_database_parameter_is_refused_and_the_slug_means_default(
    client: Client, loaded: LoadedProject, read_key: str
) -> None:
    refused = ch_get(client, read_key, query="SELECT 1", database="other")
    assert (refused.status_code, refused["X-ClickHouse-Exception-Code"]) == (404, "81")
    by_slug = ch_get(client, read_key, query="SELECT count() > 0 FROM weather", database=loaded.project.slug)
    assert by_slug.content == b"1\n"


def test_system_tables_list_only_the_projects_datasets(client: Client, loaded: LoadedProject, read_key: str) -> None:
    databases = ch_get(client, read_key, query="SELECT name FROM system.databases ORDER BY name")
    assert databases.content == b"default\nsystem\n"
    tables = ch_get(client, read_key, query="SELECT name FROM system.tables WHERE database = 'default' ORDER BY name")
    assert tables.content == b"meauxcloud_analytics\nweather\n"
    every_table = ch_get(client, read_key, query="SELECT name FROM system.tables FORMAT JSONEachRow")
    assert b"secrets" not in every_table.content
    columns = ch_get(
        client,
        read_key,
        query="SELECT name, type, default_kind FROM system.columns WHERE database = 'default' AND table = 'weather' "
        "AND (name LIKE 'blob%' OR default_kind = 'ALIAS') AND position <= 48 ORDER BY position LIMIT 3",
    )
    assert columns.content == b"blob1\tString\t\nblob2\tString\t\nblob3\tString\t\n"
    aliases = ch_get(
        client,
        read_key,
        query="SELECT name, type, default_expression FROM system.columns "
        "WHERE table = 'weather' AND default_kind = 'ALIAS' ORDER BY name",
    )
    assert aliases.content == b"city\tString\tblob1\nhumidity\tFloat64\tdouble2\ntemp\tFloat64\tdouble1\nunit\tString\tblob4\n"


def test_show_describe_exists_and_qualified_names(client: Client, loaded: LoadedProject, read_key: str) -> None:
    assert ch_get(client, read_key, query="SHOW DATABASES").content == b"default\nsystem\n"
    assert ch_get(client, read_key, query="SHOW TABLES").content == b"meauxcloud_analytics\nweather\n"
    assert b"settings\n" in ch_get(client, read_key, query="SHOW TABLES FROM system").content
    described = ch_get(client, read_key, query="DESCRIBE TABLE default.weather").content.decode().splitlines()
    assert described[0] == "dataset\tString\t\t\t\t\t"
    assert "temp\tFloat64\tALIAS\tdouble1\tlabel of double1\t\t" in described
    assert ch_get(client, read_key, query="EXISTS TABLE weather").content == b"1\n"
    assert ch_get(client, read_key, query="EXISTS TABLE secrets").content == b"0\n"
    qualified = ch_get(client, read_key, query="SELECT count() = (SELECT count() FROM weather) FROM default.weather")
    assert qualified.content == b"1\n"
    in_system = ch_get(client, read_key, query="SELECT name FROM tables WHERE name = 'one'", database="system")
    assert in_system.content == b"one\n"


def test_settings_table_says_everything_is_read_only(client: Client, loaded: LoadedProject, read_key: str) -> None:
    response = ch_get(client, read_key, query="SELECT name, value, readonly FROM system.settings WHERE name = 'readonly'")
    assert response.content == b"readonly\t1\t1\n"
    assert ch_get(client, read_key, query="SELECT min(readonly) FROM system.settings").content == b"1\n"


def test_server_facts(client: Client, loaded: LoadedProject, read_key: str) -> None:
    response = ch_get(client, read_key, query="SELECT currentDatabase(), currentUser(), 1 FROM system.one")
    assert response.content == b"default\tdefault\t1\n"
    in_system = ch_get(client, read_key, query="SELECT currentDatabase()", database="system")
    assert in_system.content == b"system\n"


def test_query_parameters_bind_from_the_url(client: Client, loaded: LoadedProject, read_key: str) -> None:
    response = ch_get(
        client,
        read_key,
        query="SELECT {n:UInt8} + 1 AS n, {s:String} AS s, {f:Float64} AS f FORMAT JSONEachRow",
        param_n="41",
        param_s="it's",
        param_f="0.5",
    )
    assert response.content == b'{"n":42,"s":"it\'s","f":0.5}\n'
    injected = ch_get(client, read_key, query="SELECT {n:UInt8}", param_n="1; DROP TABLE weather")
    assert injected.status_code == 400


def test_queries_are_audited_as_clickhouse_http(client: Client, loaded: LoadedProject, read_key: str) -> None:
    from projects.governance.models import AuditEvent

    ch_get(client, read_key, query="SELECT 42")
    event = AuditEvent.objects.filter(project=loaded.project).order_by("-id").first()
    assert event.details["sql"] == "SELECT 42"
    assert event.details["interface"] == "clickhouse-http"


def test_native_follows_the_client_protocol_version(client: Client, loaded: LoadedProject, read_key: str) -> None:
    """clickhouse-connect probes with client_protocol_version=54405 and checks bytes 8..16; clickhouse-go sends a newer one."""
    plain = ch_get(client, read_key, query="SELECT 1 AS check FORMAT Native")
    assert plain.content == b"\x01\x01\x05check\x05UInt8\x01"
    with_block_info = ch_get(client, read_key, query="SELECT 1 AS check FORMAT Native", client_protocol_version="54405")
    assert with_block_info.content == b"\x01\x00\x02\xff\xff\xff\xff\x00" + plain.content
    assert with_block_info.content[8:16] == b"\x01\x01\x05check"
    custom = ch_get(client, read_key, query="SELECT 1 AS check FORMAT Native", client_protocol_version="54460")
    assert custom.content == b"\x01\x00\x02\xff\xff\xff\xff\x00\x01\x01\x05check\x05UInt8\x00\x01"
    text = ch_get(client, read_key, query="SELECT 1 AS check", client_protocol_version="54405")
    assert text.content == b"1\n"
