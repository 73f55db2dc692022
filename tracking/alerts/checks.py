"""System checks: a production deployment should not send webhooks into its own network."""

from typing import Any

from django.conf import settings
from django.core import checks

from tracking.alerts.conf import alerts_settings


@checks.register("alerts", deploy=True)
def check_private_urls(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if alerts_settings.ALLOW_PRIVATE_URLS and not settings.DEBUG:
        return [
            checks.Warning(
                "ALERTS_ALLOW_PRIVATE_URLS is on: webhooks may reach loopback and private networks (SSRF).",
                hint="Unset it in production; make run sets it for local receivers.",
                id="alerts.W001",
            )
        ]
    return []
