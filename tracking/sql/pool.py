"""The SQL pool: how many queries may run at once, so heavy SQL cannot starve ingest and health.

Two limits, checked without waiting (an excess query gets 429 ``sql_pool_busy`` with
Retry-After at once, instead of holding a web thread while it queues):

- per process (``SQL_PROCESS_CONCURRENCY``), below the web server's thread count, so every
  web process keeps threads free for ``/healthz`` and ingest however many queries arrive;
- for the whole installation (``SQL_MAX_CONCURRENT``), slots in PostgreSQL, so the database
  never runs more heavy statements than it has cores and memory for.

The per-project share (two at once by default, the governance quota ``concurrent_queries``)
is a range of slots too. A query's transaction takes one slot of each range before anything
else in its first message (``schema.SLOTS_TAKE_SQL``), and its rollback frees them: no round
trip of its own, and a crashed process's slots are freed by PostgreSQL when its connection
drops. The project's per-minute rate, when it has one, is charged in Redis before
(``query_admit``), and given back if the query gets no slot.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from meauxcloud.api import ApiProblem
from projects.governance.quotas import query_admission_refund, query_admit
from projects.models import Project
from tracking.conf import tracking_settings
from tracking.sql.db import Slots, SlotTaken

RETRY_AFTER_SECONDS = 2

#: Slot n of the installation's pool is the advisory lock ``POOL_LOCK + n`` (bigint form), apart from the
#: projects' ranges (``projects.governance.quotas.QUERY_LOCK``).
POOL_LOCK = 0x6D656175_73716C00


class PoolBusy(ApiProblem):
    def __init__(self, *, detail: str) -> None:
        super().__init__(status_code=429, detail=detail, code="sql_pool_busy", retry_after=RETRY_AFTER_SECONDS)


_process_lock = threading.Lock()
_process_running = 0


def _process_enter() -> bool:
    global _process_running
    with _process_lock:
        if _process_running >= tracking_settings.SQL_PROCESS_CONCURRENCY:
            return False
        _process_running += 1
        return True


def _process_leave() -> None:
    global _process_running
    with _process_lock:
        _process_running -= 1


def _process_busy() -> PoolBusy:
    return PoolBusy(
        detail=f"This server is running its {tracking_settings.SQL_PROCESS_CONCURRENCY} SQL queries at once; "
        f"retry in {RETRY_AFTER_SECONDS} s."
    )


def sql_pool_shed() -> None:
    """Raise ``PoolBusy`` when this process's slots are all taken, before the request is authenticated.

    Under a flood, refusals are most of what the web threads do; refused here, one costs no
    key lookup, quota round trip or audit row, so threads stay free for ``/healthz`` and
    ingest (docs/reliability.md). Not audited: no key was checked and nothing was read.
    A request that passes still takes its slot in ``sql_pool_slot``.
    """
    if _process_running >= tracking_settings.SQL_PROCESS_CONCURRENCY:
        raise _process_busy()


def _platform_busy() -> PoolBusy:
    return PoolBusy(
        detail=f"The platform is running its {tracking_settings.SQL_MAX_CONCURRENT} SQL queries at once; "
        f"retry in {RETRY_AFTER_SECONDS} s."
    )


@contextmanager
def sql_pool_slot(*, project: Project | None = None) -> Iterator[Slots]:
    """Run the body in one of this process's slots, or raise ``PoolBusy`` at once; it gets the ``Slots`` its query's
    transaction must take.

    With ``project``, the project's per-minute rate is charged first (``QuotaExceeded``) and
    its concurrency limit joins the slots. A ``SlotTaken`` from the body becomes the 429 of
    the range that was full, and the rate charge is given back: a refused query charges the
    project nothing.
    """
    if not _process_enter():
        raise _process_busy()
    try:
        admission = query_admit(project=project) if project is not None else None
        try:
            yield Slots(
                project=admission.locks if admission is not None else None,
                pool=range(POOL_LOCK, POOL_LOCK + tracking_settings.SQL_MAX_CONCURRENT),
            )
        except SlotTaken as taken:
            if admission is None:
                raise _platform_busy() from None
            query_admission_refund(admission=admission)
            raise (admission.busy() if taken.project else _platform_busy()) from None
    finally:
        _process_leave()
