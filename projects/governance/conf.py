"""Typed access to the governance app's settings; their defaults and environment variables are in meauxcloud/settings.py."""

from django.conf import settings as django_settings


class GovernanceSettings:
    @property
    def QUOTA_CACHE_SECONDS(self) -> float:
        """How long a process reuses a project's quota row before reading it again."""
        return django_settings.GOVERNANCE_QUOTA_CACHE_SECONDS

    @property
    def DEFAULT_CONCURRENT_QUERIES(self) -> int:
        """SQL queries a project may run at once when its quota sets none (-1: unlimited)."""
        return django_settings.GOVERNANCE_DEFAULT_CONCURRENT_QUERIES

    @property
    def DELETION_BATCH_ROWS(self) -> int:
        return django_settings.GOVERNANCE_DELETION_BATCH_ROWS

    @property
    def DELETION_BATCHES_PER_RUN(self) -> int:
        return django_settings.GOVERNANCE_DELETION_BATCHES_PER_RUN

    @property
    def LOGIN_MAX_FAILURES(self) -> int:
        return django_settings.GOVERNANCE_LOGIN_MAX_FAILURES

    @property
    def LOGIN_WINDOW_SECONDS(self) -> int:
        return django_settings.GOVERNANCE_LOGIN_WINDOW_SECONDS

    @property
    def AUDIT_SQL_MAX_CHARS(self) -> int:
        return django_settings.GOVERNANCE_AUDIT_SQL_MAX_CHARS


governance_settings = GovernanceSettings()
