"""Seed §3 and §4, "Cost Tracking" and "AI Usage Tracking", plus the schema table's user
event and resource rows.

    .venv/bin/python examples/python/track_costs.py
"""

from meauxcloud_client import Dataset, track_ai_usage, track_project_cost, track_resource, track_user_event

from settings import DATASET, URL, WRITE_KEY

analytics = Dataset(URL, WRITE_KEY, DATASET)

track_project_cost(analytics, "proj-1", "ai", 0.25)
track_project_cost(analytics, "proj-1", "compute", 0.04)
track_project_cost(analytics, "proj-2", "time", 1.5)
track_ai_usage(analytics, "llama-3-8b", tokens=1200, cost=0.002)
track_user_event(analytics, "signup", "user-123")
track_resource(analytics, "r2-storage", "proj-1", usage=2048)

analytics.close()
print(analytics.stats())
