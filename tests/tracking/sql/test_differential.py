"""Differential suite: every query gives the same result in ClickHouse (chdb) and through our engine."""

import json

import pytest

from tests.tracking.sql.conftest import ClickHouse, LoadedProject
from tests.tracking.sql.queries import CASES, FORMAT_CASES, Case
from tests.tracking.sql.support import clock_settle, results_match
from tracking.sql.engine import sql_execute


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_query_matches_clickhouse(case: Case, loaded: LoadedProject, clickhouse: ClickHouse) -> None:
    clock_settle(case.sql)
    ours = json.loads(sql_execute(project=loaded.project, sql=case.sql).body)
    theirs = clickhouse.json((case.clickhouse or case.sql).strip().rstrip(";"))
    assert results_match(ours, theirs, ordered=case.ordered, outer_limit_only=case.outer_limit_only) is None, (
        results_match(ours, theirs, ordered=case.ordered, outer_limit_only=case.outer_limit_only)
    )


@pytest.mark.parametrize("case", FORMAT_CASES, ids=[case.id for case in FORMAT_CASES])
def test_format_bytes_match_clickhouse(case: Case, loaded: LoadedProject, clickhouse: ClickHouse) -> None:
    ours = sql_execute(project=loaded.project, sql=case.sql).body.decode()
    theirs = clickhouse.raw(case.sql)
    if "FORMAT JSON" in case.sql and "JSONEachRow" not in case.sql:
        ours_json, theirs_json = json.loads(ours), json.loads(theirs)
        assert ours_json["meta"] == theirs_json["meta"]
        assert ours_json["data"] == theirs_json["data"]
        assert ours_json["rows"] == theirs_json["rows"]
    elif "JSONEachRow" in case.sql:
        assert [json.loads(line) for line in ours.splitlines()] == [json.loads(line) for line in theirs.splitlines()]
    else:
        assert ours == theirs
