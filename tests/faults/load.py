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
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

OTLP_TYPES = ("application/x-protobuf", "application/json")


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
                 threads: int, duration: float, deadline: float, protocol: str = "rest") -> None:
        self.port = port
        self.key = key
        self.protocol = protocol
        self.path = f"/otlp/{dataset}/v1/traces" if protocol == "otlp" else f"/api/v1/datasets/{dataset}/datapoints"
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
        if self.protocol == "otlp":
            return self._spans(numbers)
        ids = [f"{self.run_id}-{number}" for number in numbers]
        points = [
            {"id": point_id, "indexes": [f"i{number % 97}"], "blobs": [point_id, "é☃𝄞"], "doubles": [number, -0.0]}
            for point_id, number in zip(ids, numbers, strict=True)
        ]
        return json.dumps(points).encode(), ids

    def _spans(self, numbers: list[int]) -> tuple[bytes, list[str]]:
        """One export of server spans; a span's point id is its trace id, span id and ``r`` (tracking/otlp)."""
        request = ExportTraceServiceRequest()
        spans = request.resource_spans.add().scope_spans.add().spans
        ids = []
        now = time.time_ns()
        for number in numbers:
            trace_id = bytes.fromhex(f"{self.run_id:0>16}"[:16]) + number.to_bytes(8, "big")
            span_id = number.to_bytes(8, "big")
            point_id = f"{trace_id.hex()}{span_id.hex()}r"
            ids.append(point_id)
            spans.append(Span(
                trace_id=trace_id, span_id=span_id, name="GET", kind=Span.SPAN_KIND_SERVER,
                start_time_unix_nano=now, end_time_unix_nano=now + 1_000_000 + number,
                attributes=[KeyValue(key="http.request.method", value=AnyValue(string_value="GET")),
                            KeyValue(key="http.route", value=AnyValue(string_value=point_id)),
                            KeyValue(key="http.response.status_code", value=AnyValue(int_value=200))],
            ))
        return request.SerializeToString(), ids

    def _send(self, conn: http.client.HTTPConnection | None, body: bytes, ids: list[str]) -> tuple[bool, http.client.HTTPConnection | None, float]:
        """One attempt; returns (accepted, connection to reuse, seconds to wait before a retry)."""
        content_type = "application/x-protobuf" if self.protocol == "otlp" else "application/json"
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": content_type}
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
        if status == 200 and self.protocol == "otlp":
            answer = ExportTraceServiceResponse.FromString(payload)
            if answer.partial_success.rejected_spans:
                raise AssertionError(f"partial acceptance of a valid export: {answer}")
            self.ledger.record(ids, "accepted", "200")
            return True, conn, 0
        content_type = response.getheader("Content-Type", "")
        problem = content_type.startswith("application/problem+json") or (self.protocol == "otlp" and content_type in OTLP_TYPES)
        definite = 400 <= status < 500 or (status == 503 and problem)
        code = _problem_code(payload, content_type) if problem else ""
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
    #: Projection rows (merged per key) that differ from the same aggregates of the stored points.
    projection_mismatches: int = 0
    #: Rollup buckets whose point count differs from the stored points' (``rollup_mismatches``).
    rollup_mismatches: int = 0

    @property
    def ok(self) -> bool:
        return (
            not self.lost and not self.invented and not self.duplicates
            and not self.projection_mismatches and not self.rollup_mismatches
        )

    def summary(self) -> dict[str, object]:
        return {
            "attempted": self.attempted, "accepted": self.accepted, "unknown_only": self.unknown_only,
            "stored": self.stored, "lost": len(self.lost), "invented": len(self.invented),
            "duplicates": len(self.duplicates), "projection_mismatches": self.projection_mismatches,
            "rollup_mismatches": self.rollup_mismatches,
        }


def _problem_code(payload: bytes, content_type: str) -> str:
    """The problem's code: from problem+json, or the ErrorInfo reason of an OTLP ``google.rpc.Status``."""
    if content_type.startswith("application/problem+json"):
        return json.loads(payload).get("code", "")
    status = status_pb2.Status.FromString(payload) if content_type == "application/x-protobuf" else None
    if status is None or not status.details:
        return ""
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason


def stored_ids(database_url: str, *, project_slug: str, dataset: str, id_column: str = "blob1") -> Counter:
    """Stored point ids; each point also carries its id in ``id_column``, so a point is never another's."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            f"""
            SELECT p.dedup_id, p.{id_column} FROM tracking_datapoint p
            JOIN tracking_dataset d ON d.id = p.dataset_id
            JOIN projects_project pr ON pr.id = d.project_id
            WHERE pr.slug = %s AND d.name = %s
            """,
            [project_slug, dataset],
        ).fetchall()
    for dedup_id, carried in rows:
        if dedup_id != carried:
            raise AssertionError(f"point {dedup_id} stored with another point's {id_column} {carried!r}")
    return Counter(dedup_id for dedup_id, _ in rows)


def projection_mismatches(database_url: str, *, project_slug: str, dataset: str) -> int:
    """Keys where a projection of the dataset disagrees with its stored points: the drain writes
    both in one transaction, so a worker killed mid-drain must leave none."""
    mismatches = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        projections = conn.execute(
            """
            SELECT p.id, p.dataset_id, p.grain, p.dimensions, p.doubles FROM tracking_projection p
            JOIN tracking_dataset d ON d.id = p.dataset_id JOIN projects_project pr ON pr.id = d.project_id
            WHERE pr.slug = %s AND d.name = %s AND p.state = 'ready'
            """,
            [project_slug, dataset],
        ).fetchall()
        for projection_id, dataset_id, grain, dimensions, doubles in projections:
            bucket = f"date_bin(INTERVAL '{int(grain)} seconds', \"timestamp\", TIMESTAMPTZ '1970-01-01 00:00:00+00')"
            keys = "".join(f", coalesce({column}, '')" for column in dimensions)
            sums = "".join(f", sum(coalesce({column}, 0)::text::numeric)" for column in doubles)
            stored_keys = "".join(f", d{i}" for i in range(1, len(dimensions) + 1))
            stored_sums = "".join(f", sum(s{i})" for i in range(1, len(doubles) + 1))
            group = ", ".join(str(i) for i in range(1, len(dimensions) + 2))
            mismatches += conn.execute(
                f"""
                SELECT count(*) FROM (
                    (SELECT {bucket}{keys}, count(*){sums} FROM tracking_datapoint WHERE dataset_id = %s GROUP BY {group}
                     EXCEPT ALL
                     SELECT bucket{stored_keys}, sum(n){stored_sums} FROM tracking_projection_row WHERE projection_id = %s GROUP BY {group})
                    UNION ALL
                    (SELECT bucket{stored_keys}, sum(n){stored_sums} FROM tracking_projection_row WHERE projection_id = %s GROUP BY {group}
                     EXCEPT ALL
                     SELECT {bucket}{keys}, count(*){sums} FROM tracking_datapoint WHERE dataset_id = %s GROUP BY {group})
                ) AS differing
                """,
                [dataset_id, projection_id, projection_id, dataset_id],
            ).fetchone()[0]
    return mismatches


def rollup_mismatches(database_url: str, *, project_slug: str, dataset: str) -> int:
    """Buckets where a rollup tier's point count differs from the stored points': the minute tier
    over every point, the hour, day and week tiers over the points before their watermark (the
    beat folds the later minutes in). The drain writes points and tiers in one transaction, and the
    watermark moves in one with the coarse rows, so a worker killed mid-drain must leave none."""
    counted = "kind NOT IN (10, 11, 13)"  # histograms and per-path rows repeat the requests
    mismatches = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT d.id, w.coarse_until FROM tracking_dataset d JOIN projects_project pr ON pr.id = d.project_id, "
            "tracking_coarse_watermark w WHERE pr.slug = %s AND d.name = %s",
            [project_slug, dataset],
        ).fetchone()
        if row is None:
            return 0
        dataset_id, watermark = row
        tiers = (("minute", "1 minute", None), ("hour", "1 hour", watermark), ("day", "1 day", watermark), ("week", "7 days", watermark))
        for tier, grain, before in tiers:
            points = (
                f"SELECT date_bin(INTERVAL '{grain}', \"timestamp\", TIMESTAMPTZ '1970-01-01 00:00:00+00'), "
                "sum(_sample_interval)::bigint FROM tracking_datapoint WHERE dataset_id = %s"
                + (" AND \"timestamp\" < %s" if before else "") + " GROUP BY 1"
            )
            rolled = f"SELECT bucket, sum(n)::bigint FROM tracking_rollup_{tier} WHERE dataset_id = %s AND {counted} GROUP BY 1"
            params = [dataset_id, before] if before else [dataset_id]
            mismatches += conn.execute(
                f"SELECT count(*) FROM (({points} EXCEPT ALL {rolled}) UNION ALL ({rolled} EXCEPT ALL {points})) AS differing",
                [*params, dataset_id, dataset_id, *params],
            ).fetchone()[0]
    return mismatches


def check(ledger: Ledger, stored: Counter, *, projection_mismatches: int = 0, rollup_mismatches: int = 0) -> Verdict:
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
        projection_mismatches=projection_mismatches,
        rollup_mismatches=rollup_mismatches,
    )
