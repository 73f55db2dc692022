"""One HTTP POST of a gzipped NDJSON batch, and what to do about its answer.

Kept apart from the queueing so the thread and the asyncio variants share every rule:
which answers are final, which are retried, and how long to wait before the next try.
"""

import gzip
import http.client
import json
import logging
import random
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

logger = logging.getLogger("meauxcloud_client")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Answer:
    """What the server said about one batch; ``status`` 0 means no answer at all."""

    status: int
    body: dict[str, object]
    retry_after: float | None = None
    error: str = ""

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status in RETRYABLE_STATUSES


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


def backoff_seconds(attempt: int, *, retry_after: float | None, base: float, cap: float) -> float:
    """The server's Retry-After when it gave one (capped), else capped exponential backoff with jitter.

    Jitter keeps a fleet of clients that lost the server at the same moment from coming
    back at the same moment.
    """
    if retry_after is not None:
        return min(retry_after, cap)
    return min(cap, base * 2**attempt) * random.uniform(0.5, 1.0)


class Transport:
    """A keep-alive connection to the ingest endpoint of one dataset."""

    def __init__(self, url: str, key: str, dataset: str, *, timeout: float) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port][/prefix], got {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self.path = f"{parts.path}/api/v1/datasets/{quote(dataset, safe='')}/datapoints"
        self._headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "User-Agent": "meauxcloud-client-python/0.1",
        }
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def post(self, lines: list[bytes]) -> Answer:
        """Send one batch; never raises, a network failure is an ``Answer`` with status 0."""
        body = gzip.compress(b"\n".join(lines), compresslevel=5)
        try:
            connection = self._connect()
            connection.request("POST", self.path, body=body, headers=self._headers)
            response = connection.getresponse()
            raw = response.read()
            retry_after = retry_after_seconds(response.getheader("Retry-After"))
            if response.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Answer(0, {}, error=f"{type(error).__name__}: {error}")
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        return Answer(response.status, parsed if isinstance(parsed, dict) else {}, retry_after)
