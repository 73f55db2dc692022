"""Writes that reports depend on: a dataset's retention and labels, with rollups kept in step."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracking.models import LABEL_COLUMNS, Dataset
from tracking.rollups import rollups_rebuild

LABEL_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


def dataset_labels_validate(*, labels: object) -> dict[str, str]:
    """Labels map data columns to names: ``{"blob2": "path", "double1": "duration_ms"}``."""
    if not isinstance(labels, dict):
        raise ValidationError("Labels must be a JSON object of column: name.")
    cleaned: dict[str, str] = {}
    for column, name in labels.items():
        if column not in LABEL_COLUMNS:
            raise ValidationError(f"'{column}' is not a column (blob1..blob20, double1..double20, index1).")
        if not isinstance(name, str) or not re.match(LABEL_NAME_PATTERN, name):
            raise ValidationError(f"The label of {column} must be a name of letters, digits and underscores.")
        cleaned[column] = name
    if len(set(cleaned.values())) != len(cleaned):
        raise ValidationError("Two columns have the same label.")
    return cleaned


def dataset_update(*, dataset: Dataset, retention_days: int, labels: dict[str, str]) -> Dataset:
    """Change retention and labels; a label change rebuilds the dataset's rollups in the same transaction.

    Labels can move report roles (``{"blob7": "path"}``), which changes how points were
    grouped, so the rollups are recomputed from raw points rather than left stale.
    """
    labels = dataset_labels_validate(labels=labels)
    relabelled = labels != (dataset.labels or {})
    dataset.retention_days = retention_days
    dataset.labels = labels
    dataset.full_clean(exclude=["project"], validate_unique=False)
    with transaction.atomic():
        dataset.save(update_fields=["retention_days", "labels"])
        if relabelled:
            rollups_rebuild(dataset_id=dataset.id, labels=labels, now=timezone.now())
    return dataset
