"""Fallback copies of datasets, so ingest finds its dataset while PostgreSQL is unreachable (meauxcloud/fallback.py)."""

from meauxcloud.fallback import fallback_forget, fallback_recall, fallback_recent, fallback_remember
from tracking.models import Dataset


def _dataset_slot(project_id: int, name: str) -> str:
    return f"outage:dataset:{project_id}:{name}"


def dataset_remember(*, dataset: Dataset) -> None:
    fallback_remember(_dataset_slot(dataset.project_id, dataset.name), dataset)


def dataset_recent(*, project_id: int, name: str) -> Dataset | None:
    """The dataset as this process read it less than ``LOCAL_TTL_SECONDS`` ago, if it did."""
    dataset = fallback_recent(_dataset_slot(project_id, name))
    return dataset if isinstance(dataset, Dataset) else None


def dataset_recall(*, project_id: int, name: str) -> Dataset | None:
    dataset = fallback_recall(_dataset_slot(project_id, name))
    return dataset if isinstance(dataset, Dataset) else None


def dataset_forget(*, dataset: Dataset) -> None:
    """A deleted dataset must not be written to again from a stale copy during a later outage."""
    fallback_forget(_dataset_slot(dataset.project_id, dataset.name))
