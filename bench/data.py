"""Realistic points in the seed's six event layouts, made fast enough for 10 million.

The layouts are those of the seed's schema table (request, cost, AI usage, error, user
event, resource). Distributions follow what dashboards are sensitive to: paths and users
are power-law (a few paths carry most requests), a few hot projects carry most cost,
traffic has a daily wave, and points span the 30 days up to ``now`` so every seed query
window (5 minutes to 30 days) has data. ``tracking/demo.py`` makes the same layouts one
Python object at a time; this is its vectorised sibling, because a 10M-point set must be
generated in seconds, not minutes.

One canonical TSV (``ts, index1, blob1..4, double1..3``) is written per set and read by
PostgreSQL's COPY, DuckDB and chdb alike, so all three engines answer over the same rows.
"""

import argparse
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import numpy as np

LAYOUTS = ("request", "cost", "ai", "error", "user", "resource")
MIX = np.array([0.78, 0.05, 0.05, 0.03, 0.06, 0.03])
METHODS = np.array(["GET"] * 8 + ["POST"] * 3 + ["PUT", "DELETE"], dtype=object)
STATUS = np.array(["200", "201", "404", "500", "503"], dtype=object)
STATUS_P = np.array([0.85, 0.08, 0.04, 0.02, 0.01])
MODELS = np.array(["gpt-4o", "claude-sonnet", "llama-3-70b", "gpt-4o-mini", "mistral-large"], dtype=object)
MODEL_PRICE = np.array([5e-6, 3e-6, 9e-7, 1.5e-7, 2e-6])
ERROR_TYPES = np.array(["TimeoutError", "ValidationError", "DatabaseError", "AuthError", "RateLimitError"], dtype=object)
COST_TYPES = np.array(["time", "ai", "compute"], dtype=object)
RESOURCES = np.array(["cpu_ms", "memory_mb", "storage_gb", "bandwidth_gb"], dtype=object)
USER_EVENTS = np.array(["login", "signup", "upload", "share", "purchase"], dtype=object)
N_PATHS = 2_000
N_PROJECTS = 40
N_USERS = 50_000
COLUMNS = ["timestamp", "index1", "blob1", "blob2", "blob3", "blob4", "double1", "double2", "double3"]
DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "bench" / "data"


def _zipf_choice(rng: np.random.Generator, size: int, n: int, exponent: float) -> np.ndarray:
    """Ranks 0..n-1 with P(rank) ∝ 1/(rank+1)^exponent: a bounded power law."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.choice(n, size=size, p=weights / weights.sum())


def _paths() -> np.ndarray:
    stems = ["/api/projects", "/api/users", "/api/metrics", "/api/files", "/api/search", "/api/billing",
             "/dashboard", "/assets", "/api/ai/chat", "/settings"]
    fixed = ["/", "/api/projects", "/api/users", "/api/metrics", "/login", "/api/ai/chat", "/assets/app.js",
             "/api/billing", "/dashboard", "/api/files", "/api/search", "/settings"]
    rest = [f"{stems[i % len(stems)]}/{i}" for i in range(N_PATHS - len(fixed))]
    return np.array(fixed + rest, dtype=object)


def _projects() -> np.ndarray:
    hot = ["meauxcloud-web", "meauxcloud-api", "inneranimal", "damncool"]
    return np.array(hot + [f"project-{i:02d}" for i in range(N_PROJECTS - len(hot))], dtype=object)


@dataclass
class Points:
    """Columns of a point set: timestamps (µs since the epoch), index1, 4 blobs, 3 doubles (NaN = unset)."""

    ts_us: np.ndarray
    index1: np.ndarray
    blobs: list[np.ndarray]
    doubles: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.ts_us)

    def slice(self, start: int, stop: int) -> "Points":
        return Points(self.ts_us[start:stop], self.index1[start:stop], [b[start:stop] for b in self.blobs],
                      [d[start:stop] for d in self.doubles])


def _timestamps(rng: np.random.Generator, n: int, now: datetime, days: int) -> np.ndarray:
    """Minutes weighted by a daily wave (peak 14:00 UTC, trough 3x lower), uniform within a minute."""
    minutes = days * 1440
    start = now - timedelta(minutes=minutes)
    minute_of_day = (np.arange(minutes) + start.hour * 60 + start.minute) % 1440
    weights = 2.0 + np.cos((minute_of_day / 1440.0 - 14 / 24) * 2 * np.pi)
    picked = rng.choice(minutes, size=n, p=weights / weights.sum())
    start_us = int(start.timestamp()) * 1_000_000
    ts = start_us + picked.astype(np.int64) * 60_000_000 + rng.integers(0, 60_000, size=n) * 1000
    # Whole milliseconds: the ingest API takes ms timestamps, so COPY and API loads give identical rows.
    return np.minimum(ts, int(now.timestamp() * 1000) * 1000)


def generate(n: int, *, now: datetime, days: int = 30, seed: int = 7) -> Points:
    """``n`` points in the six layouts; the same (n, now, seed) gives the same points."""
    rng = np.random.default_rng(seed)
    layout = rng.choice(len(LAYOUTS), size=n, p=MIX)
    ts = np.sort(_timestamps(rng, n, now, days))
    paths, projects = _paths(), _projects()
    path = paths[_zipf_choice(rng, n, N_PATHS, 1.1)]
    project = projects[_zipf_choice(rng, n, N_PROJECTS, 1.5)]
    user = np.char.add("user-", _zipf_choice(rng, n, N_USERS, 1.05).astype(str)).astype(object)
    status = STATUS[rng.choice(len(STATUS), size=n, p=STATUS_P)]
    model_i = _zipf_choice(rng, n, len(MODELS), 1.0)
    tokens = rng.integers(100, 4000, size=n).astype(np.float64)
    duration = np.round(rng.lognormal(3.5, 0.6, size=n) * np.where(np.char.startswith(status.astype(str), "5"), 4, 1), 2)
    ray = np.char.add("ray-", np.char.zfill(np.char.mod("%x", rng.integers(0, 2**48, size=n)), 12)).astype(object)
    one = np.ones(n)

    def pick(*per_layout: np.ndarray | str | float | None) -> np.ndarray:
        """Per point, the value of its layout's column; ``None``/NaN where the layout leaves it unset."""
        numeric = all(isinstance(v, float | np.floating) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")
                      for v in per_layout if v is not None)
        out = np.full(n, np.nan) if numeric else np.full(n, None, dtype=object)
        for code, value in enumerate(per_layout):
            if value is None:
                continue
            mask = layout == code
            out[mask] = value[mask] if isinstance(value, np.ndarray) else value
        return out

    cost_amount = np.round(rng.uniform(0.01, 0.4, size=n) * rng.choice([1, 3], size=n), 4)
    blobs = [
        pick(METHODS[rng.integers(0, len(METHODS), size=n)], project, "ai-usage", "error", "user-event", "resource"),
        pick(path, COST_TYPES[rng.integers(0, 3, size=n)], MODELS[model_i], ERROR_TYPES[rng.integers(0, 5, size=n)],
             USER_EVENTS[rng.integers(0, 5, size=n)], RESOURCES[rng.integers(0, 4, size=n)]),
        pick(status, "cost", "tokens", path, user, project),
        pick("production", None, None, None, None, None),
    ]
    doubles = [
        pick(duration, cost_amount, tokens, one, one, np.round(rng.uniform(1, 500, size=n), 3)),
        pick(one, one, np.round(tokens * MODEL_PRICE[model_i], 6), None, None, one),
        pick(rng.integers(200, 60_000, size=n).astype(np.float64), None, one, None, None, None),
    ]
    index1 = pick(ray, project, MODELS[model_i], blobs[1], user, project)
    return Points(ts, index1, blobs, doubles)


def _ts_text(ts_us: np.ndarray) -> np.ndarray:
    return np.char.replace(np.datetime_as_string(ts_us.astype("datetime64[us]"), unit="us"), "T", " ")


def tsv_chunks(points: Points, *, chunk: int = 200_000) -> Iterator[bytes]:
    """PostgreSQL text COPY format (also TSV for DuckDB/chdb): UTC timestamps, ``\\N`` for unset."""
    for start in range(0, len(points), chunk):
        part = points.slice(start, start + chunk)
        columns = [_ts_text(part.ts_us).tolist(), part.index1.tolist()]
        columns += [[r"\N" if v is None else v for v in blob.tolist()] for blob in part.blobs]
        columns += [[r"\N" if v != v else repr(v) for v in double.tolist()] for double in part.doubles]
        yield ("\n".join("\t".join(row) for row in zip(*columns)) + "\n").encode()


def tsv_write(points: Points, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with path.open("wb") as out:
        for data in tsv_chunks(points):
            size += out.write(data)
    return size


def api_points(points: Points) -> list[dict[str, object]]:
    """The points as a client sends them (``blobs``, ``doubles``, ``indexes``, ``timestamp`` in ms)."""
    out = []
    blob_columns = [blob.tolist() for blob in points.blobs]
    double_columns = [double.tolist() for double in points.doubles]
    for i, (ts, index1) in enumerate(zip((points.ts_us // 1000).tolist(), points.index1.tolist())):
        blobs = [column[i] for column in blob_columns]
        while blobs and blobs[-1] is None:
            blobs.pop()
        doubles = [column[i] for column in double_columns]
        while doubles and doubles[-1] != doubles[-1]:
            doubles.pop()
        out.append({"blobs": blobs, "doubles": doubles, "indexes": [index1], "timestamp": ts})
    return out


def ndjson_bytes(points: Points) -> int:
    """Size of the points as NDJSON, the format they would take as plain log lines."""
    encoder = msgspec.json.Encoder()
    return sum(len(encoder.encode(point)) + 1 for point in api_points(points))


def pg_copy(points_tsv: Path, *, dataset_id: int, conn: "object", table: str = "tracking_datapoint",
            batch_bytes: int = 32 << 20) -> None:
    """COPY the canonical TSV into ``table`` under ``dataset_id``; the days' partitions must exist."""
    prefix = f"{dataset_id}\t".encode()
    columns = ", ".join(["dataset_id", '"timestamp"'] + COLUMNS[1:])
    with conn.cursor() as cursor, points_tsv.open("rb") as source:
        cursor.execute("SET TIME ZONE 'UTC'")
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            while True:
                data = source.read(batch_bytes)
                if not data:
                    break
                data += source.readline()
                buffer = io.BytesIO()
                for line in data.splitlines(keepends=True):
                    buffer.write(prefix)
                    buffer.write(line)
                copy.write(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a bench point set as TSV (timing the generator).")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    points = generate(args.points, now=datetime.now(UTC))
    generated = time.perf_counter()
    out = args.out or DATA_DIR / f"points-{args.points}.tsv"
    size = tsv_write(points, out)
    print(f"{args.points} points: generated in {generated - started:.1f}s, {size / 1e6:.0f} MB TSV "
          f"in {time.perf_counter() - generated:.1f}s -> {out}")


if __name__ == "__main__":
    main()
