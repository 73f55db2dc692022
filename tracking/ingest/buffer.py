"""The durable ingest buffer: one Redis Stream, one entry per accepted batch.

An entry holds a dataset id and the batch's validated rows (msgpack). Workers read it
through a consumer group and acknowledge only after PostgreSQL has committed the rows,
so an entry outlives any worker that dies holding it.
"""

import os
import socket
import time
from dataclasses import dataclass
from functools import cache, cached_property

import msgspec
import redis

from meauxcloud.redis import redis_client
from tracking.conf import tracking_settings
from tracking.ingest.decode import PointRow

_encoder = msgspec.msgpack.Encoder()
GONE_MARK_SECONDS = 3600
_decoder = msgspec.msgpack.Decoder(list[PointRow])

# Appending is one atomic script: the deleted-dataset check, the back-pressure check, the
# client-id dedup marks and the XADD happen together or not at all, so a marked id always
# has its point buffered and no point joins a dataset marked deleted (dataset_gone_mark).
_APPEND_SCRIPT = """
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return {false, 'gone'}
end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  return {false, 'full'}
end
local skipped = {}
for i = 3, #KEYS do
  if not redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[4]) then
    table.insert(skipped, ARGV[5 + i - 2])
  end
end
local skip = table.concat(skipped, ',')
local entry_id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[2], 'p', ARGV[3], 's', skip)
return {entry_id, skip}
"""


class BufferFull(Exception):
    """The backlog is above its high-water mark: the caller should retry later."""


class DatasetGone(Exception):
    """The dataset was deleted after the caller read it: look it up again, not from a recent copy."""


class NotDurable(redis.RedisError):
    """Strict mode: the batch was appended but Redis did not confirm the fsync in time.

    Answered like an unreachable buffer (503, retry): a retry with the same point ids is
    deduplicated, so the worst case is a delay, never a loss or a duplicate.
    """


@cache
def waitaof_supported() -> bool:
    """WAITAOF exists from Redis 7.2; older servers need ``appendfsync always`` for strict mode."""
    version = redis_client().info("server").get("redis_version", "0")
    major, minor = (int(part) for part in str(version).split(".")[:2])
    return (major, minor) >= (7, 2)


@dataclass(frozen=True)
class BufferEntry:
    entry_id: str
    dataset_id: int
    payload: bytes
    skip: frozenset[int]

    @cached_property
    def rows(self) -> list[PointRow]:
        rows = _decoder.decode(self.payload)
        if not self.skip:
            return rows
        return [row for position, row in enumerate(rows) if position not in self.skip]


@cache
def _append_script() -> "redis.commands.core.Script":
    return redis_client().register_script(_APPEND_SCRIPT)


def _dedup_key(dataset_id: int, point_id: str) -> str:
    return f"{tracking_settings.STREAM_KEY}:dedup:{dataset_id}:{point_id}"


def _gone_key(dataset_id: int) -> str:
    return f"{tracking_settings.STREAM_KEY}:gone:{dataset_id}"


def dataset_gone_mark(*, dataset_id: int) -> None:
    """Refuse appends for a deleted dataset from copies read before its deletion (``check_gone``).

    Web processes keep a dataset they looked up for ``LOCAL_TTL_SECONDS``; the mark outlives
    that many times over, and dataset ids are never reused.
    """
    redis_client().set(_gone_key(dataset_id), b"1", ex=GONE_MARK_SECONDS)


def buffer_append(*, dataset_id: int, rows: list[PointRow], check_gone: bool = False) -> tuple[str, int]:
    """Buffer a validated batch; returns the entry id and how many points were repeats of earlier ids.

    ``check_gone``: refuse (``DatasetGone``) when the dataset has been marked deleted, for a
    dataset read from a recent copy rather than from PostgreSQL just now.
    """
    ids = [(position, row.id) for position, row in enumerate(rows) if row.id is not None]
    keys = [tracking_settings.STREAM_KEY, _gone_key(dataset_id)]
    keys += [_dedup_key(dataset_id, point_id) for _, point_id in ids]
    args = [
        tracking_settings.BUFFER_HIGH_WATER,
        dataset_id,
        _encoder.encode(rows),
        tracking_settings.DEDUP_WINDOW_SECONDS,
        "1" if check_gone else "0",
    ] + [position for position, _ in ids]
    if tracking_settings.STRICT_DURABILITY and waitaof_supported():
        entry_id, skip = _append_durably(keys, args)
    else:
        entry_id, skip = _append_script()(keys=keys, args=args)
    if not entry_id:
        raise DatasetGone() if skip == b"gone" else BufferFull()
    return entry_id.decode(), len(skip.split(b",")) if skip else 0


def _append_durably(keys: list, args: list) -> tuple[bytes | None, bytes]:
    """The append and ``WAITAOF 1 0`` on one connection (a pipeline): WAITAOF covers that connection's writes."""
    pipe = redis_client().pipeline(transaction=False)
    _append_script()(keys=keys, args=args, client=pipe)
    pipe.execute_command("WAITAOF", 1, 0, tracking_settings.STRICT_DURABILITY_TIMEOUT_MS)
    (entry_id, skip), (local_fsynced, _) = pipe.execute()
    if entry_id and local_fsynced < 1:
        raise NotDurable("Redis did not confirm the fsync of the batch in time")
    return entry_id, skip


def buffer_depth() -> int:
    return redis_client().xlen(tracking_settings.STREAM_KEY)


def buffer_oldest_age() -> float | None:
    """Seconds since the oldest entry still in the stream was accepted (an entry id is its time), or None if empty."""
    oldest = redis_client().xrange(tracking_settings.STREAM_KEY, count=1)
    if not oldest:
        return None
    accepted_ms = int(oldest[0][0].split(b"-")[0])
    return max(0.0, time.time() - accepted_ms / 1000)


def _last_key(topic: str) -> str:
    return f"{tracking_settings.STREAM_KEY}:last:{topic}"


def event_record(*, topic: str, details: dict[str, object]) -> None:
    """Remember when a maintenance step last ran and what it did (drain, retention), for operators."""
    redis_client().set(_last_key(topic), _encoder.encode({"at": time.time(), **details}))


def event_last(*, topic: str) -> dict[str, object] | None:
    value = redis_client().get(_last_key(topic))
    return None if value is None else msgspec.msgpack.decode(value)


def buffer_ensure_group() -> None:
    try:
        redis_client().xgroup_create(
            tracking_settings.STREAM_KEY, tracking_settings.CONSUMER_GROUP, id="0", mkstream=True
        )
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _entries(raw: list[tuple[bytes, dict[bytes, bytes]]]) -> list[BufferEntry]:
    entries = []
    for entry_id, fields in raw:
        if not fields:
            continue  # deleted while pending: nothing left to write
        skip = fields.get(b"s", b"")
        entries.append(
            BufferEntry(
                entry_id=entry_id.decode(),
                dataset_id=int(fields[b"d"]),
                payload=fields[b"p"],
                skip=frozenset(int(p) for p in skip.split(b",")) if skip else frozenset(),
            )
        )
    return entries


def buffer_claim_stale(*, consumer: str, count: int) -> list[BufferEntry]:
    """Entries another (likely dead) worker has held too long, now ours."""
    response = redis_client().xautoclaim(
        tracking_settings.STREAM_KEY,
        tracking_settings.CONSUMER_GROUP,
        consumer,
        min_idle_time=tracking_settings.CLAIM_IDLE_MS,
        start_id="0-0",
        count=count,
    )
    return _entries(response[1])  # Redis 6.2 answers [next, entries]; 7 adds deleted ids


def buffer_read(*, consumer: str, count: int, block_ms: int) -> list[BufferEntry]:
    response = redis_client().xreadgroup(
        tracking_settings.CONSUMER_GROUP,
        consumer,
        {tracking_settings.STREAM_KEY: ">"},
        count=count,
        block=block_ms,
    )
    if not response:
        return []
    return _entries(response[0][1])


def buffer_ack(*, entry_ids: list[str]) -> None:
    """Acknowledge and delete, so the stream's length is the backlog still to write."""
    if not entry_ids:
        return
    pipe = redis_client().pipeline(transaction=True)
    pipe.xack(tracking_settings.STREAM_KEY, tracking_settings.CONSUMER_GROUP, *entry_ids)
    pipe.xdel(tracking_settings.STREAM_KEY, *entry_ids)
    pipe.execute()


def buffer_kick_once(*, within_ms: int, topic: str = "kick") -> bool:
    """True for the first caller in a window: debounces task scheduling (drains, statistics)."""
    return bool(redis_client().set(f"{tracking_settings.STREAM_KEY}:{topic}", b"1", nx=True, px=within_ms))


def worker_heartbeat_record() -> None:
    redis_client().set(f"{tracking_settings.STREAM_KEY}:worker-heartbeat", str(time.time()), ex=60)


def worker_heartbeat_age() -> float | None:
    """Seconds since a worker last ran a heartbeat task, or None if none has lately."""
    value = redis_client().get(f"{tracking_settings.STREAM_KEY}:worker-heartbeat")
    return None if value is None else time.time() - float(value)
