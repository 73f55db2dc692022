"""Django middleware: every request tracked like the seed's ``analyticsMiddleware``.

Configure with one setting and put the middleware first in ``MIDDLEWARE`` so its
duration covers the others::

    MEAUXCLOUD_ANALYTICS = {"URL": "https://analytics.example.com", "KEY": "mc_w_...",
                            "DATASET": "requests", "ENVIRONMENT": "production",
                            "EXCLUDE_PATHS": ["/healthz"], "OPTIONS": {"flush_interval": 2.0}}
    MIDDLEWARE = ["meauxcloud_client.django.AnalyticsMiddleware", ...]

``OPTIONS`` are ``Dataset``'s keyword arguments (batch sizes, queue bound, retries).

Without URL and KEY the middleware removes itself (``MiddlewareNotUsed``). Works
under WSGI and ASGI; in async mode nothing here blocks the loop.
"""

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase

from meauxcloud_client.middleware import RequestRecorder, logger
from meauxcloud_client.registry import shared_dataset


class AnalyticsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        config = self.config()
        url, key, name = config.get("URL"), config.get("KEY"), config.get("DATASET", "requests")
        if not url or not key:
            raise MiddlewareNotUsed("MeauxCLOUD analytics is not configured.")
        self.get_response = get_response
        self.recorder = RequestRecorder(
            shared_dataset(url, key, name, **config.get("OPTIONS", {})),
            environment=config.get("ENVIRONMENT", "production"),
            exclude_paths=self.exclude_paths(config),
        )
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def config(self) -> dict[str, Any]:
        return dict(getattr(settings, "MEAUXCLOUD_ANALYTICS", {}))

    def exclude_paths(self, config: dict[str, Any]) -> Iterable[str]:
        return config.get("EXCLUDE_PATHS", ())

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        started = perf_counter()
        response = self.get_response(request)
        self._record(request, response, started)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = perf_counter()
        response = await self.get_response(request)
        self._record(request, response, started)
        return response

    def _record(self, request: HttpRequest, response: HttpResponseBase, started: float) -> None:
        try:
            path = request.path
            if self.recorder.excluded(path):
                return
            if response.streaming:
                length = response.get("Content-Length")
                size = int(length) if length and length.isdigit() else 0
            else:
                size = len(response.content)
            headers = request.META
            self.recorder.record(
                request.method or "GET",
                path,
                response.status_code,
                started,
                size,
                headers.get("HTTP_X_REQUEST_ID") or headers.get("HTTP_CF_RAY"),
                headers.get("HTTP_USER_AGENT"),
            )
        except Exception:
            logger.exception("meauxcloud: request tracking failed")
