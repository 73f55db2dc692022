"""The catalogue of a data point's columns: every list of blob, double and index columns comes from here.

Analytics Engine's shape is fixed (20 blobs, 20 doubles, one index), and the points table,
the rollup stage table, the SQL API's schema, dataset labels and COPY all name the same
columns; one catalogue keeps them from drifting apart. The shape itself is
``meauxcloud.columns``, so that projects (deletion filters) name the same columns.
"""

from meauxcloud.columns import BLOB_COLUMNS, DOUBLE_COLUMNS, INDEX_COLUMN, MAX_BLOBS, MAX_DOUBLES, MAX_INDEXES

__all__ = [
    "BLOB_COLUMNS", "COPY_HEAD_COLUMNS", "DATA_COLUMNS", "DOUBLE_COLUMNS", "INDEX_COLUMN", "MAX_BLOBS", "MAX_DOUBLES",
    "MAX_INDEXES", "SQL_COLUMNS", "blob_read_sql",
]

# The columns a dataset label can name.
DATA_COLUMNS = frozenset((*BLOB_COLUMNS, *DOUBLE_COLUMNS, INDEX_COLUMN))
# The columns of a dataset as the SQL API shows them, in Analytics Engine's order.
SQL_COLUMNS = ("dataset", "timestamp", "_sample_interval", INDEX_COLUMN, *BLOB_COLUMNS, *DOUBLE_COLUMNS)
# The leading columns of a COPY row (``tracking.db.datapoint_copy``); blobs then doubles follow.
COPY_HEAD_COLUMNS = ("dataset_id", "timestamp", INDEX_COLUMN, "dedup_id")


def blob_read_sql(column: str) -> str:
    """A blob column as the SQL engine reads it: NULL (unset) as ClickHouse's default ''.

    CASE rather than ``coalesce()``: under the sandbox's row-level security PostgreSQL takes a
    filter of the user's query as an index condition only when it can tell that no part of it
    leaks the rows it sees, and it cannot tell that of COALESCE (``contain_leaked_vars``), while
    a CASE over ``IS NULL`` it can. The points' index on blob1 (``tracking.db.first_blob_index_build``)
    is on this very expression, so ``WHERE blob1 = 'error'`` reads only the error points.
    """
    return f"CASE WHEN {column} IS NULL THEN '' ELSE {column} END"
