"""RFC 9457 problem details for every API error, so clients parse one error shape."""

import json
from http import HTTPStatus
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler

from meauxcloud.database import database_unavailable

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApiProblem(exceptions.APIException):
    """An API error with its own status, machine code and optional extra members."""

    def __init__(
        self, *, status_code: int, detail: str, code: str, retry_after: int | None = None, **extra: Any
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        self.extra = extra
        super().__init__(detail=detail, code=code)


class StrictJSONParser(JSONParser):
    """JSON that PostgreSQL can store: orjson refuses lone surrogates, nesting past 1,024
    levels (where ``json`` would raise RecursionError, a 500) and numbers past 64 bits."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return orjson.loads(stream.read() if stream is not None else b"")
        except orjson.JSONDecodeError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from error


def problem_response(
    *, status_code: int, detail: str, code: str, retry_after: int | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://meauxcloud.dev/problems/{code}",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
        **extra,
    }
    response = Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _flatten(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return str(detail)


DATABASE_RETRY_AFTER_SECONDS = 5

def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if database_unavailable(exc):
        return problem_response(
            status_code=503,
            code="database_unavailable",
            detail="The database is unavailable; nothing was done. Retry later.",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiProblem):
        return problem_response(
            status_code=exc.status_code,
            detail=str(exc.detail),
            code=str(exc.get_codes()),
            retry_after=exc.retry_after,
            **exc.extra,
        )
    extra: dict[str, Any] = {}
    code = "error"
    if isinstance(exc, exceptions.ValidationError):
        extra["errors"] = exc.detail
        code = "invalid"
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    problem = problem_response(status_code=response.status_code, detail=_flatten(detail), code=code, **extra)
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            problem[header] = response[header]
    return problem


#: Paths whose clients parse JSON: Django's own 404 and 400 pages would be HTML to them.
API_PATH_PREFIXES = ("/api/", "/client/", "/clickhouse/", "/metrics/", "/otlp/", "/healthz")


def _problem_page(request: HttpRequest, *, status_code: int, code: str, detail: str) -> HttpResponse | None:
    if not request.path.startswith(API_PATH_PREFIXES):
        return None
    body = {
        "type": f"https://meauxcloud.dev/problems/{code}",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    return HttpResponse(json.dumps(body), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: problem+json for API paths, Django's page elsewhere."""
    problem = _problem_page(request, status_code=404, code="not_found", detail=f"No endpoint at {request.path}.")
    return problem or defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400`` (e.g. a Host not in ALLOWED_HOSTS): problem+json for API paths."""
    problem = _problem_page(request, status_code=400, code="bad_request", detail="The request was refused as malformed.")
    return problem or defaults.bad_request(request, exception)
