"""Writes of the OTLP receiver's settings."""

from typing import Any

from tracking.models import Dataset
from tracking.otlp.mapping import mapping_validate


def dataset_otlp_mapping_set(*, dataset: Dataset, mapping: dict[str, Any]) -> Dataset:
    """Store what a dataset's OTLP mapping changes from the defaults; ``ValidationError`` names the field.

    Points already stored keep the layout they were written with; the mapping applies to
    exports from now on.
    """
    dataset.otlp_mapping = mapping_validate(mapping=mapping)
    dataset.save(update_fields=["otlp_mapping"])
    return dataset
