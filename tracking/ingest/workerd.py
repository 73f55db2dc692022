"""workerd's ``analyticsEngine`` binding event, turned into an Analytics Engine data point.

Open-source workerd posts one capnp-JSON ``AnalyticsEngineEvent`` per ``writeDataPoint()``
call to the service its binding names: Data fields (``dataset``, ``index1``, ``blobN``)
arrive as arrays of byte values, ``doubleN`` as numbers and ``timestamp`` in nanoseconds,
usually as a string. workerd sends all twenty doubles, unset ones as 0; trailing zeros
are dropped here, which reads back the same (an unset double reads as 0) and saves the
table eight bytes for each.
"""

from datetime import datetime, timedelta

import msgspec

from tracking.columns import MAX_BLOBS, MAX_DOUBLES
from tracking.ingest.decode import EPOCH, DataPoint

_event_decoder = msgspec.json.Decoder(dict[str, object])


class InvalidEvent(ValueError):
    pass


def _bytes_field(event: dict[str, object], name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not all(isinstance(b, int) and 0 <= b <= 255 for b in value):
        raise InvalidEvent(f"{name} must be an array of byte values.")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent(f"{name} is not valid UTF-8.") from None


def _timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float | str):
        raise InvalidEvent("timestamp must be nanoseconds since the epoch.")
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        raise InvalidEvent("timestamp must be nanoseconds since the epoch.") from None
    try:
        return EPOCH + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        raise InvalidEvent("timestamp is out of range.") from None


def workerd_event_decode(body: bytes) -> tuple[str, DataPoint]:
    """The event's dataset name and its data point (blob and double positions kept)."""
    try:
        event = _event_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        raise InvalidEvent("Body is not a JSON object.") from None
    except UnicodeDecodeError:
        raise InvalidEvent("Body is not valid UTF-8.") from None
    dataset = _bytes_field(event, "dataset")
    if not dataset:
        raise InvalidEvent("dataset is missing.")
    blob_positions = [n for n in range(1, MAX_BLOBS + 1) if event.get(f"blob{n}") is not None]
    blobs = [_bytes_field(event, f"blob{n}") for n in range(1, max(blob_positions, default=0) + 1)]
    double_positions = [n for n in range(1, MAX_DOUBLES + 1) if event.get(f"double{n}") not in (None, 0)]
    doubles = []
    for n in range(1, max(double_positions, default=0) + 1):
        value = event.get(f"double{n}", 0)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidEvent(f"double{n} must be a number.")
        try:
            doubles.append(float(value))
        except OverflowError:
            raise InvalidEvent(f"double{n} is out of range for a double.") from None
    index1 = _bytes_field(event, "index1")
    point = DataPoint(
        blobs=blobs or None,
        doubles=doubles or None,
        indexes=[index1] if index1 else None,
        timestamp=_timestamp(event.get("timestamp")),
    )
    return dataset, point
