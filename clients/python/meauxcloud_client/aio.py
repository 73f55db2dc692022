"""``AsyncDataset``: the same writes for asyncio applications (FastAPI, Starlette, aiohttp).

``write_data_point`` stays a plain, non-blocking call, as in Workers; a task on the
running loop batches and sends. The HTTP post itself runs in a worker thread through
``asyncio.to_thread``, which keeps the package free of dependencies while the loop
never waits on the network. Call it from the loop's thread; from other threads use
``Dataset``.
"""

import asyncio
import atexit
import time
import weakref
from collections.abc import Sequence
from datetime import datetime

from meauxcloud_client.dataset import DEFAULT_EXIT_TIMEOUT
from meauxcloud_client.pipeline import Options, Pipeline, Stats, logger
from meauxcloud_client.validation import Text

_live: "weakref.WeakSet[AsyncDataset]" = weakref.WeakSet()


class AsyncDataset:
    """Batches like ``Dataset``; use ``await flush()`` and ``await aclose()`` (or ``async with``)."""

    def __init__(
        self,
        url: str,
        key: str,
        name: str,
        *,
        max_queue: int = 10_000,
        batch_points: int = 1_000,
        batch_bytes: int = 1024 * 1024,
        flush_interval: float = 1.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        timeout: float = 10.0,
        exit_timeout: float = DEFAULT_EXIT_TIMEOUT,
        stamp_time: bool = True,
    ) -> None:
        options = Options(
            max_queue=max_queue,
            batch_points=batch_points,
            batch_bytes=batch_bytes,
            flush_interval=flush_interval,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            timeout=timeout,
            stamp_time=stamp_time,
        )
        self.name = name
        self.exit_timeout = exit_timeout
        self._pipeline = Pipeline(url, key, name, options)
        self._task: asyncio.Task[None] | None = None
        self._waker: asyncio.Future[None] | None = None
        self._progress: asyncio.Condition | None = None
        self._closed = False
        _live.add(self)

    def write_data_point(
        self,
        blobs: Sequence[Text] | None = None,
        doubles: Sequence[float] | None = None,
        indexes: Sequence[Text] | None = None,
        *,
        timestamp: int | datetime | None = None,
        id: str | None = None,
    ) -> None:
        """Queue one point and return at once; never raises."""
        try:
            if self._closed:
                self._pipeline.drop_after_close()
                return
            full = self._pipeline.put(blobs, doubles, indexes, timestamp, id)
            if self._ensure_task() and full:
                self._wake_up()
        except Exception:
            logger.exception("write_data_point(): unexpected error; point dropped")

    writeDataPoint = write_data_point

    def _ensure_task(self) -> bool:
        """Start the sender on the running loop; False outside one (points wait for the next chance)."""
        if self._task is not None and not self._task.done():
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._progress = asyncio.Condition()
        self._task = loop.create_task(self._run(), name=f"meauxcloud-{self.name}")
        return True

    async def _run(self) -> None:
        """Wait for a full batch, a flush or the interval, then send all that is queued."""
        interval = self._pipeline.options.flush_interval
        while not self._closed:
            await self._idle(interval)
            while lines := self._pipeline.take():
                try:
                    attempt = 0
                    while (delay := await asyncio.to_thread(self._pipeline.attempt, lines, attempt)) is not None:
                        attempt += 1
                        await asyncio.sleep(delay)
                except Exception:
                    logger.exception("meauxcloud: dropping %d points for dataset %s after an unexpected error", len(lines), self.name)
                    self._pipeline.settle(len(lines), outcome="dropped")
            await self._notify()

    async def _idle(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        self._waker = loop.create_future()
        timer = loop.call_later(interval, self._wake_up)
        try:
            await self._waker
        finally:
            timer.cancel()
            self._waker = None

    def _wake_up(self) -> None:
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything written so far; True when all of it is settled within ``timeout``."""
        target, done = self._pipeline.progress()
        if done >= target:
            return True
        self._ensure_task()
        self._wake_up()

        async def settled() -> None:
            async with self._progress:
                await self._progress.wait_for(lambda: self._pipeline.progress()[1] >= target)

        try:
            await asyncio.wait_for(settled(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def aclose(self, timeout: float | None = DEFAULT_EXIT_TIMEOUT) -> bool:
        """Flush, then stop the sender; later writes are dropped."""
        settled = await self.flush(timeout)
        self._closed = True
        if self._task is not None:
            self._wake_up()
            if settled:
                await self._task
            else:
                self._task.cancel()
        self._pipeline.transport.close()
        return settled

    async def __aenter__(self) -> "AsyncDataset":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def stats(self) -> Stats:
        return self._pipeline.stats()

    def drain_blocking(self, timeout: float) -> bool:
        """Send what is still queued from the calling thread; used at interpreter exit, when
        the event loop that ran the sender is usually gone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (lines := self._pipeline.take()):
            attempt = 0
            while (delay := self._pipeline.attempt(lines, attempt, retry_budget=deadline - time.monotonic())) is not None:
                attempt += 1
                time.sleep(delay)
        written, done = self._pipeline.progress()
        return done >= written


def _drain_all_at_exit() -> None:
    for dataset in list(_live):
        if not dataset._closed:
            dataset.drain_blocking(dataset.exit_timeout)


atexit.register(_drain_all_at_exit)
