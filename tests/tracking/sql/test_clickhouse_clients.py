"""Real ClickHouse clients nobody here wrote, against the app under gunicorn.

``clickhouse-connect`` (Python) and the official ``@clickhouse/client`` (Node) connect to
``/clickhouse/``, run the seed's five queries and must read the same values the
Cloudflare-shaped endpoint returns, with ClickHouse types. gunicorn rather than Django's
test server: the drivers send chunked bodies, which only a real WSGI server decodes.
"""

import datetime as dt
import json
import math
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client

from tests.clients.toolchain import free_port, node_missing
from tests.factories import key_for
from tests.support import processes
from tests.tracking.sql.conftest import LoadedProject
from tests.tracking.sql.examples import SEED_QUERIES
from tests.tracking.sql.support import clock_settle

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
JS_DIR = Path(__file__).resolve().parent / "clickhouse_js"
# The seed's five queries, and getErrorRate over 30 days: the seed data has no error in the last hour.
QUERIES = {
    **SEED_QUERIES,
    "getErrorRate30Days": SEED_QUERIES["getErrorRate"].replace("INTERVAL '1' HOUR", "INTERVAL '30' DAY"),
}


@dataclass(frozen=True)
class Server:
    url: str
    host: str
    port: int


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/clickhouse/ping", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def server(loaded: LoadedProject, tmp_path: Path) -> Iterator[Server]:
    from django.conf import settings

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": processes.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "TRACKING_CHECK_REDIS": "0",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "web.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "meauxcloud.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--timeout", "60"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert processes.wait_until(lambda: _up(url), timeout=60), log.read_text()
        yield Server(url=url, host="127.0.0.1", port=port)
    finally:
        processes.process_kill(process)


def _cloudflare(client: Client, loaded: LoadedProject, key: str, query: str) -> dict:
    response = client.post(
        f"/client/v4/accounts/{loaded.project.slug}/analytics_engine/sql",
        data=query,
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _plain(value: object, ch_type: str) -> object:
    """A JSON value as the Python value a driver returns for ``ch_type``."""
    if ch_type.startswith(("UInt", "Int")):
        return int(value)
    if ch_type == "Float64":
        return math.nan if value is None else float(value)
    if ch_type.startswith("DateTime"):
        return dt.datetime.fromisoformat(value)
    if ch_type == "Date":
        return dt.date.fromisoformat(value)
    return value


def _expected(body: dict) -> tuple[list[str], list[str], list[tuple]]:
    names = [column["name"] for column in body["meta"]]
    types = [column["type"] for column in body["meta"]]
    rows = [tuple(_plain(row[name], ch_type) for name, ch_type in zip(names, types, strict=True)) for row in body["data"]]
    return names, types, rows


def test_clickhouse_connect_reads_the_seed_queries_with_clickhouse_types(
    server: Server, loaded: LoadedProject, client: Client
) -> None:
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import DatabaseError

    key = key_for(loaded.project, "read").secret
    ch = clickhouse_connect.get_client(
        host=server.host, port=server.port, username=loaded.project.slug, password=key, proxy_path="/clickhouse"
    )
    assert ch.server_version == "24.8.1.1"
    assert ch.protocol_version == 54405  # its Native probe read our BlockInfo; queries below use it
    assert ch.command("SELECT 1") == 1
    assert ch.ping() is True
    for name, query in sorted(QUERIES.items()):
        clock_settle(query)
        names, types, rows = _expected(_cloudflare(client, loaded, key, query))
        result = ch.query(query)
        assert list(result.column_names) == names, name
        assert [column.name for column in result.column_types] == types, name
        assert sorted(map(repr, result.result_rows)) == sorted(map(repr, rows)), name
        assert len(rows) > 0 or name == "getErrorRate", name

    frame = ch.query_df("SELECT city, count() AS n, max(temp) AS hottest FROM weather GROUP BY city ORDER BY city")
    cities = _cloudflare(client, loaded, key, "SELECT city, count() AS n FROM weather GROUP BY city ORDER BY city")
    assert list(frame.columns) == ["city", "n", "hottest"]
    assert frame["city"].tolist() == [row["city"] for row in cities["data"]]
    assert frame["n"].tolist() == [int(row["n"]) for row in cities["data"]]
    assert str(frame["n"].dtype) == "uint64"

    timestamps = ch.query("SELECT min(timestamp) AS first, toDate(max(timestamp)) AS day FROM weather")
    first, day = timestamps.result_rows[0]
    assert first.year >= 2023 and day.year >= 2023

    with pytest.raises(DatabaseError) as refused:
        ch.query("SELECT * FROM secrets")
    assert "Code: 60" in str(refused.value) and "TOP-SECRET" not in str(refused.value)
    with pytest.raises(DatabaseError) as readonly:
        ch.command("DROP TABLE weather")
    assert "Code: 164" in str(readonly.value)
    ch.close()


def test_clickhouse_connect_with_another_projects_key_cannot_connect(server: Server, loaded: LoadedProject) -> None:
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import DatabaseError

    from tests.factories import ProjectFactory

    other_key = key_for(ProjectFactory(), "read").secret
    with pytest.raises(DatabaseError) as refused:
        clickhouse_connect.get_client(
            host=server.host, port=server.port, username=loaded.project.slug, password=other_key,
            proxy_path="/clickhouse",
        )
    assert "516" in str(refused.value)


@pytest.mark.skipif(node_missing() is not None, reason=node_missing() or "")
def test_official_javascript_client_reads_the_seed_queries(server: Server, loaded: LoadedProject, client: Client) -> None:
    if not (JS_DIR / "node_modules" / "@clickhouse" / "client").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, capture_output=True, timeout=600
        )
    key = key_for(loaded.project, "read").secret
    requests = [{"query": query, "format": fmt} for query in QUERIES.values() for fmt in ("JSONEachRow", "JSON")]
    requests.append({"query": "SELECT * FROM secrets", "format": "JSON"})
    for query in QUERIES.values():
        clock_settle(query)
    completed = subprocess.run(
        ["node", "query.mjs"],
        cwd=JS_DIR,
        input=json.dumps(requests),
        env={**os.environ, "MEAUXCLOUD_URL": server.url, "MEAUXCLOUD_USER": loaded.project.slug, "MEAUXCLOUD_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    assert results["ping"]["success"] is True
    answers = results["answers"]
    for index, (name, query) in enumerate(QUERIES.items()):
        expected = _cloudflare(client, loaded, key, query)
        assert len(expected["data"]) > 0 or name == "getErrorRate", name
        each_row, whole = answers[2 * index], answers[2 * index + 1]
        assert each_row["ok"] and whole["ok"], (each_row, whole)
        key_of = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
        assert sorted(map(key_of, each_row["body"])) == sorted(map(key_of, expected["data"]))
        assert whole["body"]["meta"] == expected["meta"]
        assert sorted(map(key_of, whole["body"]["data"])) == sorted(map(key_of, expected["data"]))
    refused = answers[-1]
    assert refused["ok"] is False and refused["code"] == "60"


def test_a_chunked_body_without_content_length_is_read(server: Server, loaded: LoadedProject) -> None:
    import http.client

    key = key_for(loaded.project, "read").secret
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    chunks = iter([b"SELECT count() > 0 ", b"FROM weather ", b"FORMAT JSONEachRow"])
    connection.request(
        "POST",
        "/clickhouse/?default_format=TabSeparated",
        body=chunks,
        headers={"X-ClickHouse-User": loaded.project.slug, "X-ClickHouse-Key": key, "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b'{"greater(count(), 0)":1}\n')
    connection.close()
