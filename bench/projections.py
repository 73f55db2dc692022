"""What maintaining projections costs the drain, per batch, beside the COPY of the same batch.

Each round writes one batch of request-shaped points (4 blobs, 3 doubles, 200 paths, the
last ten minutes) the way ``tracking.services._write_entries`` does, timing each step in
the same transaction: the COPY into ``tracking_datapoint``, the report rollups
(``rollups_apply``, which also stages the projections' columns), and the projections
(``projections_apply``: one grouped INSERT per projection that is not derived from a wider
one's rows, with the dataset lock). The
transaction is rolled back, so every round starts from the same tables. Medians of the
rounds, and each step's ratio to the COPY measured in the same round.

Run: ``python -m bench.projections [--rounds 30] [--batch 250 --batch 1000]`` (results in
var/bench/projections.json).
"""

import argparse
import json
import random
import statistics
import time
from datetime import timedelta

from bench.env import OUT, django_setup, migrate

DATABASE = "meauxcloud_bench_projections"


class _Rollback(Exception):
    pass


def _rows(dataset_id: int, count: int, rng: random.Random) -> list[list[object]]:
    from django.utils import timezone

    now = timezone.now()
    rows = []
    for i in range(count):
        moment = now - timedelta(seconds=rng.uniform(0, 600))
        rows.append([
            dataset_id, moment, f"r-{i}", None,
            rng.choice(["GET", "GET", "POST"]), f"/api/{rng.randrange(200)}", rng.choice(["200", "200", "404", "500"]), "production",
            rng.uniform(5, 300), 1.0, float(rng.randrange(100, 5000)),
        ])
    return rows


def _round(dataset_id: int, rows: list[list[object]], *, projections_on: bool) -> dict[str, float]:
    from django.db import transaction

    from tracking import db
    from tracking.projections import services as projections
    from tracking.rollups import services as rollups

    timings: dict[str, float] = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            db.datapoint_copy(rows=rows, blob_count=4, double_count=3)
            copied = time.perf_counter()
            specs = projections.projections_lock_for_batch(dataset_ids=[dataset_id]) if projections_on else []
            rollups.rollups_apply(rows=rows, blob_count=4, double_count=3, also_stage=projections.projections_columns(specs=specs))
            rolled = time.perf_counter()
            projections.projections_apply(specs=specs)
            done = time.perf_counter()
            timings = {"copy_ms": (copied - started) * 1000, "rollups_ms": (rolled - copied) * 1000, "projections_ms": (done - rolled) * 1000}
            raise _Rollback
    except _Rollback:
        pass
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, action="append")
    args = parser.parse_args()
    django_setup(DATABASE)
    migrate()
    from django.utils import timezone

    from projects.models import Project
    from projects.services import project_create
    from tracking import db
    from tracking.services import dataset_get_or_create

    project = Project.objects.filter(slug="bench-projections").first() or project_create(slug="bench-projections", name="bench")
    dataset = dataset_get_or_create(project=project, name="requests")
    today = timezone.now().date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        if db.partition_name(day) not in db.partition_list():
            db.partition_create(day)
    rng = random.Random(11)
    results = []
    for size in args.batch or [250, 1000]:
        samples: dict[str, list[float]] = {"copy_ms": [], "rollups_ms": [], "projections_ms": []}
        ratios: list[float] = []
        for _ in range(args.rounds):
            timings = _round(dataset.id, _rows(dataset.id, size, rng), projections_on=True)
            for key, value in timings.items():
                samples[key].append(value)
            ratios.append(timings["projections_ms"] / timings["copy_ms"])
        row = {"batch": size, **{key: round(statistics.median(values), 2) for key, values in samples.items()}}
        row["projections_per_copy"] = round(statistics.median(ratios), 2)
        results.append(row)
        print(
            f"batch {size:5}: COPY {row['copy_ms']:6.1f} ms  rollups {row['rollups_ms']:6.1f} ms  "
            f"projections {row['projections_ms']:6.1f} ms  projections ÷ COPY {row['projections_per_copy']:.2f}"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "projections.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
