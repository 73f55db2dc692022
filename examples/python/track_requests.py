"""Seed §2, "Request Tracking": time real requests and record each with track_request.

The seed's index is the cf-ray header; here the request id is ours (X-Request-ID), and the
request's user agent goes to blob5 rather than a second index, which Analytics Engine
would refuse.

    .venv/bin/python examples/python/track_requests.py
"""

import time
import urllib.error
import urllib.request
import uuid

from meauxcloud_client import Dataset, track_request

from settings import DATASET, URL, WRITE_KEY

analytics = Dataset(URL, WRITE_KEY, DATASET)

for path in ["/healthz", "/healthz", "/no-such-page"]:
    request_id = uuid.uuid4().hex
    request = urllib.request.Request(URL + path, headers={"X-Request-ID": request_id, "User-Agent": "examples/1.0"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    track_request(
        analytics, "GET", path, status, (time.perf_counter() - started) * 1000,
        size_bytes=len(body), request_id=request_id, environment="development", user_agent="examples/1.0",
    )

analytics.close()
print(analytics.stats())
