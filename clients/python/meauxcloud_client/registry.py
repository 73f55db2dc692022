"""One ``Dataset`` per (url, key, name) in a process.

Frameworks may build a middleware more than once (Django does per handler, tests do
per app); sharing the dataset keeps it to one queue and one sender thread.
"""

import threading
from typing import Any

from meauxcloud_client.dataset import Dataset

_datasets: dict[tuple[str, str, str], Dataset] = {}
_lock = threading.Lock()


def shared_dataset(url: str, key: str, name: str, **options: Any) -> Dataset:
    """The process's dataset for (url, key, name); ``options`` (``Dataset``'s keyword
    arguments) apply when this call creates it."""
    with _lock:
        dataset = _datasets.get((url, key, name))
        if dataset is None:
            dataset = _datasets[(url, key, name)] = Dataset(url, key, name, **options)
        return dataset
