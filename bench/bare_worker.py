"""A Celery worker whose drain stores points and skips the rollups and projections: ``bench.maintenance`` only.

Started with ``python -m bench.bare_worker`` and the arguments of ``python -m celery``. Each
pool process, once Django and the tasks are loaded, replaces ``rollups_stage``,
``rollups_apply_staged`` and ``projections_apply`` with nothing, so its drains COPY the points and write their ledger rows
as the product's do, and nothing else: the reports and projections of what it stores are
wrong. It measures how much of the COPY ceiling the rest of the pipeline leaves room for.
"""

from typing import Any

from celery.__main__ import main
from celery.signals import worker_process_init


@worker_process_init.connect
def _maintenance_skip(**kwargs: Any) -> None:
    from tracking.projections import services as projections
    from tracking.rollups import services as rollups

    rollups.rollups_stage = lambda **_: None
    rollups.rollups_apply_staged = lambda **_: None
    projections.projections_apply = lambda **_: None


if __name__ == "__main__":
    main()
