"""Analytics Engine's fixed data point shape: 20 blobs, 20 doubles and one index.

It sits at the bottom of the layers (tracking -> projects -> meauxcloud) so that every app
names the same columns: ``tracking.columns`` builds its catalogue on it, and projects'
governance matches deletions on these columns without importing tracking.
"""

MAX_BLOBS = 20
MAX_DOUBLES = 20
MAX_INDEXES = 1
BLOB_COLUMNS = tuple(f"blob{i}" for i in range(1, MAX_BLOBS + 1))
DOUBLE_COLUMNS = tuple(f"double{i}" for i in range(1, MAX_DOUBLES + 1))
INDEX_COLUMN = "index1"
