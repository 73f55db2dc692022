"""Issue 2's acceptance check against a running server (`make run`).

Posts 10,000 points in batches of 250 (every 50th point invalid), checks each invalid
point is reported by its index, then measures how long after the last 202 every accepted
point is stored. Run from the repository root with the server's environment:

    eval "$(.venv/bin/python -m meauxcloud.devstack env)"
    .venv/bin/python -m bench.ingest_acceptance --url http://127.0.0.1:8000
"""

import argparse
import json
import os
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import django


def _post(url: str, key: str, points: list[dict]) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(points).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202, response.status
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    credentials = json.loads(Path("var/credentials.json").read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meauxcloud.settings")
    django.setup()
    from django.db import connection

    from tracking.models import Dataset

    dataset = f"acceptance_{uuid.uuid4().hex[:8]}"
    url = f"{args.url}/api/v1/datasets/{dataset}/datapoints"
    batches = []
    for start in range(0, args.points, args.batch):
        batch = []
        for n in range(start, min(start + args.batch, args.points)):
            batch.append({"blobs": ["x"] * 21} if n % 50 == 49 else {"blobs": [f"p{n}"], "doubles": [n]})
        batches.append(batch)
    started = time.monotonic()
    with ThreadPoolExecutor(args.connections) as pool:
        outcomes = list(pool.map(lambda b: _post(url, credentials["write_key"], b), batches))
    last_202 = time.monotonic()
    accepted = sum(o["accepted"] for o in outcomes)
    rejected_indexes = sorted({e["index"] for o in outcomes for e in o["errors"]})
    dataset_id = Dataset.objects.get(name=dataset).id
    stored = 0
    while time.monotonic() - last_202 < 60:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM tracking_datapoint WHERE dataset_id = %s", [dataset_id])
            stored = cursor.fetchone()[0]
        if stored >= accepted:
            break
        time.sleep(0.05)
    visible_after = time.monotonic() - last_202
    print(f"posted {args.points} points in {len(batches)} batches of {args.batch} over {args.connections} connections "
          f"in {last_202 - started:.2f} s")
    print(f"accepted {accepted}, rejected {sum(o['rejected'] for o in outcomes)} "
          f"(indexes reported per batch: {rejected_indexes})")
    print(f"stored {stored} of {accepted}; all stored {visible_after:.2f} s after the last 202")


if __name__ == "__main__":
    main()
