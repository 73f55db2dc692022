"""The catalog the SQL planner needs of a project, read once and then checked in each query's own message.

Reading it was one of the three round trips of every query (0.34 of 3.4 ms for the seed's
realtime query in process). A process keeps each project's catalog it read; a query compiled
from a kept one sends ``db.CatalogCheck`` first in its message, and PostgreSQL refuses it there
when the datasets, their labels or their ready projections changed, or when the kept estimate
of the clock is later than the query's transaction (``schema.CATALOG_CHECK_SQL``). The engine
then reads the catalog again and compiles once more, so a dataset created a moment ago is
queryable at once and a projection dropped or reset is never read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from tracking.projections.db import Spec
from tracking.sql.db import CatalogCheck, sql_catalog
from tracking.sql.ir import DatasetRef
from tracking.sql.lru import WeightedLRU

#: Kept catalogs per process, the least recently used dropped first (a few KB each).
MAX_PROJECTS = 1_024
#: A kept catalog is read again after this long, so its clock estimate never drifts far.
MAX_AGE_SECONDS = 60.0
#: How far the clock estimate stays behind: more than the time between the catalog read's start and
#: its transaction's start. The check refuses the estimate when it is not.
CLOCK_MARGIN = timedelta(seconds=1)


@dataclass(frozen=True)
class ProjectCatalog:
    project_id: int
    datasets: list[DatasetRef]
    #: Per dataset id, its ready projections, the narrowest first (``db.sql_catalog``).
    projections: dict[int, list[Spec]]
    fingerprint: str
    #: The database's clock at the read, and this process's monotonic clock just before it.
    clock: datetime
    read_at: float
    #: Read outside a caller's transaction, so ``fingerprint`` describes the datasets above: inside one, the
    #: transaction's own changes move the catalog's version only when it commits (``schema.CATALOG_VERSION_SQL``),
    #: and such a catalog is neither kept nor a key of the translations a process keeps.
    versioned: bool

    def clock_estimate(self) -> datetime:
        """A moment no later than the ``NOW()`` of a transaction that starts after this call (checked)."""
        return self.clock + timedelta(seconds=time.monotonic() - self.read_at) - CLOCK_MARGIN

    def check(self, *, clock: datetime) -> CatalogCheck:
        return CatalogCheck(project_id=self.project_id, fingerprint=self.fingerprint, clock=clock)


def catalog_read(*, project_id: int) -> ProjectCatalog:
    """Read a project's catalog from the database and, when it is ``versioned``, keep it for the next queries of this
    process."""
    read_at = time.monotonic()
    read = sql_catalog(project_id=project_id)
    projections = {
        dataset_id: [
            Spec(id=i, dataset_id=dataset_id, grain=grain, dimensions=tuple(dims), doubles=tuple(dbls), name=spec_name,
                 bucket_rows=rows, bucket_points=points)
            for i, grain, dims, dbls, spec_name, rows, points in ready
        ]
        for dataset_id, _, _, ready in read.datasets
        if ready
    }
    catalog = ProjectCatalog(
        project_id=project_id,
        datasets=[DatasetRef(id=dataset_id, name=name, labels=labels) for dataset_id, name, labels, _ in read.datasets],
        projections=projections,
        fingerprint=read.fingerprint,
        clock=read.clock,
        read_at=read_at,
        versioned=connection.get_autocommit(),
    )
    if catalog.versioned:
        _kept.put(project_id, catalog)
    return catalog


def catalog_kept(*, project_id: int) -> ProjectCatalog | None:
    """The catalog this process last read for the project, unless it is older than ``MAX_AGE_SECONDS``; none inside a
    caller's transaction, whose own changes a kept catalog's check would not see (``ProjectCatalog.versioned``)."""
    if not connection.get_autocommit():
        return None
    catalog = _kept.get(project_id)
    if catalog is not None and time.monotonic() - catalog.read_at > MAX_AGE_SECONDS:
        _kept.pop(project_id)
        return None
    return catalog


def catalog_forget(*, project_id: int) -> None:
    _kept.pop(project_id)


_kept: WeightedLRU[ProjectCatalog] = WeightedLRU(max_weight=MAX_PROJECTS)
