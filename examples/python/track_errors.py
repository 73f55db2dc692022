"""Seed §5, "Error Tracking": record an exception where it is caught.

    .venv/bin/python examples/python/track_errors.py
"""

from meauxcloud_client import Dataset, track_error

from settings import DATASET, URL, WRITE_KEY

analytics = Dataset(URL, WRITE_KEY, DATASET)


def handler(path: str) -> None:
    try:
        {}["missing"]
    except KeyError as error:
        track_error(analytics, type(error).__name__, str(error), path)


handler("/api/chat")
analytics.close()
print(analytics.stats())
