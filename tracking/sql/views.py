"""SQL endpoints. Thin: they extract the query from the body and call ``sql_execute``."""

import json
from typing import Any

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from governance.queries import query_run
from meauxcloud.api import problem_response
from projects.api import ProjectAPIView
from projects.authentication import ApiKeyAuthentication
from projects.models import Scope
from tracking.sql.engine import SqlError, SqlResult


class _BadBody(Exception):
    pass


def _query_from_body(request: Request) -> tuple[str, dict[str, Any] | None]:
    """Raw SQL as Cloudflare takes it, or ``{"query": ..., "params": {...}}`` as JSON clients send."""
    raw = request.body
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadBody("The body must be UTF-8 text") from None
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    stripped = text.lstrip()
    if content_type == "application/json" or stripped.startswith("{"):
        try:
            payload = json.loads(text)
        except ValueError:
            if content_type == "application/json":
                raise _BadBody("The body is not valid JSON") from None
            return text, None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise _BadBody('A JSON body must be an object with a "query" string')
        params = payload.get("params")
        if params is not None and not isinstance(params, dict):
            raise _BadBody('"params" must be an object of named values')
        return payload["query"], params
    return text, None


def _success(result: SqlResult) -> HttpResponse:
    return HttpResponse(result.body, content_type=result.content_type, status=200)


class CloudflareSqlView(ProjectAPIView):
    """``POST /client/v4/accounts/{project_slug}/analytics_engine/sql``, shaped like Cloudflare's.

    The "account id" is the project slug; a read-scoped key of another project gets 403.
    Errors use Cloudflare's shapes: 422 ``text/plain`` ``Input was invalid: …`` for queries,
    the ``{success, errors}`` envelope for authentication and permission failures.
    """

    required_scope = Scope.READ
    authentication_classes = [ApiKeyAuthentication]
    parser_classes: list = []

    def post(self, request: Request, project_slug: str) -> HttpResponse:
        try:
            query, params = _query_from_body(request)
            result = query_run(project=self.project, sql=query, params=params)
        except (SqlError, _BadBody) as error:
            return HttpResponse(f"Input was invalid: {error}", status=422, content_type="text/plain; charset=utf-8")
        return _success(result)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)):
            status_code = 403 if isinstance(exc, exceptions.PermissionDenied) else 401
            code = 10000 if status_code == 401 else 10001
            response = Response(
                {"success": False, "errors": [{"code": code, "message": str(exc.detail)}], "messages": [], "result": None},
                status=status_code,
            )
            if status_code == 401:
                response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        return super().handle_exception(exc)


class SqlView(ProjectAPIView):
    """``POST /api/v1/sql``: raw SQL, or JSON ``{"query", "params"}`` binding ``{name:Type}`` placeholders.

    Errors are problem+json with the position of the offending token.
    """

    required_scope = Scope.READ
    parser_classes: list = []

    def post(self, request: Request) -> HttpResponse | Response:
        try:
            query, params = _query_from_body(request)
        except _BadBody as error:
            return problem_response(status_code=400, code="malformed_body", detail=str(error))
        try:
            result = query_run(project=self.project, sql=query, params=params)
        except SqlError as error:
            return problem_response(
                status_code=error.status,
                code="invalid_query",
                detail=error.message,
                line=error.line,
                column=error.column,
            )
        return _success(result)
