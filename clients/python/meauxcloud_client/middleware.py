"""Request tracking for any WSGI (Flask, Django, Bottle) or ASGI (FastAPI, Starlette) app.

What the seed's Hono ``analyticsMiddleware`` records, in ``track_request``'s layout:
method, path, status, environment and user agent as blobs; duration in ms, a count of 1
and the response size as doubles; the request id (``X-Request-ID``, else ``CF-Ray``,
else a fresh random one) as the single index. Recording costs one validated append to
an in-memory queue, and any failure in it is logged, never raised into the request.
"""

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from time import perf_counter
from typing import Any

from meauxcloud_client.helpers import USER_AGENT_CHARS, Writer

logger = logging.getLogger("meauxcloud_client")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def new_request_id() -> str:
    return os.urandom(8).hex()


class RequestRecorder:
    """Writes one request point; shared by the WSGI, ASGI and Django middleware."""

    def __init__(self, dataset: Writer, *, environment: str = "production", exclude_paths: Iterable[str] = ()) -> None:
        self.dataset = dataset
        self.environment = environment
        self.exclude_paths = tuple(exclude_paths)

    def excluded(self, path: str) -> bool:
        return bool(self.exclude_paths) and path.startswith(self.exclude_paths)

    def record(
        self,
        method: str,
        path: str,
        status: int,
        started: float,
        size: int,
        request_id: str | None,
        user_agent: str | None,
    ) -> None:
        try:
            self.dataset.write_data_point(
                blobs=[method, path, str(status), self.environment, user_agent[:USER_AGENT_CHARS] if user_agent else None],
                doubles=[(perf_counter() - started) * 1000.0, 1, size],
                indexes=[request_id or new_request_id()],
            )
        except Exception:
            logger.exception("meauxcloud: request tracking failed")


class _TrackedBody:
    """A WSGI response body that counts its bytes and records the request when closed."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[int], None]) -> None:
        self._body = body
        self._on_close = on_close
        self._size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close(self._size)


class WSGIMiddleware:
    """``app.wsgi_app = WSGIMiddleware(app.wsgi_app, dataset)`` for Flask; any WSGI app alike.

    With a Content-Length header the point is written as soon as the app returns and
    the body passes through untouched (``wsgi.file_wrapper`` keeps working); otherwise
    the body is counted as it streams and the point is written when it closes.
    """

    def __init__(self, app: WSGIApp, dataset: Writer, *, environment: str = "production", exclude_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.recorder = RequestRecorder(dataset, environment=environment, exclude_paths=exclude_paths)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if self.recorder.excluded(path):
            return self.app(environ, start_response)
        started = perf_counter()
        seen: dict[str, Any] = {"status": 500, "length": None}

        def tracking_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status[:3]) if status[:3].isdigit() else 500
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    seen["length"] = int(value)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        method = environ.get("REQUEST_METHOD", "GET")
        request_id = environ.get("HTTP_X_REQUEST_ID") or environ.get("HTTP_CF_RAY")
        user_agent = environ.get("HTTP_USER_AGENT")
        try:
            body = self.app(environ, tracking_start_response)
        except BaseException:
            self.recorder.record(method, path, 500, started, 0, request_id, user_agent)
            raise
        if seen["length"] is not None:
            self.recorder.record(method, path, seen["status"], started, seen["length"], request_id, user_agent)
            return body
        return _TrackedBody(
            body,
            lambda size: self.recorder.record(method, path, seen["status"], started, size, request_id, user_agent),
        )


class ASGIMiddleware:
    """``app.add_middleware(ASGIMiddleware, dataset=dataset)`` for Starlette and FastAPI.

    Duration runs until the response body has been handed to the server; a request whose
    app raises before starting a response is recorded as 500 and the error re-raised.
    """

    def __init__(
        self,
        app: ASGIApp,
        dataset: Writer,
        *,
        environment: str = "production",
        exclude_paths: Iterable[str] = (),
        shutdown_timeout: float = 5.0,
    ) -> None:
        self.app = app
        self.recorder = RequestRecorder(dataset, environment=environment, exclude_paths=exclude_paths)
        self.shutdown_timeout = shutdown_timeout

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._flushing_at_shutdown(receive), send)
            return
        if scope["type"] != "http" or self.recorder.excluded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = user_agent = cf_ray = None
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"cf-ray":
                cf_ray = value.decode("latin-1")
        state = {"status": 500, "size": 0}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["size"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            self.recorder.record(
                scope.get("method", "GET"), scope.get("path", ""), state["status"], started, state["size"],
                request_id or cf_ray, user_agent,
            )

    def _flushing_at_shutdown(self, receive: Callable[[], Awaitable[Message]]) -> Callable[[], Awaitable[Message]]:
        """Send what is queued when the server announces shutdown.

        uvicorn re-raises SIGTERM after a graceful shutdown, so the process dies without
        running ``atexit``; the lifespan shutdown event is the last reliable moment.
        """

        async def receive_and_flush() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                flush = getattr(self.recorder.dataset, "flush", None)
                try:
                    if inspect.iscoroutinefunction(flush):
                        await flush(self.shutdown_timeout)
                    elif flush is not None:
                        await asyncio.to_thread(flush, self.shutdown_timeout)
                except Exception:
                    logger.exception("meauxcloud: flush at shutdown failed")
            return message

        return receive_and_flush
