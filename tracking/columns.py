"""The catalogue of a data point's columns: every list of blob, double and index columns comes from here.

Analytics Engine's shape is fixed (20 blobs, 20 doubles, one index), and the points table,
the rollup stage table, the SQL API's schema, dataset labels and COPY all name the same
columns; one catalogue keeps them from drifting apart. The shape itself is
``meauxcloud.columns``, so that projects (deletion filters) name the same columns.
"""

from meauxcloud.columns import BLOB_COLUMNS, DOUBLE_COLUMNS, INDEX_COLUMN, MAX_BLOBS, MAX_DOUBLES, MAX_INDEXES

__all__ = [
    "BLOB_COLUMNS", "COPY_HEAD_COLUMNS", "DATA_COLUMNS", "DOUBLE_COLUMNS", "INDEX_COLUMN", "MAX_BLOBS", "MAX_DOUBLES",
    "MAX_INDEXES", "SQL_COLUMNS",
]

# The columns a dataset label can name.
DATA_COLUMNS = frozenset((*BLOB_COLUMNS, *DOUBLE_COLUMNS, INDEX_COLUMN))
# The columns of a dataset as the SQL API shows them, in Analytics Engine's order.
SQL_COLUMNS = ("dataset", "timestamp", "_sample_interval", INDEX_COLUMN, *BLOB_COLUMNS, *DOUBLE_COLUMNS)
# The leading columns of a COPY row (``tracking.db.datapoint_copy``); blobs then doubles follow.
COPY_HEAD_COLUMNS = ("dataset_id", "timestamp", INDEX_COLUMN, "dedup_id")
