"""Seed §1, "Basic Event Tracking": one data point, exactly as the Worker writes it.

    .venv/bin/python examples/python/basic_event.py
"""

from meauxcloud_client import Dataset

from settings import DATASET, URL, WRITE_KEY

analytics = Dataset(URL, WRITE_KEY, DATASET)

# Track a simple event
analytics.write_data_point(
    blobs=["user-login", "google-oauth"],
    doubles=[1],  # count
    indexes=["user-123"],
)

analytics.close()
print(analytics.stats())
