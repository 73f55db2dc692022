"""AsyncDataset: the same delivery rules on an asyncio loop."""

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest

from meauxcloud_client import AsyncDataset
from tests.clients.conftest import ScriptedServer
from tests.clients.support import drain_until_stored


@pytest.mark.django_db(transaction=True)
def test_async_writes_are_stored_in_the_projects_dataset(live_server, project, write_key, partitions):
    async def write() -> tuple[bool, object]:
        async with AsyncDataset(live_server.url, write_key, "async_happy") as dataset:
            for n in range(3):
                dataset.write_data_point(blobs=["async", f"n{n}"], doubles=[n], indexes=[f"a{n}"])
            settled = await dataset.flush(timeout=10)
            return settled, dataset.stats()

    settled, stats = asyncio.run(write())
    rows = drain_until_stored(project, "async_happy", 3, columns="index1, blob1, blob2, double1")

    assert settled is True
    assert (stats.accepted, stats.dropped, stats.queued) == (3, 0, 0)
    assert sorted(rows) == [("a0", "async", "n0", 0.0), ("a1", "async", "n1", 1.0), ("a2", "async", "n2", 2.0)]


def test_async_429_waits_for_retry_after_without_blocking_the_loop(scripted_server: ScriptedServer):
    scripted_server.script = [(429, {"Retry-After": "1"})]

    async def write() -> tuple[bool, int]:
        dataset = AsyncDataset(scripted_server.url, "key", "async_limited")
        dataset.write_data_point(blobs=["a"])
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        settled = await dataset.flush(timeout=10)
        ticking.cancel()
        await dataset.aclose()
        return settled, ticks

    settled, ticks = asyncio.run(write())

    first, second = scripted_server.received
    assert settled is True
    assert second.at - first.at >= 1.0
    assert ticks >= 20
    assert first.points == second.points


def test_async_points_left_queued_are_sent_at_interpreter_exit(scripted_server: ScriptedServer):
    script = textwrap.dedent(
        f"""
        import asyncio
        from meauxcloud_client import AsyncDataset
        dataset = AsyncDataset({scripted_server.url!r}, "key", "async_exit", flush_interval=60)

        async def main():
            for n in range(4):
                dataset.write_data_point(doubles=[n])

        asyncio.run(main())
        """
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)

    assert (result.returncode, result.stderr) == (0, "")
    assert [point["doubles"] for point in scripted_server.points()] == [[0], [1], [2], [3]]
    assert time.monotonic() - started < 10
