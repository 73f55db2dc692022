"""Short mode of the fault harness: every fault under a 6,000-point load, checked point by point.

`make faults` runs the same faults at ≥100,000 points (tests/faults/run.py). The ledger also
checks every ready projection of the dataset against its stored points (no key may differ).
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.run import harness_postgres
from tests.faults.scenarios import FAULTS, SHORT, FaultReport, fault_run, soak_size
from tests.faults.stack import PG_BIN, REDIS_SERVER, PrivatePostgres, stack_base

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (PG_BIN / "initdb").exists() or not Path(REDIS_SERVER).exists(),
        reason="the fault harness needs Debian's PostgreSQL 15 binaries and redis-server",
    ),
]


@pytest.fixture(scope="module")
def harness() -> Iterator[tuple[PrivatePostgres, Path]]:
    base = stack_base()
    postgres = harness_postgres(base)
    yield postgres, base
    postgres.close()
    shutil.rmtree(base, ignore_errors=True)


def _run(harness: tuple[PrivatePostgres, Path], name: str) -> FaultReport:
    postgres, base = harness
    report = fault_run(postgres=postgres, base=base, fault=FAULTS[name], size=SHORT)
    summary = report.verdict.summary()
    assert (summary["lost"], summary["invented"], summary["duplicates"]) == (0, 0, 0), report.as_dict()
    assert (summary["projection_mismatches"], summary["rollup_mismatches"]) == (0, 0), report.as_dict()
    assert (summary["attempted"], summary["accepted"], summary["stored"]) == (6000, 6000, 6000), report.as_dict()
    return report


def test_worker_killed_repeatedly_mid_flush_loses_and_duplicates_nothing(harness):
    report = _run(harness, "worker_kill9")

    assert report.observations.notes == ["worker killed -9 2 times during the load"]


def test_worker_warm_shutdowns_lose_and_duplicate_nothing(harness):
    report = _run(harness, "worker_sigterm")

    assert report.observations.notes == ["worker stopped with SIGTERM 2 times"]


def test_redis_killed_and_restarted_from_aof_keeps_every_accepted_point(harness):
    report = _run(harness, "redis_kill9")

    assert report.statuses["503 buffer_unavailable"] == report.retry_after_seen > 0
    assert report.observations.health_status_during_fault == 503
    assert report.observations.health_during_fault["redis"] == {"status": "down", "error": "ConnectionError"}


def test_postgres_down_ingest_buffers_to_high_water_then_503_and_drains_after(harness):
    report = _run(harness, "postgres_stop")

    health = report.observations.health_during_fault
    assert report.statuses["503 buffer_full"] == report.retry_after_seen > 0
    assert report.observations.health_status_during_fault == 503
    assert health["database"] == {"status": "down", "error": "OperationalError"}
    assert health["buffer"] == {"status": "ok", "depth": 20, "high_water": 20, "accepting": False}


def test_postgres_read_only_delays_writes_without_losing_any(harness):
    report = _run(harness, "postgres_read_only")

    assert report.observations.health_status_during_fault == 503
    assert report.observations.health_during_fault["database"] == {"status": "read_only"}


def test_web_server_killed_mid_load_retried_points_are_stored_once(harness):
    report = _run(harness, "web_restart")

    assert report.statuses["refused"] > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="disk_full mounts a small tmpfs, which needs root")
def test_datapoints_disk_full_keeps_ingest_answering_202_and_drains_once_space_returns(harness):
    report = _run(harness, "disk_full")

    assert report.statuses == {"202": 6000 // SHORT.batch}
    assert "the drain hit ENOSPC" in report.observations.notes[0]
    assert report.observations.health_during_fault["buffer"]["depth"] > 0


def test_worker_killed_repeatedly_under_otlp_exports_loses_and_duplicates_nothing(harness):
    report = _run(harness, "otlp_worker_kill9")

    assert report.observations.notes == ["worker killed -9 2 times during the load"]
    assert report.statuses["200"] == 6000 // SHORT.batch


def test_short_soak_with_sql_queries_and_worker_kills_loses_and_duplicates_nothing(harness):
    postgres, base = harness
    report = fault_run(postgres=postgres, base=base, fault=FAULTS["soak"], size=soak_size(15))

    summary, figures = report.verdict.summary(), report.observations.figures
    assert (summary["lost"], summary["invented"], summary["duplicates"]) == (0, 0, 0), report.as_dict()
    assert (summary["projection_mismatches"], summary["rollup_mismatches"]) == (0, 0), report.as_dict()
    assert (summary["attempted"], summary["accepted"], summary["stored"]) == (7500, 7500, 7500), report.as_dict()
    assert figures["worker_kills"] > 0
    assert set(figures["sql_answers"]) == {"200"}
    assert figures["memory_end"]["redis_rss"] > 0
