"""Typed access to the tracking app's settings, with their defaults in one place."""

from django.conf import settings as django_settings


class TrackingSettings:
    @property
    def STREAM_KEY(self) -> str:
        return getattr(django_settings, "TRACKING_STREAM_KEY", "meauxcloud:ingest")

    @property
    def CONSUMER_GROUP(self) -> str:
        return getattr(django_settings, "TRACKING_CONSUMER_GROUP", "writers")

    @property
    def DRAIN_QUEUE(self) -> str | None:
        """Celery queue for drain kicks; None routes to the default queue."""
        return getattr(django_settings, "TRACKING_DRAIN_QUEUE", None)

    @property
    def BUFFER_HIGH_WATER(self) -> int:
        """Backlog (buffer entries) above which ingest answers 503 instead of accepting."""
        return getattr(django_settings, "TRACKING_BUFFER_HIGH_WATER", 50_000)

    @property
    def MAX_POINTS_PER_REQUEST(self) -> int:
        return getattr(django_settings, "TRACKING_MAX_POINTS_PER_REQUEST", 10_000)

    @property
    def MAX_BODY_BYTES(self) -> int:
        """Cap on a request body, both as sent and after gzip is undone."""
        return getattr(django_settings, "TRACKING_MAX_BODY_BYTES", 5 * 1024 * 1024)

    @property
    def DEDUP_WINDOW_SECONDS(self) -> int:
        return getattr(django_settings, "TRACKING_DEDUP_WINDOW_SECONDS", 86_400)

    @property
    def DRAIN_BATCH_POINTS(self) -> int:
        return getattr(django_settings, "TRACKING_DRAIN_BATCH_POINTS", 20_000)

    @property
    def DRAIN_TIME_BUDGET_SECONDS(self) -> float:
        return getattr(django_settings, "TRACKING_DRAIN_TIME_BUDGET_SECONDS", 20.0)

    @property
    def CLAIM_IDLE_MS(self) -> int:
        """How long an entry may sit unacknowledged before another worker takes it over."""
        return getattr(django_settings, "TRACKING_CLAIM_IDLE_MS", 30_000)

    @property
    def MAX_DELIVERIES(self) -> int:
        return getattr(django_settings, "TRACKING_MAX_DELIVERIES", 5)

    @property
    def PARTITION_DAYS_AHEAD(self) -> int:
        return getattr(django_settings, "TRACKING_PARTITION_DAYS_AHEAD", 7)

    @property
    def FUTURE_TOLERANCE_SECONDS(self) -> int:
        return getattr(django_settings, "TRACKING_FUTURE_TOLERANCE_SECONDS", 86_400)

    @property
    def STRICT_DURABILITY(self) -> bool:
        """Answer 202 only once the batch is fsynced (WAITAOF on Redis ≥ 7.2, else appendfsync always)."""
        return getattr(django_settings, "TRACKING_STRICT_DURABILITY", False)

    @property
    def STRICT_DURABILITY_TIMEOUT_MS(self) -> int:
        return getattr(django_settings, "TRACKING_STRICT_DURABILITY_TIMEOUT_MS", 1_000)

    @property
    def RETENTION_DELETE_BATCH(self) -> int:
        return getattr(django_settings, "TRACKING_RETENTION_DELETE_BATCH", 10_000)

    @property
    def ANALYZE_MIN_CHANGES(self) -> int:
        """Rows changed since a table's last ANALYZE before its statistics count as stale."""
        return getattr(django_settings, "TRACKING_ANALYZE_MIN_CHANGES", 1_000)

    @property
    def ANALYZE_FRACTION(self) -> float:
        """Share of a table's rows that must have changed, as autovacuum's analyze scale factor."""
        return getattr(django_settings, "TRACKING_ANALYZE_FRACTION", 0.1)

    @property
    def ANALYZE_MAX_TABLES(self) -> int:
        """Tables analyzed per run: bounds the work, the rest waits for the next run."""
        return getattr(django_settings, "TRACKING_ANALYZE_MAX_TABLES", 4)

    @property
    def SQL_STATEMENT_TIMEOUT_MS(self) -> int:
        return getattr(django_settings, "SQL_STATEMENT_TIMEOUT_MS", 10_000)

    @property
    def SQL_WORK_MEM(self) -> str:
        return getattr(django_settings, "SQL_WORK_MEM", "32MB")

    @property
    def SQL_MAX_ROWS(self) -> int:
        return getattr(django_settings, "SQL_MAX_ROWS", 100_000)

    @property
    def SQL_MAX_RESULT_BYTES(self) -> int:
        return getattr(django_settings, "SQL_MAX_RESULT_BYTES", 64 * 1024 * 1024)


tracking_settings = TrackingSettings()
