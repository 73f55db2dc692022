"""OpenAPI descriptions of the ingest and health endpoints, for /api/schema/ and its fuzzing.

Documentation only: ingest validates with msgspec (tracking/ingest/decode.py), never with these
serializers, which would be 20× slower on the hot path.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

PROBLEM = OpenApiResponse(description="application/problem+json (RFC 9457) with `code` and `detail`.")


class DataPointSerializer(serializers.Serializer):
    blobs = serializers.ListField(child=serializers.CharField(allow_null=True), max_length=20, required=False)
    doubles = serializers.ListField(child=serializers.FloatField(), max_length=20, required=False)
    indexes = serializers.ListField(child=serializers.CharField(allow_null=True), max_length=1, required=False)
    timestamp = serializers.IntegerField(required=False, help_text="Milliseconds since the epoch, or RFC 3339 text.")
    id = serializers.CharField(max_length=64, required=False, help_text="Deduplicates retries within a day.")


class PointErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = PointErrorSerializer(many=True)  # type: ignore[assignment]  # DRF's metaclass moves declared fields off the class
    duplicates = serializers.IntegerField(required=False)


INGEST_SCHEMA = extend_schema(
    request={"application/json": DataPointSerializer(many=True), "application/x-ndjson": OpenApiTypes.STR},
    responses={202: IngestResultSerializer, 400: PROBLEM, 403: PROBLEM, 413: PROBLEM, 415: PROBLEM, 429: PROBLEM, 503: PROBLEM},
)
WORKERD_SCHEMA = extend_schema(
    request=OpenApiTypes.OBJECT, responses={202: IngestResultSerializer, 400: PROBLEM, 403: PROBLEM, 429: PROBLEM, 503: PROBLEM}
)
HEALTH_SCHEMA = extend_schema(
    responses={200: OpenApiTypes.OBJECT, 503: OpenApiResponse(OpenApiTypes.OBJECT, description="A part is down.")}
)
