"""``Dataset``: Analytics Engine's ``writeDataPoint`` for Python, sent by a background thread.

Like the Workers binding, a write returns at once and never raises into the caller: an
invalid point is logged with the server's message and counted, and delivery problems
cost retries, then counted drops, never an exception or a blocked request.
"""

import atexit
import os
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import datetime

from meauxcloud_client.pipeline import Options, Pipeline, Stats, logger
from meauxcloud_client.validation import Text

DEFAULT_EXIT_TIMEOUT = 5.0
CLOSE_GRACE = 0.25  # for the sender to count what it drops at the deadline

_live: "weakref.WeakSet[Dataset]" = weakref.WeakSet()


class Dataset:
    """One dataset of one project, written through ``write_data_point``.

    Points are batched by count (``batch_points``) and time (``flush_interval``),
    gzipped and posted as NDJSON by a daemon thread started on the first write. The
    queue holds at most ``max_queue`` points; when full, the oldest is dropped and
    counted. 5xx, 429 and network errors are retried with backoff (honouring
    Retry-After) up to ``max_retries`` times. ``flush()`` waits for delivery,
    ``close()`` flushes and stops, and interpreter exit flushes for up to
    ``exit_timeout`` seconds.
    """

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
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
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
        """Queue one point and return at once; ``timestamp`` defaults to now (ms) at this call."""
        try:
            if self._stopping.is_set():
                self._pipeline.drop_after_close()
                return
            if self._pipeline.put(blobs, doubles, indexes, timestamp, id):
                self._wake.set()
            if self._thread is None:
                self._start()
        except Exception:
            logger.exception("write_data_point(): unexpected error; point dropped")

    writeDataPoint = write_data_point

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"meauxcloud-{self.name}", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Wait for a full batch, a flush or the interval, then send all that is queued."""
        interval = self._pipeline.options.flush_interval
        while True:
            if not self._stopping.is_set():
                self._wake.wait(interval)
                self._wake.clear()
            while lines := self._pipeline.take():
                try:
                    self._deliver(lines)
                except Exception:
                    logger.exception("meauxcloud: dropping %d points for dataset %s after an unexpected error", len(lines), self.name)
                    self._pipeline.settle(len(lines), outcome="dropped")
            if self._stopping.is_set():
                return

    def _deliver(self, lines: list[bytes]) -> None:
        attempt = 0
        while True:
            budget = None if self._deadline is None else self._deadline - time.monotonic()
            if budget is not None and budget <= 0:
                logger.error("meauxcloud: dropping %d points for dataset %s: close() ran out of time", len(lines), self.name)
                self._pipeline.settle(len(lines), outcome="dropped")
                return
            delay = self._pipeline.attempt(lines, attempt, retry_budget=budget)
            if delay is None:
                return
            attempt += 1
            if not self._pause(delay):
                self._pipeline.settle(len(lines), outcome="dropped")
                return

    def _pause(self, delay: float) -> bool:
        """Wait before a retry; False when ``close()``'s deadline would pass first."""
        end = time.monotonic() + delay
        if not self._stopping.wait(delay):
            return True
        if self._deadline is not None and end > self._deadline:
            return False
        time.sleep(max(0.0, end - time.monotonic()))
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything written so far; True when all of it is settled within ``timeout``."""
        target, done = self._pipeline.progress()
        if done >= target:
            return True
        if self._thread is None:
            self._start()
        self._wake.set()
        return self._pipeline.wait_settled(target, timeout)

    def close(self, timeout: float | None = DEFAULT_EXIT_TIMEOUT) -> bool:
        """Flush, then stop the sender; later writes are dropped. Safe to call twice."""
        if timeout is not None:
            self._deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(None if timeout is None else timeout + CLOSE_GRACE)
            settled = not thread.is_alive()
        else:
            written, done = self._pipeline.progress()
            settled = done >= written
        if settled:
            self._pipeline.transport.close()
        return settled

    def stats(self) -> Stats:
        return self._pipeline.stats()

    def _after_fork(self) -> None:
        self._pipeline.reset_after_fork()
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._thread = None


def _close_all_at_exit() -> None:
    for dataset in list(_live):
        dataset.close(dataset.exit_timeout)


def _reset_all_after_fork() -> None:
    for dataset in list(_live):
        dataset._after_fork()


atexit.register(_close_all_at_exit)
os.register_at_fork(after_in_child=_reset_all_after_fork)
