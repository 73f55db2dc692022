"""The Python client's Dataset: delivery, retries, back-pressure and exit, over real HTTP."""

import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

from meauxcloud_client import Dataset
from tests.clients.conftest import ScriptedServer
from tests.clients.support import drain_until_stored


def _closed_port_url() -> str:
    from tests.clients.toolchain import free_port

    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.django_db(transaction=True)
def test_written_points_are_stored_in_the_projects_dataset(live_server, project, write_key, partitions):
    dataset = Dataset(live_server.url, write_key, "client_happy")
    dataset.write_data_point(blobs=["user-login", "google-oauth"], doubles=[1], indexes=["user-123"])
    dataset.write_data_point(blobs=[None, b"bytes-as-utf8"], doubles=[2.5, 3])
    dataset.write_data_point()

    assert dataset.flush(timeout=10) is True
    rows = drain_until_stored(project, "client_happy", 3, columns="index1, blob1, blob2, double1, double2")
    dataset.close()

    assert set(rows) == {
        ("", None, None, None, None),
        ("", None, "bytes-as-utf8", 2.5, 3.0),
        ("user-123", "user-login", "google-oauth", 1.0, None),
    }
    stats = dataset.stats()
    assert (stats.accepted, stats.rejected, stats.invalid, stats.dropped, stats.queued) == (3, 0, 0, 0, 0)


def test_invalid_point_is_logged_with_the_servers_message_and_never_raised(scripted_server, caplog):
    dataset = Dataset(scripted_server.url, "key", "invalid")
    with caplog.at_level(logging.WARNING, logger="meauxcloud_client"):
        dataset.write_data_point(blobs=["x"] * 21)
        dataset.write_data_point(indexes=["a", "b"])
        dataset.write_data_point(doubles=[float("nan")])
        dataset.write_data_point(blobs=["fine"])
    assert dataset.flush(timeout=5) is True
    dataset.close()

    assert [record.getMessage() for record in caplog.records] == [
        "write_data_point(): Maximum of 20 blobs supported. (too_many_blobs; dataset invalid)",
        "write_data_point(): Maximum of 1 indexes supported. (too_many_indexes; dataset invalid)",
        "write_data_point(): doubles[0] must be a finite number. (non_finite_double; dataset invalid)",
    ]
    assert [point["blobs"] for point in scripted_server.points()] == [["fine"]]
    assert (dataset.stats().invalid, dataset.stats().accepted) == (3, 1)


def test_429_waits_for_retry_after_then_delivers_the_same_points(scripted_server: ScriptedServer):
    scripted_server.script = [(429, {"Retry-After": "1"})]
    dataset = Dataset(scripted_server.url, "key", "limited")
    dataset.write_data_point(blobs=["a"], doubles=[1])

    assert dataset.flush(timeout=10) is True
    dataset.close()

    first, second = scripted_server.received
    assert second.at - first.at >= 1.0
    assert first.points == second.points
    assert (dataset.stats().retries, dataset.stats().accepted) == (1, 1)


def test_5xx_and_refused_connections_are_retried_with_backoff(scripted_server: ScriptedServer):
    scripted_server.script = [(500, {}), (503, {}), (502, {})]
    dataset = Dataset(scripted_server.url, "key", "flaky", backoff_base=0.05)
    dataset.write_data_point(blobs=["a"])
    dataset.write_data_point(blobs=["b"])

    assert dataset.flush(timeout=10) is True
    dataset.close()

    assert len(scripted_server.received) == 4
    assert all(request.points == scripted_server.received[0].points for request in scripted_server.received)
    assert [point["blobs"] for point in scripted_server.received[0].points] == [["a"], ["b"]]
    assert (dataset.stats().retries, dataset.stats().accepted, dataset.stats().dropped) == (3, 2, 0)


def test_retries_stop_after_max_retries_and_the_batch_is_counted_as_dropped(scripted_server: ScriptedServer):
    scripted_server.script = [(500, {})] * 10
    dataset = Dataset(scripted_server.url, "key", "down", backoff_base=0.01, max_retries=2)
    for n in range(4):
        dataset.write_data_point(doubles=[n])

    assert dataset.flush(timeout=10) is True
    dataset.close()

    assert len(scripted_server.received) == 3
    assert (dataset.stats().retries, dataset.stats().dropped, dataset.stats().accepted) == (2, 4, 0)


def test_a_refused_key_is_not_retried(scripted_server: ScriptedServer):
    scripted_server.script = [(401, {})]
    dataset = Dataset(scripted_server.url, "wrong", "unauthorised")
    dataset.write_data_point(blobs=["a"])

    assert dataset.flush(timeout=5) is True
    dataset.close()

    assert len(scripted_server.received) == 1
    assert (dataset.stats().retries, dataset.stats().dropped) == (0, 1)


def test_server_down_costs_no_exception_bounded_memory_and_counted_drops():
    dataset = Dataset(_closed_port_url(), "key", "nowhere", max_queue=100, batch_points=10, backoff_base=0.05, max_retries=1000)
    started = time.perf_counter()
    for n in range(5_000):
        dataset.write_data_point(blobs=["GET", "/x"], doubles=[n], indexes=[f"r{n}"])
    elapsed = time.perf_counter() - started

    stats = dataset.stats()
    assert stats.queued <= 100
    assert stats.in_flight <= 10
    assert stats.dropped >= 5_000 - 110
    assert stats.queued + stats.in_flight + stats.dropped + stats.accepted == 5_000
    assert elapsed < 3.0
    closing = time.perf_counter()
    dataset.close(timeout=0.5)
    assert time.perf_counter() - closing < 1.5
    deadline = time.monotonic() + 5
    while dataset.stats().dropped < 5_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (dataset.stats().dropped, dataset.stats().queued, dataset.stats().in_flight, dataset.stats().accepted) == (
        5_000, 0, 0, 0,
    )


def test_batches_never_exceed_batch_points_and_are_gzipped(scripted_server: ScriptedServer):
    dataset = Dataset(scripted_server.url, "key", "batched", batch_points=10)
    for n in range(25):
        dataset.write_data_point(doubles=[n])

    assert dataset.flush(timeout=5) is True
    dataset.close()

    sizes = [len(request.points) for request in scripted_server.received]
    assert max(sizes) <= 10
    assert sum(sizes) == 25
    assert [point["doubles"][0] for point in scripted_server.points()] == list(range(25))
    assert {request.headers["Content-Encoding"] for request in scripted_server.received} == {"gzip"}
    assert {request.path for request in scripted_server.received} == {"/api/v1/datasets/batched/datapoints"}


def test_points_go_out_after_flush_interval_without_a_flush(scripted_server: ScriptedServer):
    dataset = Dataset(scripted_server.url, "key", "timed", flush_interval=0.2)
    written_at = time.time() * 1000
    dataset.write_data_point(blobs=["tick"])

    deadline = time.monotonic() + 3
    while not scripted_server.received and time.monotonic() < deadline:
        time.sleep(0.02)
    dataset.close()

    (point,) = scripted_server.points()
    assert point["blobs"] == ["tick"]
    assert written_at - 5 <= point["timestamp"] <= written_at + 1_000


def test_queued_points_are_sent_at_interpreter_exit(scripted_server: ScriptedServer):
    script = textwrap.dedent(
        f"""
        from meauxcloud_client import Dataset
        dataset = Dataset({scripted_server.url!r}, "key", "at_exit", flush_interval=60)
        for n in range(7):
            dataset.write_data_point(blobs=["bye"], doubles=[n])
        print("exiting", flush=True)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)

    assert (result.returncode, result.stdout, result.stderr) == (0, "exiting\n", "")
    assert [point["doubles"] for point in scripted_server.points()] == [[n] for n in range(7)]


def test_a_forked_child_sends_only_its_own_points(scripted_server: ScriptedServer):
    dataset = Dataset(scripted_server.url, "key", "forked", flush_interval=60)
    dataset.write_data_point(blobs=["parent before fork"])
    pid = os.fork()
    if pid == 0:
        dataset.write_data_point(blobs=["child"])
        os._exit(0 if dataset.flush(timeout=5) else 1)
    _, status = os.waitpid(pid, 0)
    dataset.write_data_point(blobs=["parent after fork"])
    assert dataset.flush(timeout=5) is True
    dataset.close()

    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(point["blobs"][0] for point in scripted_server.points()) == [
        "child",
        "parent after fork",
        "parent before fork",
    ]


def test_writes_after_close_are_counted_as_dropped_and_logged_once(scripted_server: ScriptedServer, caplog):
    dataset = Dataset(scripted_server.url, "key", "closed")
    dataset.write_data_point(blobs=["before"])
    dataset.close()
    with caplog.at_level(logging.WARNING, logger="meauxcloud_client"):
        for _ in range(3):
            dataset.write_data_point(blobs=["after"])

    assert [point["blobs"] for point in scripted_server.points()] == [["before"]]
    assert (dataset.stats().accepted, dataset.stats().dropped) == (1, 3)
    assert [record.getMessage() for record in caplog.records] == [
        "write_data_point(): dataset closed is closed; this and later points are dropped"
    ]
