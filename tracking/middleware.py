"""Dogfooding: the platform's own requests, tracked by its own client into a project of its own.

Enabled by ``MEAUXCLOUD_DOGFOOD_URL`` and ``MEAUXCLOUD_DOGFOOD_KEY`` (settings.py puts
this middleware first when both are set). Writes to the dogfood dataset itself are not
tracked: each batch the client sends would otherwise be tracked, sent and tracked again,
a steady trickle of points about the tracking itself.
"""

from typing import Any

from django.conf import settings

from meauxcloud_client.django import AnalyticsMiddleware


class DogfoodMiddleware(AnalyticsMiddleware):
    def config(self) -> dict[str, Any]:
        return {
            "URL": settings.MEAUXCLOUD_DOGFOOD_URL,
            "KEY": settings.MEAUXCLOUD_DOGFOOD_KEY,
            "DATASET": settings.MEAUXCLOUD_DOGFOOD_DATASET,
            "ENVIRONMENT": settings.MEAUXCLOUD_DOGFOOD_ENVIRONMENT,
        }

    def exclude_paths(self, config: dict[str, Any]) -> list[str]:
        return [f"/api/v1/datasets/{config['DATASET']}/datapoints"]
