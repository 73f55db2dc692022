"""Long mode of the fault harness (`make faults`): every fault under ≥100,000 points.

    python -m tests.faults.run [--faults worker_kill9,redis_kill9] [--points 200000] [--soak-minutes 30] [--json var/faults.json]

Prints one JSON line per fault and exits non-zero if any point was lost, invented or
duplicated. Needs Debian's PostgreSQL 15 binaries and redis-server; touches no shared server.
"""

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

from tests.faults.scenarios import FAULTS, LONG, SHORT, fault_run, soak_size
from tests.faults.stack import PrivatePostgres, stack_base


def harness_postgres(base: Path) -> PrivatePostgres:
    """The cluster every fault shares, migrated once."""
    from tests.faults.stack import PrivateRedis, Stack

    postgres = PrivatePostgres(base)
    postgres.init()
    bootstrap_redis = PrivateRedis(base / "bootstrap")
    bootstrap_redis.start()
    try:
        stack = Stack(base=base, postgres=postgres, redis=bootstrap_redis)
        stack.manage("migrate", "--no-input")
        stack.manage("ensure_partitions")
    finally:
        bootstrap_redis.stop()
    return postgres


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--short", action="store_true", help="the sizes `make test` uses")
    parser.add_argument("--json", type=Path, default=None, help="also write all reports to this file")
    parser.add_argument("--soak-minutes", type=float, default=float(os.environ.get("FAULTS_SOAK_MINUTES", "30")),
                        help="length of the soak fault (default 30, or $FAULTS_SOAK_MINUTES)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    size = SHORT if args.short else LONG
    if args.points:
        size = dataclasses.replace(size, points=args.points, duration=size.duration * args.points / size.points)
    base = stack_base()
    postgres = harness_postgres(base)
    reports = []
    try:
        for name in args.faults.split(","):
            fault_size = soak_size(args.soak_minutes * 60) if name == "soak" else size
            report = fault_run(postgres=postgres, base=base, fault=FAULTS[name], size=fault_size).as_dict()
            reports.append(report)
            print(json.dumps(report), flush=True)
    finally:
        postgres.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"logs kept in {base}", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2))
    failed = [r for r in reports if r["lost"] or r["invented"] or r["duplicates"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
