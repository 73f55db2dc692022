"""Typed access to the tracking app's settings; their defaults and environment variables are in meauxcloud/settings.py."""

from django.conf import settings as django_settings


class TrackingSettings:
    @property
    def CHECK_REDIS(self) -> bool:
        """Refuse to start when the ingest Redis may evict keys or persists nothing."""
        return django_settings.TRACKING_CHECK_REDIS

    @property
    def STREAM_KEY(self) -> str:
        return django_settings.TRACKING_STREAM_KEY

    @property
    def CONSUMER_GROUP(self) -> str:
        return django_settings.TRACKING_CONSUMER_GROUP

    @property
    def DRAIN_QUEUE(self) -> str:
        """Celery queue for drain kicks; unset, Celery's default queue."""
        return django_settings.TRACKING_DRAIN_QUEUE or django_settings.CELERY_TASK_DEFAULT_QUEUE

    @property
    def BUFFER_HIGH_WATER(self) -> int:
        """Backlog (buffer entries) above which ingest answers 503 instead of accepting."""
        return django_settings.TRACKING_BUFFER_HIGH_WATER

    @property
    def MAX_POINTS_PER_REQUEST(self) -> int:
        return django_settings.TRACKING_MAX_POINTS_PER_REQUEST

    @property
    def MAX_BODY_BYTES(self) -> int:
        """Cap on a request body, both as sent and after gzip is undone."""
        return django_settings.TRACKING_MAX_BODY_BYTES

    @property
    def DEDUP_WINDOW_SECONDS(self) -> int:
        return django_settings.TRACKING_DEDUP_WINDOW_SECONDS

    @property
    def DRAIN_BATCH_POINTS(self) -> int:
        return django_settings.TRACKING_DRAIN_BATCH_POINTS

    @property
    def DRAIN_TIME_BUDGET_SECONDS(self) -> float:
        return django_settings.TRACKING_DRAIN_TIME_BUDGET_SECONDS

    @property
    def DRAIN_STATISTICS_SECONDS(self) -> float:
        """How often a busy drain refreshes planner statistics between its batches (``buffer_drain``)."""
        return django_settings.TRACKING_DRAIN_STATISTICS_SECONDS

    @property
    def DRAIN_ANALYZE_FRACTION(self) -> float:
        """The share of a table that must have changed before a drain analyzes it; the refresh
        task keeps ``ANALYZE_FRACTION``."""
        return django_settings.TRACKING_DRAIN_ANALYZE_FRACTION

    @property
    def CLAIM_IDLE_MS(self) -> int:
        """How long an entry may sit unacknowledged before another worker takes it over."""
        return django_settings.TRACKING_CLAIM_IDLE_MS

    @property
    def PARTITION_DAYS_AHEAD(self) -> int:
        """Daily partitions beat creates ahead of today (``tracking.checks.check_partitions_ahead``)."""
        return django_settings.TRACKING_PARTITION_DAYS_AHEAD

    @property
    def FUTURE_TOLERANCE_SECONDS(self) -> int:
        return django_settings.TRACKING_FUTURE_TOLERANCE_SECONDS

    @property
    def STRICT_DURABILITY(self) -> bool:
        """Answer 202 only once the batch is fsynced (WAITAOF on Redis ≥ 7.2, else appendfsync always)."""
        return django_settings.TRACKING_STRICT_DURABILITY

    @property
    def STRICT_DURABILITY_TIMEOUT_MS(self) -> int:
        return django_settings.TRACKING_STRICT_DURABILITY_TIMEOUT_MS

    @property
    def RETENTION_DELETE_BATCH(self) -> int:
        return django_settings.TRACKING_RETENTION_DELETE_BATCH

    @property
    def ANALYZE_MIN_CHANGES(self) -> int:
        """Rows changed since a table's last ANALYZE before its statistics count as stale."""
        return django_settings.TRACKING_ANALYZE_MIN_CHANGES

    @property
    def ANALYZE_FRACTION(self) -> float:
        """Share of a table's rows that must have changed, as autovacuum's analyze scale factor."""
        return django_settings.TRACKING_ANALYZE_FRACTION

    @property
    def PARENT_ANALYZE_FRACTION(self) -> float:
        """Share by which the partitioned parent's rows must have grown or shrunk since its last ANALYZE,
        which analyzes every partition again (``statistics_refresh``)."""
        return django_settings.TRACKING_PARENT_ANALYZE_FRACTION

    @property
    def ANALYZE_MAX_TABLES(self) -> int:
        """Tables analyzed per run: bounds the work, the rest waits for the next run."""
        return django_settings.TRACKING_ANALYZE_MAX_TABLES

    @property
    def SQL_STATEMENT_TIMEOUT_MS(self) -> int:
        return django_settings.SQL_STATEMENT_TIMEOUT_MS

    @property
    def SQL_WORK_MEM(self) -> str:
        return django_settings.SQL_WORK_MEM

    @property
    def SQL_MAX_ROWS(self) -> int:
        return django_settings.SQL_MAX_ROWS

    @property
    def SQL_MAX_RESULT_BYTES(self) -> int:
        return django_settings.SQL_MAX_RESULT_BYTES

    @property
    def SQL_MAX_AGGREGATE_BYTES(self) -> int:
        """Bytes one query may feed to topK, groupArray and quantileExactWeighted (tracking.sql.compiler)."""
        return django_settings.SQL_MAX_AGGREGATE_BYTES

    @property
    def SQL_MAX_CONCURRENT(self) -> int:
        """SQL queries running at once across the installation (tracking.sql.pool)."""
        return django_settings.SQL_MAX_CONCURRENT

    @property
    def SQL_PROCESS_CONCURRENCY(self) -> int:
        """SQL queries running at once in one web process; keep it below the server's threads."""
        return django_settings.SQL_PROCESS_CONCURRENCY


tracking_settings = TrackingSettings()
