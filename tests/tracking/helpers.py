import gzip

import orjson
from django.db import connection
from django.test import Client

from tracking.models import Dataset


def post_points(client: Client, key: str, dataset: str, body: object, **headers: str):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    content_type = headers.pop("content_type", "application/json")
    if headers.pop("gzip", False):
        data = gzip.compress(data)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    return client.post(
        f"/api/v1/datasets/{dataset}/datapoints",
        data=data,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **headers,
    )


def stored_rows(dataset: Dataset, columns: str = "index1, blob1, blob2, double1") -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM tracking_datapoint WHERE dataset_id = %s ORDER BY timestamp, index1",
            [dataset.id],
        )
        return cursor.fetchall()
