"""A projection's stored rows and the same rows computed from raw points, for tests to compare."""

from django.db import connection

from tracking.models import Projection
from tracking.projections import db as projection_db


def _key_order(projection: Projection) -> str:
    """Bucket and every dimension: rows with the same bucket and first dimension come in any order otherwise."""
    return ", ".join(str(i) for i in range(1, 2 + len(projection.dimensions)))


def rows_of(projection: Projection) -> list[tuple]:
    """The projection's rows merged per key, as the planner reads them."""
    keys = _key_order(projection)
    dims = ", ".join(f"d{i}" for i in range(1, len(projection.dimensions) + 1))
    measures = ", ".join(
        f"sum(s{i}), sum(w{i}), min(lo{i}), max(hi{i})" for i in range(1, len(projection.doubles) + 1)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT bucket{', ' + dims if dims else ''}, sum(n), sum(si){', ' + measures if measures else ''} "
            f"FROM {projection_db.TABLE} WHERE projection_id = %s GROUP BY bucket{', ' + dims if dims else ''} ORDER BY {keys}",
            [projection.id],
        )
        return cursor.fetchall()


def raw_rows(projection: Projection) -> list[tuple]:
    """The same rows computed straight from the points."""
    keys = _key_order(projection)
    dims = ", ".join(f"coalesce({d}, '')" for d in projection.dimensions)
    measures = ", ".join(
        f"sum(coalesce({d}, 0)::text::numeric), sum((_sample_interval::float8 * coalesce({d}, 0))::text::numeric), "
        f"min(coalesce({d}, 0)), max(coalesce({d}, 0))"
        for d in projection.doubles
    )
    bucket = projection_db.bucket_sql(projection.grain, '"timestamp"')
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {bucket}{', ' + dims if dims else ''}, count(*), sum(_sample_interval){', ' + measures if measures else ''} "
            f"FROM tracking_datapoint WHERE dataset_id = %s GROUP BY {bucket}{', ' + dims if dims else ''} ORDER BY {keys}",
            [projection.dataset_id],
        )
        return cursor.fetchall()
