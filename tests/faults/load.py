"""A load generator that remembers the fate of every point it ever sent, and the checker.

Every point carries a unique id. Each request's outcome is recorded per point:
``accepted`` (202), ``rejected`` (a definite refusal: 4xx, 503 with a problem body,
connection refused) or ``unknown`` (other 5xx, timeout, reset: the request may or may
not have been buffered). Batches not accepted are sent again, with the same ids, until
accepted or the load's deadline passes; the dedup marks must keep retried points single.

The checker compares the set of ids stored in PostgreSQL with the ledger, in Jepsen's
set-checker terms: lost = accepted − stored, invented = stored − attempted, and the
number of ids stored more than once.
"""

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg


@dataclass
class Ledger:
    attempted: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    retry_after_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ids: list[str], outcome: str, status: str, *, retry_after: bool = False) -> None:
        with self.lock:
            self.attempted.update(ids)
            getattr(self, outcome).update(ids)
            self.statuses[status] += 1
            self.retry_after_seen += int(retry_after)


@dataclass
class LoadResult:
    ledger: Ledger
    seconds: float
    batches: int
    pending: int


class LoadGenerator:
    """Sends ``points`` points in batches from ``threads`` threads, paced over ``duration`` seconds."""

    def __init__(self, *, port: int, key: str, dataset: str, run_id: str, points: int, batch: int,
                 threads: int, duration: float, deadline: float) -> None:
        self.port = port
        self.key = key
        self.path = f"/api/v1/datasets/{dataset}/datapoints"
        self.run_id = run_id
        self.batch = batch
        self.threads = threads
        self.duration = duration
        self.deadline = deadline
        self.ledger = Ledger()
        self.batches = [list(range(start, min(start + batch, points))) for start in range(0, points, batch)]
        self.sent_batches = 0
        self._next = 0
        self._lock = threading.Lock()
        self._unfinished: list[int] = []

    def _body(self, numbers: list[int]) -> tuple[bytes, list[str]]:
        ids = [f"{self.run_id}-{number}" for number in numbers]
        points = [
            {"id": point_id, "indexes": [f"i{number % 97}"], "blobs": [point_id, "é☃𝄞"], "doubles": [number, -0.0]}
            for point_id, number in zip(ids, numbers)
        ]
        return json.dumps(points).encode(), ids

    def _send(self, conn: http.client.HTTPConnection | None, body: bytes, ids: list[str]) -> tuple[bool, http.client.HTTPConnection | None, float]:
        """One attempt; returns (accepted, connection to reuse, seconds to wait before a retry)."""
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except ConnectionRefusedError:
            self.ledger.record(ids, "rejected", "refused")
            return False, None, 0.2
        except (OSError, http.client.HTTPException) as error:
            self.ledger.record(ids, "unknown", type(error).__name__)
            if conn is not None:
                conn.close()
            return False, None, 0.2
        status = response.status
        retry_after = response.getheader("Retry-After")
        if status == 202:
            outcome = json.loads(payload)
            if outcome["accepted"] != len(ids):
                raise AssertionError(f"partial acceptance of a valid batch: {outcome}")
            self.ledger.record(ids, "accepted", "202")
            return True, conn, 0
        problem = response.getheader("Content-Type", "").startswith("application/problem+json")
        definite = 400 <= status < 500 or (status == 503 and problem)
        code = json.loads(payload).get("code", "") if problem else ""
        self.ledger.record(ids, "rejected" if definite else "unknown", f"{status} {code}".strip(),
                           retry_after=retry_after is not None)
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
        return False, conn, min(float(retry_after), 1.0) if retry_after else 0.2

    def _worker(self, started: float) -> None:
        conn = None
        per_batch = self.duration / max(1, len(self.batches))
        while True:
            with self._lock:
                if self._next >= len(self.batches):
                    return
                number = self._next
                self._next += 1
            pace_at = started + number * per_batch
            if pace_at > time.monotonic():
                time.sleep(pace_at - time.monotonic())
            body, ids = self._body(self.batches[number])
            while True:
                accepted, conn, wait = self._send(conn, body, ids)
                with self._lock:
                    self.sent_batches += 1
                if accepted:
                    break
                if time.monotonic() > self.deadline:
                    with self._lock:
                        self._unfinished.append(number)
                    break
                time.sleep(wait)

    def progress(self) -> float:
        with self.ledger.lock:
            return len(self.ledger.accepted) / max(1, sum(len(b) for b in self.batches))

    def run(self) -> LoadResult:
        started = time.monotonic()
        threads = [threading.Thread(target=self._worker, args=(started,), daemon=True) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return LoadResult(self.ledger, time.monotonic() - started, self.sent_batches, len(self._unfinished))


@dataclass(frozen=True)
class Verdict:
    attempted: int
    accepted: int
    unknown_only: int
    stored: int
    lost: list[str]
    invented: list[str]
    duplicates: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.lost and not self.invented and not self.duplicates

    def summary(self) -> dict[str, object]:
        return {
            "attempted": self.attempted, "accepted": self.accepted, "unknown_only": self.unknown_only,
            "stored": self.stored, "lost": len(self.lost), "invented": len(self.invented),
            "duplicates": len(self.duplicates),
        }


def stored_ids(database_url: str, *, project_slug: str, dataset: str) -> Counter:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT p.dedup_id, p.blob1 FROM tracking_datapoint p
            JOIN tracking_dataset d ON d.id = p.dataset_id
            JOIN projects_project pr ON pr.id = d.project_id
            WHERE pr.slug = %s AND d.name = %s
            """,
            [project_slug, dataset],
        ).fetchall()
    for dedup_id, blob1 in rows:
        if dedup_id != blob1:
            raise AssertionError(f"point {dedup_id} stored with another point's blob {blob1!r}")
    return Counter(dedup_id for dedup_id, _ in rows)


def check(ledger: Ledger, stored: Counter) -> Verdict:
    """Jepsen's set checker: nothing accepted is missing, nothing stored was never sent, nothing twice."""
    stored_set = set(stored)
    return Verdict(
        attempted=len(ledger.attempted),
        accepted=len(ledger.accepted),
        unknown_only=len(ledger.unknown - ledger.accepted),
        stored=sum(stored.values()),
        lost=sorted(ledger.accepted - stored_set),
        invented=sorted(stored_set - ledger.attempted),
        duplicates={point_id: count for point_id, count in stored.items() if count > 1},
    )
