"""Typed access to the alerts settings; settings.py reads them from the environment."""

from django.conf import settings as django_settings


class AlertsSettings:
    @property
    def EVALUATION_SECONDS(self) -> float:
        """How often beat evaluates every budget and rule."""
        return django_settings.ALERTS_EVALUATION_SECONDS

    @property
    def DELIVERY_TIMEOUT_SECONDS(self) -> float:
        return django_settings.ALERTS_DELIVERY_TIMEOUT_SECONDS

    @property
    def DELIVERY_RETRY_SECONDS(self) -> float:
        """First retry delay; each further retry waits twice as long (at most an hour)."""
        return django_settings.ALERTS_DELIVERY_RETRY_SECONDS

    @property
    def DELIVERY_GIVE_UP_SECONDS(self) -> int:
        """A delivery still failing this long after its event is marked failed."""
        return django_settings.ALERTS_DELIVERY_GIVE_UP_SECONDS

    @property
    def ALLOW_PRIVATE_URLS(self) -> bool:
        """Allow webhooks to loopback and private networks (development and tests only)."""
        return django_settings.ALERTS_ALLOW_PRIVATE_URLS

    @property
    def FROM_EMAIL(self) -> str:
        return django_settings.DEFAULT_FROM_EMAIL


alerts_settings = AlertsSettings()
