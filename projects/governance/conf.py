"""Typed access to the governance app's settings, with their defaults in one place."""

from django.conf import settings as django_settings


class GovernanceSettings:
    @property
    def QUOTA_CACHE_SECONDS(self) -> float:
        """How long a process reuses a project's quota row before reading it again."""
        return getattr(django_settings, "GOVERNANCE_QUOTA_CACHE_SECONDS", 5.0)

    @property
    def QUERY_LEASE_SECONDS(self) -> int:
        """A concurrent-query slot a crashed process never released frees itself after this."""
        return getattr(django_settings, "GOVERNANCE_QUERY_LEASE_SECONDS", 120)

    @property
    def DELETION_BATCH_ROWS(self) -> int:
        return getattr(django_settings, "GOVERNANCE_DELETION_BATCH_ROWS", 5_000)

    @property
    def DELETION_BATCHES_PER_RUN(self) -> int:
        return getattr(django_settings, "GOVERNANCE_DELETION_BATCHES_PER_RUN", 40)

    @property
    def LOGIN_MAX_FAILURES(self) -> int:
        return getattr(django_settings, "GOVERNANCE_LOGIN_MAX_FAILURES", 5)

    @property
    def LOGIN_WINDOW_SECONDS(self) -> int:
        return getattr(django_settings, "GOVERNANCE_LOGIN_WINDOW_SECONDS", 900)

    @property
    def AUDIT_SQL_MAX_CHARS(self) -> int:
        return getattr(django_settings, "GOVERNANCE_AUDIT_SQL_MAX_CHARS", 10_000)


governance_settings = GovernanceSettings()
