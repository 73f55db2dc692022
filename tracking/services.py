"""Writes of the tracking app: accepting batches, draining the buffer, partition upkeep."""

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from meauxcloud.database import database_unavailable
from projects.governance.audit import Actor, actor_current, audit_record
from projects.governance.models import AuditAction, DeletionJob, DeletionKind
from projects.models import Project
from tracking import db
from tracking.columns import DATA_COLUMNS, INDEX_COLUMN
from tracking.conf import tracking_settings
from tracking.ingest import buffer, outage
from tracking.ingest.decode import EPOCH, PointRow, TimeWindow, ValidatedBatch, epoch_us
from tracking.models import DATASET_NAME_RE, Dataset, DeadLetter, DeadLetterResolution, SavedQuery
from tracking.projections import services as projections
from tracking.projections.db import TABLE as PROJECTION_ROWS
from tracking.rollups import services as rollups
from tracking.sql.translate import MAX_QUERY_BYTES

logger = logging.getLogger(__name__)

class DatasetNameInvalid(ValueError):
    pass


def dataset_lookup(*, project: Project, name: str, recent: bool = True) -> Dataset:
    """The project's dataset ``name``, or an unsaved one when it does not exist yet.

    The name is checked before any lookup (a ``%00`` in it was a 500), and nothing is
    created here: ingest saves the dataset only once a batch has a point to store.

    With ``recent``, a copy this process read less than ``LOCAL_TTL_SECONDS`` ago answers
    without a query (meauxcloud/fallback.py): per request, the query and the connection's
    health check cost more web CPU than decoding 250 points. Such a copy may predate a
    deletion, so ``datapoints_accept`` appends it only if the dataset is not marked deleted.
    """
    if not DATASET_NAME_RE.fullmatch(name):
        raise DatasetNameInvalid(
            "Dataset names use letters, digits and underscores, start with a letter or underscore, "
            "and have at most 64 characters."
        )
    if recent:
        copy = outage.dataset_recent(project_id=project.id, name=name)
        if copy is not None:
            return copy
    try:
        dataset = Dataset.objects.filter(project=project, name=name).first()
    except DatabaseError:
        dataset = outage.dataset_recall(project_id=project.id, name=name)
        if dataset is None:
            raise
        return dataset
    if dataset is not None:
        dataset.project = project
        outage.dataset_remember(dataset=dataset)
        return dataset
    return Dataset(project=project, name=name)


def dataset_get_or_create(*, project: Project, name: str) -> Dataset:
    """Analytics Engine creates a dataset on its first write; so do we, with its default projections
    (ready at once: there is nothing to backfill)."""
    dataset = dataset_lookup(project=project, name=name, recent=False)
    if dataset.pk is not None:
        return dataset
    try:
        with transaction.atomic():
            dataset.save()
            projections.projections_defaults_ensure(dataset=dataset)
    except IntegrityError:
        return Dataset.objects.get(project=project, name=name)
    return dataset


def dataset_labels_validate(*, labels: object) -> dict[str, str]:
    """Labels map data columns to names: ``{"blob2": "path", "double1": "duration_ms"}``."""
    if not isinstance(labels, dict):
        raise ValidationError("Labels must be a JSON object of column: name.")
    cleaned: dict[str, str] = {}
    for column, name in labels.items():
        if column not in DATA_COLUMNS:
            raise ValidationError(f"'{column}' is not a column (blob1..blob20, double1..double20, index1).")
        if not isinstance(name, str) or not DATASET_NAME_RE.fullmatch(name):
            raise ValidationError(f"The label of {column} must be a name of letters, digits and underscores.")
        cleaned[column] = name
    if len(set(cleaned.values())) != len(cleaned):
        raise ValidationError("Two columns have the same label.")
    return cleaned


def dataset_update(*, dataset: Dataset, retention_days: int, labels: dict[str, str]) -> Dataset:
    """Change retention and labels; a label change rebuilds the dataset's rollups in the same transaction.

    Labels can move report roles (``{"blob7": "path"}``), which changes how points were
    grouped, so the rollups are recomputed from raw points rather than left stale.
    """
    labels = dataset_labels_validate(labels=labels)
    relabelled = labels != (dataset.labels or {})
    dataset.retention_days = retention_days
    dataset.labels = labels
    dataset.full_clean(exclude=["project"], validate_unique=False)
    with transaction.atomic():
        dataset.save(update_fields=["retention_days", "labels"])
        if relabelled:
            rollups.rollups_rebuild(dataset_id=dataset.id, labels=labels, now=timezone.now())
    return dataset


def dataset_time_window(*, dataset: Dataset, now: datetime) -> TimeWindow:
    now_us = epoch_us(now)
    return TimeWindow(
        now_us=now_us,
        oldest_us=now_us - dataset.retention_days * 86_400_000_000,
        newest_us=now_us + tracking_settings.FUTURE_TOLERANCE_SECONDS * 1_000_000,
    )


@dataclass(frozen=True)
class IngestOutcome:
    accepted: int
    rejected: int
    duplicates: int
    errors: list[dict[str, object]]


def datapoints_accept(*, dataset: Dataset, batch: ValidatedBatch) -> IngestOutcome:
    """Put a validated batch in the durable buffer. Returning means the points will be stored.

    Raises ``buffer.BufferFull`` above the high-water mark and ``redis.RedisError`` when the
    buffer is unreachable; the caller answers 503 and nothing was accepted.
    """
    duplicates = 0
    if batch.rows:
        try:
            _, duplicates = buffer.buffer_append(dataset_id=dataset.id, rows=batch.rows, check_gone=True)
        except buffer.DatasetGone:
            # A copy read before the dataset's deletion: write as after any deletion, into the
            # dataset as PostgreSQL has it now (created anew, as a first write creates it).
            outage.dataset_forget(dataset=dataset)
            dataset = dataset_get_or_create(project=dataset.project, name=dataset.name)
            _, duplicates = buffer.buffer_append(dataset_id=dataset.id, rows=batch.rows)
    return IngestOutcome(
        accepted=len(batch.rows),
        rejected=len(batch.errors),
        duplicates=duplicates,
        errors=[error.as_dict() for error in batch.errors],
    )


def _from_us(ts_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=ts_us)


@dataclass(frozen=True)
class DrainResult:
    entries: int
    points: int
    dead_letters: int


def _copy_rows(entries: list[buffer.BufferEntry]) -> tuple[list[list[object]], set[date], int, int]:
    """COPY rows padded to the batch's widest point, with the days they fall on.

    This runs once per stored point, so it does as little per row as it can: the server
    stamps a whole request with one timestamp, so each distinct timestamp becomes a
    datetime once, and padding lists are built once per width.
    """
    blob_count = double_count = 0
    for entry in entries:
        for row in entry.rows:
            if len(row.blobs) > blob_count:
                blob_count = len(row.blobs)
            if len(row.doubles) > double_count:
                double_count = len(row.doubles)
    blob_padding = [[None] * (blob_count - width) for width in range(blob_count + 1)]
    double_padding = [[None] * (double_count - width) for width in range(double_count + 1)]
    moments: dict[int, datetime] = {}
    flat: list[list[object]] = []
    append = flat.append
    for entry in entries:
        dataset_id = entry.dataset_id
        for row in entry.rows:
            moment = moments.get(row.ts_us)
            if moment is None:
                moment = moments[row.ts_us] = _from_us(row.ts_us)
            blobs, doubles = row.blobs, row.doubles
            append([dataset_id, moment, row.index1, row.id, *blobs, *blob_padding[len(blobs)],
                    *doubles, *double_padding[len(doubles)]])
    return flat, {moment.date() for moment in moments.values()}, blob_count, double_count


def _write_entries(entries: list[buffer.BufferEntry], *, known_partitions: set[str]) -> int:
    """Store entries in one transaction with their ledger rows; returns the points written."""
    entry_ids = [entry.entry_id for entry in entries]
    rows, days, blob_count, double_count = _copy_rows(entries)
    missing = {day for day in days if db.partition_name(day) not in known_partitions}
    for day in sorted(missing):
        with transaction.atomic():
            db.partition_create(day)
        known_partitions.add(db.partition_name(day))
    with transaction.atomic():
        done = db.ledger_find(entry_ids=entry_ids)
        if done:
            entries = [entry for entry in entries if entry.entry_id not in done]
            rows, _, blob_count, double_count = _copy_rows(entries)
        if entries:
            db.datapoint_copy(rows=rows, blob_count=blob_count, double_count=double_count)
            specs = projections.projections_lock_for_batch(dataset_ids=[entry.dataset_id for entry in entries])
            staged = rollups.rollups_stage(
                rows=rows,
                blob_count=blob_count,
                double_count=double_count,
                also_stage=projections.projections_columns(specs=specs),
            )
            projections.projections_apply(specs=specs)
            rollups.rollups_apply_staged(staged=staged)
            db.ledger_record(entries=[(entry.entry_id, len(entry.rows)) for entry in entries])
            db.dataset_touch(dataset_ids=sorted({e.dataset_id for e in entries}), at=timezone.now())
    return len(rows) if entries else 0


def _dead_letter(entry: buffer.BufferEntry, error: BaseException) -> None:
    dataset_id = entry.dataset_id if Dataset.objects.filter(pk=entry.dataset_id).exists() else None
    DeadLetter.objects.get_or_create(
        entry_id=entry.entry_id,
        defaults={
            "dataset_id": dataset_id,
            "payload": entry.payload,
            "skip": sorted(entry.skip),
            "error": f"{type(error).__name__}: {error}",
        },
    )
    logger.error("dead-lettered buffer entry %s: %s", entry.entry_id, error)


def _groups(entries: list[buffer.BufferEntry], max_points: int) -> Iterator[list[buffer.BufferEntry]]:
    group: list[buffer.BufferEntry] = []
    size = 0
    for entry in entries:
        try:
            points = len(entry.rows)
        except msgspec.DecodeError:
            points = 1  # poison: fails in its write and is isolated there
        if group and size + points > max_points:
            yield group
            group, size = [], 0
        group.append(entry)
        size += points
    if group:
        yield group


def entries_store(*, entries: list[buffer.BufferEntry], known_partitions: set[str]) -> DrainResult:
    """Write entries and acknowledge them; isolate and dead-letter any that fail on their own.

    Transient database errors (down, read-only, out of connections) propagate without an
    acknowledgement: the entries stay pending and are claimed again later.
    """
    points = dead = 0
    for group in _groups(entries, tracking_settings.DRAIN_BATCH_POINTS):
        try:
            points += _write_entries(group, known_partitions=known_partitions)
        except Exception as error:
            if database_unavailable(error):
                raise
            for entry in group:
                try:
                    points += _write_entries([entry], known_partitions=known_partitions)
                except Exception as single_error:
                    if database_unavailable(single_error):
                        raise
                    _dead_letter(entry, single_error)
                    dead += 1
        buffer.buffer_ack(entry_ids=[entry.entry_id for entry in group])
    return DrainResult(entries=len(entries), points=points, dead_letters=dead)


def buffer_drain(*, time_budget: float | None = None, block_ms: int = 200) -> DrainResult:
    """Move buffered batches into PostgreSQL until the buffer is empty or the budget is spent.

    Every ``DRAIN_STATISTICS_SECONDS`` between batches it also refreshes planner statistics
    (ANALYZE only, bounded, skipped while another refresher holds the lock). A bulk load keeps
    every worker process draining for its whole budget, and the refresh task the drains ask for
    waited in the queue behind them: on the 1M-point load through the API nothing was analyzed
    until the load had ended, and the first queries after it were planned from no statistics.
    The refresh runs beside the drain (``_drain_statistics_start``), which goes on storing.
    """
    budget = tracking_settings.DRAIN_TIME_BUDGET_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    statistics_due = time.monotonic() + tracking_settings.DRAIN_STATISTICS_SECONDS
    refresher: threading.Thread | None = None
    consumer = buffer.consumer_name()
    buffer.buffer_ensure_group()
    known_partitions = set(db.partition_list())
    total_entries = total_points = total_dead = 0
    count = max(1, tracking_settings.DRAIN_BATCH_POINTS // 250)
    try:
        while time.monotonic() < deadline:
            entries = buffer.buffer_claim_stale(consumer=consumer, count=count)
            if not entries:
                entries = buffer.buffer_read(consumer=consumer, count=count, block_ms=block_ms)
            if not entries:
                break
            result = entries_store(entries=entries, known_partitions=known_partitions)
            total_entries += result.entries
            total_points += result.points
            total_dead += result.dead_letters
            idle = refresher is None or not refresher.is_alive()
            if total_points and idle and time.monotonic() >= statistics_due:
                db.statistics_publish()
                refresher = _drain_statistics_start()
                statistics_due = time.monotonic() + tracking_settings.DRAIN_STATISTICS_SECONDS
    finally:
        if refresher is not None:
            refresher.join()
    if total_points:
        db.statistics_publish()
    if total_entries:
        buffer.event_record(topic="drain", details={"entries": total_entries, "points": total_points, "dead_letters": total_dead})
    return DrainResult(entries=total_entries, points=total_points, dead_letters=total_dead)


def _drain_statistics_start() -> threading.Thread:
    """A drain's statistics refresh: on a connection of its own beside the drain, and only for
    tables that changed by ``DRAIN_ANALYZE_FRACTION`` (all their rows, by default).

    Run between two batches, an ANALYZE stopped that worker's drain for as long as it took: a
    day partition and the parent 1.4 s under bench.ingest's visibility load (30,000 points/s),
    and the parent alone 8.6 s at 10M points, which samples every partition again. ANALYZE takes
    no lock that inserts wait for, so the drain goes on storing, and waits for the refresh
    before it returns, so none outlives the task that started it. The drain's refresh is there
    so that a bulk load is never planned from statistics of a much smaller table; PostgreSQL
    scales a table's row estimates to its current size, and the refresh task, which beat runs
    every minute, keeps ``ANALYZE_FRACTION``. With that share at 10% in the drain too, the ANALYZEs
    of a growing day took the two cores the drains needed: under the visibility load the probes'
    p99 was 1.1-1.8 s, with a whole-table share 0.5-1.0 s (bench.ingest's visibility alone,
    fresh databases, several runs each).
    """

    def refresh() -> None:
        try:
            drain = tracking_settings.DRAIN_ANALYZE_FRACTION
            statistics_refresh(
                fraction=drain, parent_fraction=max(drain, tracking_settings.PARENT_ANALYZE_FRACTION), vacuum=False, skip_locked=True
            )
        except Exception:
            logger.exception("the drain's statistics refresh failed")
        finally:
            connection.close()

    thread = threading.Thread(target=refresh, name="drain-statistics", daemon=True)
    thread.start()
    return thread


def partitions_ensure(*, today: date, days_ahead: int | None = None) -> list[str]:
    """Create the partitions from the oldest retained day through ``days_ahead`` days ahead."""
    ahead = tracking_settings.PARTITION_DAYS_AHEAD if days_ahead is None else days_ahead
    existing = set(db.partition_list())
    created = []
    for offset in range(-1, ahead + 1):
        day = today + timedelta(days=offset)
        if db.partition_name(day) not in existing:
            with transaction.atomic():
                db.partition_create(day)
            created.append(db.partition_name(day))
    return created


def _longest_retention_days() -> int:
    return Dataset.objects.aggregate(longest=Max("retention_days"))["longest"] or 92


@dataclass(frozen=True)
class RetentionResult:
    dropped_partitions: list[str]
    deleted_rows: int
    finished: bool


def retention_apply(*, now: datetime, max_batches: int = 50) -> RetentionResult:
    """Drop partitions past every dataset's retention; trim shorter-lived datasets in bounded batches.

    Resumable: each call does at most ``max_batches`` deletes and reports whether work is left.
    """
    horizon = (now - timedelta(days=_longest_retention_days())).date()
    dropped = []
    partitions = db.partition_list()
    for name in partitions:
        if db.partition_day(name) + timedelta(days=1) <= horizon:
            with transaction.atomic():
                projections.projections_days_lock()
                db.partition_drop(name)
                day = db.partition_day(name)
                projections.projections_day_dropped(day_start=datetime(day.year, day.month, day.day, tzinfo=UTC))
            dropped.append(name)
    remaining = [name for name in partitions if name not in dropped]
    deleted = 0
    batches = 0
    for dataset in Dataset.objects.order_by("id"):
        cutoff = now - timedelta(days=dataset.retention_days)
        for name in remaining:
            if db.partition_day(name) >= cutoff.date() + timedelta(days=1):
                continue
            while True:
                if batches >= max_batches:
                    return RetentionResult(dropped, deleted, finished=False)
                with transaction.atomic():
                    touched: set[datetime] = set()
                    removed = db.datapoint_delete_batch(
                        dataset_id=dataset.id,
                        partition=name,
                        before=cutoff,
                        limit=tracking_settings.RETENTION_DELETE_BATCH,
                        touched=touched,
                    )
                    projections.projections_points_deleted(dataset_id=dataset.id, timestamps=touched)
                batches += 1
                deleted += removed
                if removed < tracking_settings.RETENTION_DELETE_BATCH:
                    break
    return RetentionResult(dropped, deleted, finished=True)


def retention_run(*, now: datetime) -> RetentionResult:
    """One bounded retention pass and the ledger's pruning, remembered for the admin's pipeline panel."""
    result = retention_apply(now=now)
    ledger_prune(now=now)
    buffer.event_record(
        topic="retention",
        details={"dropped_partitions": len(result.dropped_partitions), "deleted_rows": result.deleted_rows, "finished": result.finished},
    )
    return result


def ledger_prune(*, now: datetime) -> int:
    """Ledger rows only matter while their entry could still be redelivered."""
    return db.ledger_prune(before=now - timedelta(days=7), limit=100_000)


#: Projections a statistics refresh measures when it analyzed their rows (``statistics_refresh``): a few
#: milliseconds each.
REFRESH_MEASURES = 50


def statistics_refresh(
    *,
    max_tables: int | None = None,
    fraction: float | None = None,
    parent_fraction: float | None = None,
    vacuum: bool = True,
    skip_locked: bool = False,
    wait: bool = False,
) -> list[str]:
    """ANALYZE the partitions, rollup tiers and partitioned parent whose statistics are stale
    (or, for a partition, have never seen one of its datasets: ``db.partitions_with_unseen_datasets``),
    then VACUUM the tables autovacuum leaves alone.

    The product keeps its own statistics: autovacuum never analyzes a partitioned parent,
    and some installations run without autovacuum at all, so a dashboard query right after
    a bulk load would be planned from empty statistics, and the dead rows of upserted rollup
    tiers and compacted projection rows would stay in every scan (``db.vacuum_due``). When the
    projections' rows changed enough to be analyzed, their rows per bucket are measured again too
    (``projections.projections_measure``, rows only: the points they stand for are summed from the rows
    themselves, which a drain should not wait for): the SQL planner's own statistic, so a dataset loaded
    through the API minutes ago is not sized by a quarter until beat's next measure. At most
    ``REFRESH_MEASURES`` of them, the never measured first: a drain waits for its refresh, and beat
    measures the rest. Bounded to
    ``max_tables`` per call, ANALYZEs first: with the VACUUMs of the upserted tiers first, the
    seed queries right after a bulk load through the API were planned from older statistics
    (three of them 4-8x chdb instead of 0.8-2.5x, docs/benchmarks.md). One analyzer and one
    vacuumer at a time, each under its own advisory lock, so a long VACUUM never holds back the
    next run's ANALYZEs; neither blocks inserts. Call outside a transaction. Returns the tables
    analyzed (not those ``skip_locked`` skipped), then those vacuumed. ``vacuum=False`` only
    analyzes: a drain refreshing between its batches leaves the VACUUMs, which may take long, to
    the refresh task; ``skip_locked`` skips a table someone else holds a conflicting lock on (a
    VACUUM outside the product), so the drain never waits for one; ``wait`` waits for a running
    analyzer to finish rather than leave the tables to it (it may have listed them before the
    caller's load committed).
    ``fraction`` overrides ``ANALYZE_FRACTION``, the share of a table that must have changed, and
    ``parent_fraction`` ``PARENT_ANALYZE_FRACTION``, the partitioned parent's: its ANALYZE analyzes
    every partition again (2.6-3.0 s at 1M points over 30 days here, 83 ms for one 33,000-row
    day), so at 10% a table growing from N to 2N paid about seven passes over all of it, and the
    last one often came as a load ended, beside the first queries after it. A partition, analyzed
    on its own at ``fraction``, carries the estimates of a query's WHERE; the parent's statistics
    count for what is estimated above its partitions (groups, joins).
    """
    limit = tracking_settings.ANALYZE_MAX_TABLES if max_tables is None else max_tables
    rows = tracking_settings.ANALYZE_MIN_CHANGES
    fraction = tracking_settings.ANALYZE_FRACTION if fraction is None else fraction
    parent_fraction = tracking_settings.PARENT_ANALYZE_FRACTION if parent_fraction is None else parent_fraction
    stale: list[str] = []
    analyzed: list[str] = []
    if db.statistics_lock_take(db.ANALYZE_LOCK, wait=wait):
        try:
            stale = db.statistics_stale(min_changes=rows, fraction=fraction, parent_fraction=parent_fraction, limit=limit)
            if len(stale) < limit:
                unseen = db.partitions_with_unseen_datasets(min_changes=rows, limit=limit)
                stale += [name for name in unseen if name not in stale][: limit - len(stale)]
            if db.TABLE in stale:
                # ANALYZE of the partitioned parent also analyzes every partition.
                stale = [name for name in stale if not name.startswith(db.PARTITION_PREFIX)]
            analyzed = [name for name in stale if db.relation_analyze(name, skip_locked=skip_locked)]
            if PROJECTION_ROWS in analyzed:
                now = timezone.now()
                projections.projections_measure(now=now, due_before=now, max_projections=REFRESH_MEASURES, points=False)
        finally:
            db.statistics_lock_release(db.ANALYZE_LOCK)
    vacuumed: list[str] = []
    if vacuum and len(stale) < limit and db.statistics_lock_take(db.VACUUM_LOCK):
        try:
            vacuumed = db.vacuum_due(min_dead=rows, fraction=fraction, limit=limit - len(stale))
            for name in vacuumed:
                db.relation_vacuum(name)
        finally:
            db.statistics_lock_release(db.VACUUM_LOCK)
    return analyzed + vacuumed


def points_bulk_loaded(*, dataset_id: int) -> list[str]:
    """What a load that wrote a dataset's points around the drain (COPY, a restore) leaves to
    do: planner statistics first, then the dataset's projections rebuilt from its points.

    The drain does both as it stores points; a COPY does neither, and until beat's next refresh
    (up to a minute) both the backfill's reads and the queries after it were planned from the
    statistics of before: at 10M points S2 took 6.04x chdb before a manual ANALYZE and 0.24x
    after. Unbounded, like the rebuild, for loads and commands; it stops once a run finds only
    tables it has analyzed already (concurrent drains keep today's partition changing). The
    parent is held to the partitions' share here: a load finished by hand is when its ANALYZE
    pays. Returns the tables analyzed.
    """
    db.statistics_publish()
    analyzed: list[str] = []
    share = tracking_settings.ANALYZE_FRACTION
    while (stale := statistics_refresh(parent_fraction=share, vacuum=False, wait=True)) and not set(stale) <= set(analyzed):
        analyzed += [name for name in stale if name not in analyzed]
    projections.projections_rebuild(dataset_id=dataset_id)
    return analyzed


def storage_estimate_refresh() -> None:
    """Recompute every dataset's estimated bytes on disk (admin's storage figures)."""
    db.storage_refresh()


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: bool
    points: int
    error: str = ""


def _stream_position(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def _positions_deleted_since(*, letter: DeadLetter) -> frozenset[int]:
    """Positions of the letter's points that a filter deletion asked after the entry was accepted.

    Had the entry been stored, that job would have deleted them (it waits for every entry
    accepted before it), so a replay must not bring them back. A job asked after the entry was
    dead-lettered is later on the database's clock; one asked while the entry was still in
    the buffer saw it there (its marker is at or past the entry). Matched as the job's SQL
    matches: ``column = value``, an unset blob never equal.
    """
    if letter.dataset_id is None:
        return frozenset()
    filters = [
        (job.column, job.value)
        for job in DeletionJob.objects.filter(dataset_id_value=letter.dataset_id, kind=DeletionKind.FILTER)
        if job.created_at >= letter.created_at or _stream_position(job.buffer_marker) >= _stream_position(letter.entry_id)
    ]
    if not filters:
        return frozenset()
    rows = buffer.BufferEntry(entry_id=letter.entry_id, dataset_id=letter.dataset_id, payload=bytes(letter.payload), skip=frozenset()).rows

    def value_of(row: PointRow, column: str) -> str | None:
        if column == INDEX_COLUMN:
            return row.index1
        position = int(column.removeprefix("blob")) - 1
        return row.blobs[position] if position < len(row.blobs) else None

    return frozenset(position for position, row in enumerate(rows) if any(value_of(row, column) == value for column, value in filters))


def dead_letter_replay(*, dead_letter_id: int, actor: Actor) -> ReplayOutcome:
    """Write a dead letter's points through the drain's own path, once its cause is fixed.

    Exactly once, twice over: the row is locked and a resolved one is left alone, and the
    write records the original entry id in the ledger in the same transaction, so an entry
    already stored (by the drain or an earlier replay) stores nothing again. Still failing,
    it stays a dead letter with the new error.
    """
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update(of=("self",)).select_related("dataset__project").filter(pk=dead_letter_id).first()
        if letter is None or letter.resolution:
            return ReplayOutcome(replayed=False, points=0, error="" if letter else "no such dead letter")
        if letter.dataset is None:
            return ReplayOutcome(replayed=False, points=0, error="its dataset was deleted")
        entry = buffer.BufferEntry(
            entry_id=letter.entry_id, dataset_id=letter.dataset.id, payload=bytes(letter.payload),
            skip=frozenset(letter.skip) | _positions_deleted_since(letter=letter),
        )
        try:
            with transaction.atomic():
                points = _write_entries([entry], known_partitions=set(db.partition_list()))
        except Exception as error:
            if database_unavailable(error):
                raise
            letter.error = f"{type(error).__name__}: {error}"
            letter.save(update_fields=["error"])
            return ReplayOutcome(replayed=False, points=0, error=letter.error)
        letter.resolution = DeadLetterResolution.REPLAYED
        letter.resolved_at = timezone.now()
        letter.resolved_by = actor.label
        letter.replayed_points = points
        letter.save(update_fields=["resolution", "resolved_at", "resolved_by", "replayed_points"])
        audit_record(
            project=letter.dataset.project,
            action=AuditAction.DEAD_LETTER_REPLAY,
            target=letter.entry_id,
            details={"dataset": letter.dataset.name, "points": points},
            actor=actor,
        )
    return ReplayOutcome(replayed=True, points=points)


def dead_letter_discard(*, dead_letter: DeadLetter, reason: str) -> bool:
    """Give up on a dead letter, with the reason in the audit log; False if it was already resolved."""
    actor = actor_current()
    with transaction.atomic():
        updated = DeadLetter.objects.filter(pk=dead_letter.pk, resolution="").update(
            resolution=DeadLetterResolution.DISCARDED, resolved_at=timezone.now(), resolved_by=actor.label, resolution_note=reason
        )
        if updated:
            audit_record(
                project=dead_letter.dataset.project if dead_letter.dataset else None,
                action=AuditAction.DEAD_LETTER_DISCARD,
                target=dead_letter.entry_id,
                details={"reason": reason, "error": dead_letter.error[:500]},
                actor=actor,
            )
    return bool(updated)


def dead_letters_erase(*, dataset: Dataset) -> int:
    """The dataset is being deleted: its dead letters lose their points, and keep the record.

    A deleted dataset's data must not outlive it in a payload nobody can replay any more; the
    entry id, the error and what became of the entry stay for the operator. Open ones are
    resolved as discarded, so none waits for a replay that cannot happen.
    """
    now = timezone.now()
    letters = DeadLetter.objects.filter(dataset=dataset)
    letters.filter(resolution="").update(
        resolution=DeadLetterResolution.DISCARDED, resolved_at=now, resolved_by="data deletion",
        resolution_note=f"dataset {dataset.name} deleted: its points were erased",
    )
    return letters.update(payload=b"", skip=[])


def dead_letter_points(*, dead_letter: DeadLetter, limit: int) -> list[dict[str, object]]:
    """The first points of a dead letter as they were buffered, for an operator to read."""
    if not dead_letter.payload:
        return []
    try:
        rows = buffer.BufferEntry(
            entry_id=dead_letter.entry_id, dataset_id=dead_letter.dataset_id or 0,
            payload=bytes(dead_letter.payload), skip=frozenset(dead_letter.skip),
        ).rows
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        return [{"undecodable": f"{type(error).__name__}: {error}"}]
    return [msgspec.to_builtins(row) for row in rows[:limit]]


class SavedQueryInvalid(ValueError):
    pass


def saved_query_save(*, project: Project, user: Any, name: str, sql: str) -> SavedQuery:
    """Create or replace the project's query of that name; the explorer's owners and admins call it."""
    name, sql = name.strip(), sql.strip()
    if not name or len(name) > 120:
        raise SavedQueryInvalid("name: give the query a name of 1 to 120 characters")
    if not sql:
        raise SavedQueryInvalid("sql: the query is empty")
    if len(sql.encode("utf-8")) > MAX_QUERY_BYTES:
        raise SavedQueryInvalid(f"sql: a query is at most {MAX_QUERY_BYTES} bytes")
    saved, created = SavedQuery.objects.update_or_create(
        project=project, name=name, defaults={"sql": sql, "created_by": user}
    )
    audit_record(
        project=project,
        action=AuditAction.SAVED_QUERY,
        target=name,
        details={"sql": sql[:2000], "created": created},
    )
    return saved


def saved_query_delete(*, project: Project, saved_query_id: int) -> None:
    deleted = SavedQuery.objects.filter(project=project, id=saved_query_id).first()
    if deleted is None:
        return
    deleted.delete()
    audit_record(project=project, action=AuditAction.SAVED_QUERY, target=deleted.name, details={"deleted": True})
