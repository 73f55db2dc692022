"""SQL endpoints. Thin: they extract the query from the body and run it through ``query_run`` (quotas, audit)."""

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from meauxcloud.api import ApiProblem
from projects.api import ProjectAPIView
from projects.authentication import ApiKeyAuthentication, RawBodySessionAuthentication
from projects.models import Project, Scope
from tracking.sql.db import sql_sandbox_finish
from tracking.sql.engine import PLANS, SqlError, SqlResult
from tracking.sql.introspection import DATABASES, DEFAULT_DATABASE
from tracking.sql.ir import is_storable_text
from tracking.sql.pool import sql_pool_shed
from tracking.sql.runner import query_run
from tracking.sql.translate import MAX_QUERY_BYTES


class _BadBody(Exception):
    pass


class _BodyTooLarge(_BadBody):
    pass


def _query_from_body(request: Request) -> tuple[str, dict[str, Any] | None]:
    """Raw SQL as Cloudflare takes it, or ``{"query": ..., "params": {...}}`` as JSON clients send."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _BodyTooLarge(f"Query is longer than {MAX_QUERY_BYTES} bytes") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadBody("The body must be UTF-8 text") from None
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    stripped = text.lstrip()
    if content_type == "application/json" or stripped.startswith("{"):
        try:
            payload = json.loads(text)
        except RecursionError:
            raise _BadBody("The JSON body nests too deeply") from None
        except ValueError:
            if content_type == "application/json":
                raise _BadBody("The body is not valid JSON") from None
            return text, None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise _BadBody('A JSON body must be an object with a "query" string')
        params = payload.get("params")
        if params is not None and not isinstance(params, dict):
            raise _BadBody('"params" must be an object of named values')
        if not is_storable_text(payload["query"]):
            raise _BadBody('"query" holds a NUL character or a lone surrogate (an unpaired \\ud800-\\udfff escape)')
        return payload["query"], params
    return text, None


_SQL_BODY = {
    "text/plain": OpenApiTypes.STR,
    "application/json": {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string"},
            "params": {
                "type": "object",
                "additionalProperties": True,
                "description": "Values of {name:Type} placeholders (/api/v1/sql only).",
            },
        },
    },
}
_RESULT = OpenApiResponse(
    response={
        "type": "object",
        "properties": {
            "meta": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string"}}},
            },
            "data": {"type": "array", "items": {"type": "object"}},
            "rows": {"type": "integer"},
            "rows_before_limit_at_least": {"type": "integer"},
        },
    },
    description="FORMAT JSON (default); JSONEachRow, TabSeparated, CSV and JSONCompact when the SQL asks for them.",
)


def _database(request: Request, project: Project) -> str:
    """The ``database`` parameter ClickHouse tools send: ``default``/``system``, or the project slug for default."""
    database = request.query_params.get("database") or DEFAULT_DATABASE
    if database == project.slug:
        return DEFAULT_DATABASE
    if database not in DATABASES:
        raise SqlError(f"Unknown database {database}: the project's datasets are in default")
    return database


def _plan(request: Request) -> str:
    """``?plan=raw`` forces the raw scan even where a projection covers the query, ``?plan=projection`` a
    covering projection even where the raw scan is cheaper (to compare the two)."""
    plan = request.query_params.get("plan") or "auto"
    if plan not in PLANS:
        raise SqlError(f"plan must be one of {', '.join(PLANS)}")
    return plan


class SqlHttpResponse(HttpResponse):
    """A query's result, sent before its audit event is written (``query_run(then_later=True)``): the server
    closes the response once the body is written, and the event goes then."""

    def close(self) -> None:
        try:
            sql_sandbox_finish()
        finally:
            super().close()


def _success(result: SqlResult) -> HttpResponse:
    response = SqlHttpResponse(result.body, content_type=result.content_type, status=200)
    response["X-Query-Plan"] = result.plan
    return response


_PLAN_PARAMETER = OpenApiParameter(
    "plan",
    str,
    enum=list(PLANS),
    description="auto (default): a projection answers where one covers the query, unless the query's time window "
    "fits in one of its buckets (the raw scan is cheaper then); projection: a covering projection answers even then; "
    "raw: always scan the raw points. "
    "The X-Query-Plan response header says which answered: raw or projection=<name>.",
)


class _SqlAPIView(ProjectAPIView):
    """A full SQL pool refuses before authentication (``sql_pool_shed``): the cheapest 429 there is."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        sql_pool_shed()
        super().initial(request, *args, **kwargs)


class CloudflareSqlView(_SqlAPIView):
    """``POST /client/v4/accounts/{project_slug}/analytics_engine/sql``, shaped like Cloudflare's.

    The "account id" is the project slug; a read-scoped key of another project gets 403.
    Errors use Cloudflare's shapes: 422 ``text/plain`` ``Input was invalid: …`` for queries,
    the ``{success, errors}`` envelope for authentication and permission failures.
    """

    required_scope = Scope.READ
    authentication_classes = [ApiKeyAuthentication]
    parser_classes: list = []

    @extend_schema(
        operation_id="analytics_engine_sql",
        summary="Analytics Engine SQL (Cloudflare-compatible)",
        request=_SQL_BODY,
        parameters=[_PLAN_PARAMETER],
        responses={
            200: _RESULT,
            (422, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Input was invalid: <reason>"),
        },
        tags=["sql"],
    )
    def post(self, request: Request, project_slug: str) -> HttpResponse:
        try:
            query, params = _query_from_body(request)
            result = query_run(
                project=self.project,
                sql=query,
                params=params,
                database=_database(request, self.project),
                plan=_plan(request),
                then_later=True,
            )
        except (SqlError, _BadBody) as error:
            return HttpResponse(f"Input was invalid: {error}", status=422, content_type="text/plain; charset=utf-8")
        return _success(result)

    @extend_schema(
        operation_id="analytics_engine_sql_get",
        summary="Analytics Engine SQL as ?query= (what Grafana's Altinity plugin sends unless 'Use POST' is set)",
        parameters=[
            OpenApiParameter("query", str, required=True, description="The SQL, URL-encoded (spaces as + or %20)."),
            OpenApiParameter("database", str, description="default (the datasets) or system; the slug means default."),
            _PLAN_PARAMETER,
        ],
        responses={
            200: _RESULT,
            (422, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Input was invalid: <reason>"),
        },
        tags=["sql"],
    )
    def get(self, request: Request, project_slug: str) -> HttpResponse:
        """Other parameters the plugin adds (``add_http_cors_header``, ``enable_http_compression``) are ignored."""
        query = request.query_params.get("query")
        if not query:
            return HttpResponse(
                "Input was invalid: the query parameter is missing", status=422, content_type="text/plain; charset=utf-8"
            )
        try:
            result = query_run(
                project=self.project, sql=query, database=_database(request, self.project), plan=_plan(request),
                then_later=True,
            )
        except SqlError as error:
            return HttpResponse(f"Input was invalid: {error}", status=422, content_type="text/plain; charset=utf-8")
        return _success(result)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)):
            status_code = 403 if isinstance(exc, exceptions.PermissionDenied) else 401
            code = 10000 if status_code == 401 else 10001
            response = Response(
                {
                    "success": False,
                    "errors": [{"code": code, "message": str(exc.detail)}],
                    "messages": [],
                    "result": None,
                },
                status=status_code,
            )
            if status_code == 401:
                response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        return super().handle_exception(exc)


@extend_schema_view(get=extend_schema(exclude=True), post=extend_schema(exclude=True))
class CloudflareSqlSlashView(CloudflareSqlView):
    """The same endpoint with a trailing slash: Grafana's Altinity plugin requests ``<url>/?query=...``."""


class SqlView(_SqlAPIView):
    """``POST /api/v1/sql``: raw SQL, or JSON ``{"query", "params"}`` binding ``{name:Type}`` placeholders.

    Errors are problem+json with the position of the offending token. Members may call it with
    their session (``?project=<slug>`` and the ``X-CSRFToken`` header), as the SQL explorer does.
    """

    required_scope = Scope.READ
    authentication_classes = [ApiKeyAuthentication, RawBodySessionAuthentication]
    parser_classes: list = []

    @extend_schema(
        operation_id="sql",
        summary="Analytics Engine SQL with bound parameters and problem+json errors",
        request=_SQL_BODY,
        parameters=[_PLAN_PARAMETER],
        responses={200: _RESULT, 422: OpenApiResponse(description="problem+json with detail, line and column")},
        tags=["sql"],
    )
    def post(self, request: Request) -> HttpResponse:
        try:
            query, params = _query_from_body(request)
        except _BodyTooLarge as error:
            raise ApiProblem(status_code=413, code="body_too_large", detail=str(error)) from None
        except _BadBody as error:
            raise ApiProblem(status_code=400, code="malformed_body", detail=str(error)) from None
        try:
            result = query_run(project=self.project, sql=query, params=params, plan=_plan(request), then_later=True)
        except SqlError as error:
            raise ApiProblem(
                status_code=error.status,
                code="invalid_query",
                detail=error.message,
                line=error.line,
                column=error.column,
            ) from None
        return _success(result)
