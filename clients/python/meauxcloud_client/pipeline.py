"""The bounded queue between ``write_data_point`` and the sender, with its counters.

Writers only validate and append under a lock (a few microseconds); JSON encoding,
gzip and HTTP happen on the sender's side. When the queue is full the oldest point is
dropped and counted: a lagging or unreachable server costs the application a fixed
amount of memory and never blocks it.
"""

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from meauxcloud_client.transport import Answer, Transport, backoff_seconds
from meauxcloud_client.validation import DataPointError, Text, data_point_check

logger = logging.getLogger("meauxcloud_client")

SERVER_MAX_POINTS = 10_000
SERVER_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Stats:
    """Counters since the dataset was created; every written point ends in exactly one of
    accepted, rejected, invalid or dropped, or is still queued or in flight."""

    queued: int
    in_flight: int
    accepted: int
    duplicates: int
    rejected: int
    invalid: int
    dropped: int
    retries: int
    batches: int


@dataclass(frozen=True)
class Options:
    max_queue: int = 10_000
    batch_points: int = 1_000
    batch_bytes: int = 1024 * 1024
    flush_interval: float = 1.0
    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    timeout: float = 10.0
    stamp_time: bool = True


class Pipeline:
    def __init__(self, url: str, key: str, name: str, options: Options) -> None:
        if options.batch_points > SERVER_MAX_POINTS or options.batch_bytes > SERVER_MAX_BYTES:
            raise ValueError("batches must stay within the server's 10,000 points and 5 MiB")
        self.options = options
        self.name = name
        self.transport = Transport(url, key, name, timeout=options.timeout)
        self.lock = threading.Lock()
        self.settled = threading.Condition(self.lock)
        self.queue: deque[dict[str, object]] = deque()
        self.written = 0
        self.done = 0
        self.in_flight = 0
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        self.invalid = 0
        self.dropped = 0
        self.retries = 0
        self.batches = 0
        self.closed_drops = 0

    def reset_after_fork(self) -> None:
        """A forked child starts empty: the parent still owns, and sends, what was queued."""
        self.lock = threading.Lock()
        self.settled = threading.Condition(self.lock)
        self.queue = deque()
        self.written = self.done = self.in_flight = 0
        self.transport.close()

    def put(
        self,
        blobs: Sequence[Text] | None,
        doubles: Sequence[float] | None,
        indexes: Sequence[Text] | None,
        timestamp: int | datetime | None,
        id: str | None,
    ) -> bool:
        """Validate and queue a point; True when the queue holds a full batch (time to wake the sender)."""
        try:
            point = data_point_check(blobs, doubles, indexes, timestamp, id)
        except DataPointError as error:
            with self.lock:
                self.invalid += 1
            logger.warning("write_data_point(): %s (%s; dataset %s)", error.detail, error.code, self.name)
            return False
        if timestamp is None and self.options.stamp_time:
            point["timestamp"] = int(time.time() * 1000)
        with self.lock:
            if len(self.queue) >= self.options.max_queue:
                self.queue.popleft()
                self.dropped += 1
                self.done += 1
                self.settled.notify_all()
            self.queue.append(point)
            self.written += 1
            return len(self.queue) >= self.options.batch_points

    def drop_after_close(self) -> None:
        """Count a write that came after close(); logged once, not once per request."""
        with self.lock:
            self.dropped += 1
            first = not self.closed_drops
            self.closed_drops += 1
        if first:
            logger.warning("write_data_point(): dataset %s is closed; this and later points are dropped", self.name)

    def take(self) -> list[bytes]:
        """The next batch as NDJSON lines, within the point and byte limits; [] when empty.

        Points leave the queue under the lock, but are encoded outside it, so writers
        never wait on JSON encoding; the rare tail over the byte limit goes back in front.
        """
        with self.lock:
            count = min(len(self.queue), self.options.batch_points)
            points = [self.queue.popleft() for _ in range(count)]
            self.in_flight = count
        lines: list[bytes] = []
        size = 0
        for position, point in enumerate(points):
            line = json.dumps(point, separators=(",", ":"), ensure_ascii=False).encode()
            if lines and size + len(line) + 1 > self.options.batch_bytes:
                with self.lock:
                    self.queue.extendleft(reversed(points[position:]))
                    self.in_flight = len(lines)
                break
            lines.append(line)
            size += len(line) + 1
        return lines

    def progress(self) -> tuple[int, int]:
        """Points written so far and points settled so far."""
        with self.lock:
            return self.written, self.done

    def settle(self, count: int, *, outcome: str, answer: Answer | None = None) -> None:
        """Account for a finished batch: sent (with the server's counts), or dropped."""
        with self.lock:
            self.batches += 1
            if outcome == "sent" and answer is not None:
                accepted = int(answer.body.get("accepted", 0) or 0)
                duplicates = int(answer.body.get("duplicates", 0) or 0)
                self.accepted += accepted
                self.duplicates += duplicates
                self.rejected += count - accepted - duplicates
            elif outcome == "rejected":
                self.rejected += count
            else:
                self.dropped += count
            self.done += count
            self.in_flight = 0
            self.settled.notify_all()

    def attempt(self, lines: list[bytes], attempt: int, *, retry_budget: float | None = None) -> float | None:
        """Post a batch once. Returns None when the batch is settled, or the delay before a retry."""
        answer = self.transport.post(lines)
        count = len(lines)
        if answer.status == 202:
            self._log_point_errors(answer)
            self.settle(count, outcome="sent", answer=answer)
            return None
        if not answer.retryable:
            code = answer.body.get("code", "")
            if answer.status == 400 and code == "no_valid_points":
                self._log_point_errors(answer)
                self.settle(count, outcome="rejected")
            else:
                logger.error(
                    "meauxcloud: dataset %s refused a batch of %d points: HTTP %d %s %s",
                    self.name, count, answer.status, code, answer.body.get("detail", ""),
                )
                self.settle(count, outcome="dropped")
            return None
        delay = backoff_seconds(
            attempt, retry_after=answer.retry_after, base=self.options.backoff_base, cap=self.options.backoff_cap
        )
        if attempt >= self.options.max_retries or (retry_budget is not None and delay > retry_budget):
            logger.error(
                "meauxcloud: dropping %d points for dataset %s after %d tries: %s",
                count, self.name, attempt + 1, answer.error or f"HTTP {answer.status}",
            )
            self.settle(count, outcome="dropped")
            return None
        with self.lock:
            self.retries += 1
        return delay

    def _log_point_errors(self, answer: Answer) -> None:
        errors = answer.body.get("errors") or []
        if isinstance(errors, list) and errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            logger.warning(
                "meauxcloud: dataset %s rejected %d points, e.g. %s: %s",
                self.name, len(errors), first.get("code", ""), first.get("detail", ""),
            )

    def wait_settled(self, target: int, timeout: float | None) -> bool:
        """Block until every point written before ``target`` is settled, or the timeout passes."""
        with self.lock:
            return self.settled.wait_for(lambda: self.done >= target, timeout)

    def stats(self) -> Stats:
        with self.lock:
            return Stats(
                queued=len(self.queue),
                in_flight=self.in_flight,
                accepted=self.accepted,
                duplicates=self.duplicates,
                rejected=self.rejected,
                invalid=self.invalid,
                dropped=self.dropped,
                retries=self.retries,
                batches=self.batches,
            )
