"""Garbage-collector tuning for the long-running processes: web (wsgi.py) and worker (celery.py).

Both handle batches of points that are thousands of container objects (decoded points and
their blob and double lists) alive at once, so with CPython's default gen-0 threshold of
700 a single request or drain group started collections that cascaded into the older
generations, where every object of the start-up (Django, the apps, Celery) sat. Measured
with ``gc.callbacks``: about a third of the web's CPU under ``python -m bench.ingest`` load,
and 3.8 to 5.3 of the drain's 6.4 ms per 1,000 points (``bench.profile``'s drain stage).
Start-up objects are frozen out of collection and a collection waits for 20,000 net new
container objects. Nothing leaks by this: objects are freed by reference counting, and the
collector, which only finds reference cycles, still runs, less often.
"""

import gc

THRESHOLDS = (20_000, 20, 20)


def collector_tune() -> None:
    """Call once start-up imports are done, in the process that will serve (after any fork)."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
