"""Demo data in the seed's six event layouts, written through the real buffer and workers.

Going through the buffer (rather than straight into the table) means the demo exercises
exactly what production does, and anything that follows batches as they land (rollups)
sees the demo data too.
"""

import random
from datetime import datetime, timedelta

from projects.models import Project
from tracking.ingest import buffer
from tracking.ingest.decode import PointRow, epoch_us
from tracking.services import dataset_get_or_create

PATHS = ["/", "/api/projects", "/api/users", "/api/metrics", "/login", "/api/ai/chat", "/assets/app.js",
         "/api/billing", "/dashboard", "/api/files", "/api/search", "/settings"]
METHODS = ["GET"] * 8 + ["POST"] * 3 + ["PUT", "DELETE"]
MODELS = [("gpt-4o", 0.000005), ("claude-sonnet", 0.000003), ("llama-3-70b", 0.0000009)]
ERROR_TYPES = ["TimeoutError", "ValidationError", "DatabaseError", "AuthError"]
COST_TYPES = ["time", "ai", "compute"]
TEAM_PROJECTS = ["meauxcloud-web", "meauxcloud-api", "inneranimal", "damncool"]
CHUNK = 5000


def _status(rng: random.Random) -> str:
    roll = rng.random()
    return "500" if roll < 0.02 else "503" if roll < 0.03 else "404" if roll < 0.07 else "201" if roll < 0.15 else "200"


def demo_rows(*, now: datetime, days: int, requests_per_hour: int, seed: int = 7) -> list[PointRow]:
    """Points spread over ``days`` up to ``now``."""
    rng = random.Random(seed)
    rows: list[PointRow] = []
    start = now - timedelta(days=days)
    hours = days * 24
    for hour in range(hours):
        base = start + timedelta(hours=hour)
        daily_wave = 0.5 + 0.5 * abs(12 - base.hour) / 12
        for _ in range(int(requests_per_hour * daily_wave)):
            moment = base + timedelta(seconds=rng.uniform(0, 3600))
            if moment > now:
                continue
            ts = epoch_us(moment)
            path = PATHS[min(int(rng.paretovariate(1.2)) - 1, len(PATHS) - 1)]
            status = _status(rng)
            duration = round(rng.lognormvariate(3.5, 0.6) * (4 if status.startswith("5") else 1), 2)
            rows.append(PointRow(ts, f"ray-{rng.getrandbits(48):012x}", [rng.choice(METHODS), path, status, "production",
                         "Mozilla/5.0"], [duration, 1, float(rng.randint(200, 60_000))]))
            if status.startswith("5"):
                rows.append(PointRow(ts, error := rng.choice(ERROR_TYPES), ["error", error, path], [1]))
            if path == "/api/ai/chat":
                model, price = rng.choice(MODELS)
                tokens = float(rng.randint(100, 4000))
                rows.append(PointRow(ts, model, ["ai-usage", model, "tokens"], [tokens, round(tokens * price, 6), 1]))
            if rng.random() < 0.1:
                user = f"user-{rng.randint(1, 300)}"
                event = rng.choice(["login", "signup", "upload", "share", "purchase"])
                rows.append(PointRow(ts, user, ["user-event", event, user], [1]))
        for team_project in TEAM_PROJECTS:
            ts = epoch_us(base + timedelta(minutes=30))
            if base + timedelta(minutes=30) > now:
                continue
            for cost_type in COST_TYPES:
                amount = round(rng.uniform(0.01, 0.4) * (3 if cost_type == "ai" else 1), 4)
                rows.append(PointRow(ts, team_project, [team_project, cost_type, "cost"], [amount, 1]))
            resource = rng.choice(["cpu_ms", "memory_mb", "storage_gb", "bandwidth_gb"])
            rows.append(PointRow(ts, team_project, ["resource", resource, team_project], [rng.uniform(1, 500), 1]))
    return rows


def demo_load(*, project: Project, dataset_name: str, now: datetime, days: int, requests_per_hour: int) -> int:
    dataset = dataset_get_or_create(project=project, name=dataset_name)
    rows = demo_rows(now=now, days=days, requests_per_hour=requests_per_hour)
    for offset in range(0, len(rows), CHUNK):
        buffer.buffer_append(dataset_id=dataset.id, rows=rows[offset : offset + CHUNK])
    return len(rows)
