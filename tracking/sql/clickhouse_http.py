"""A read-only ClickHouse HTTP interface at ``/clickhouse/``, scoped to one project.

ClickHouse drivers (clickhouse-connect, @clickhouse/client, Grafana's plugins, Metabase,
Superset, dbt) speak this protocol; here it reaches the same guarded engine, quotas, audit
log and row-level security as the Analytics Engine endpoints. The user is the project slug
(or ``default``), the password a read key. Everything a request can set besides the query,
its format, database and ``param_*`` values is a ClickHouse setting, and settings are
accepted and ignored: none can widen what a query may do.

Error bodies, codes and HTTP statuses follow ClickHouse
(``Code: 60. DB::Exception: ... (UNKNOWN_TABLE)`` with ``X-ClickHouse-Exception-Code``),
except that refusals ClickHouse answers with 500 (READONLY, quotas) get a 4xx here.
"""

import base64
import binascii
import json
import uuid

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from projects.authentication import api_key_authenticate
from projects.governance.quotas import QuotaExceeded
from projects.models import ApiKey, Scope
from tracking.sql.engine import SqlError, SqlResult
from tracking.sql.introspection import DATABASES, DEFAULT_DATABASE, SERVER_VERSION
from tracking.sql.native import native_render
from tracking.sql.pool import PoolBusy
from tracking.sql.runner import query_run
from tracking.sql.translate import MAX_QUERY_BYTES, format_name
from tracking.sql.views import SqlHttpResponse

# (substring of our message, ClickHouse code, name, HTTP status), first match wins.
_ERROR_CODES = [
    ("Unknown database", 81, "UNKNOWN_DATABASE", 404),
    ("Unknown table", 60, "UNKNOWN_TABLE", 404),
    ("Unknown column", 47, "UNKNOWN_IDENTIFIER", 404),
    ("Unknown or not allowed function", 46, "UNKNOWN_FUNCTION", 404),
    ("Unknown format", 73, "UNKNOWN_FORMAT", 404),
    ("Only SELECT and SHOW", 164, "READONLY", 403),
    ("Query is longer than", 62, "SYNTAX_ERROR", 400),
    ("Syntax error", 62, "SYNTAX_ERROR", 400),
    ("Cannot tokenize", 62, "SYNTAX_ERROR", 400),
    ("Supported statements", 62, "SYNTAX_ERROR", 400),
    ("Exactly one statement", 62, "SYNTAX_ERROR", 400),
    ("Empty query", 62, "SYNTAX_ERROR", 400),
    ("nested", 167, "TOO_DEEP_AST", 400),
    ("syntax nodes", 168, "TOO_BIG_AST", 400),
    ("time limit", 159, "TIMEOUT_EXCEEDED", 408),
    ("Result exceeds", 396, "TOO_MANY_ROWS_OR_BYTES", 400),
    ("SQL_MAX_AGGREGATE_BYTES", 241, "MEMORY_LIMIT_EXCEEDED", 400),
    ("Illegal type", 43, "ILLEGAL_TYPE_OF_ARGUMENT", 400),
    ("is not supported", 48, "NOT_IMPLEMENTED", 400),
]


class ClickHouseError(Exception):
    def __init__(self, code: int, name: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message
        self.status = status


def _error_response(error: ClickHouseError, query_id: str) -> HttpResponse:
    body = f"Code: {error.code}. DB::Exception: {error.message}. ({error.name}) (version {SERVER_VERSION})\n"
    response = HttpResponse(body.encode(), status=error.status, content_type="text/plain; charset=UTF-8")
    response["X-ClickHouse-Exception-Code"] = str(error.code)
    response["X-ClickHouse-Query-Id"] = query_id
    response["X-ClickHouse-Server-Display-Name"] = "meauxcloud"
    return response


def _from_sql_error(error: SqlError) -> ClickHouseError:
    message = str(error)
    for fragment, code, name, status in _ERROR_CODES:
        if fragment in message:
            return ClickHouseError(code, name, message, status)
    return ClickHouseError(36, "BAD_ARGUMENTS", message, 400)


def _credentials(request: HttpRequest) -> tuple[str, str]:
    """(user, password) the ClickHouse ways: X-ClickHouse-* headers, Basic or Bearer auth, URL parameters."""
    if "HTTP_X_CLICKHOUSE_KEY" in request.META or "HTTP_X_CLICKHOUSE_USER" in request.META:
        return request.META.get("HTTP_X_CLICKHOUSE_USER", ""), request.META.get("HTTP_X_CLICKHOUSE_KEY", "")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ClickHouseError(194, "REQUIRED_PASSWORD", "Malformed Basic authorization header", 401) from None
        user, _, password = decoded.partition(":")
        return user, password
    if scheme.lower() == "bearer":
        return "", value.strip()
    return request.GET.get("user", ""), request.GET.get("password", "")


def _authenticate(request: HttpRequest) -> ApiKey:
    user, password = _credentials(request)
    if not password:
        raise ClickHouseError(
            194, "REQUIRED_PASSWORD", "Password required: the user is the project slug, the password a read key", 401
        )
    api_key = api_key_authenticate(secret=password)
    if api_key is None or (user not in ("", DEFAULT_DATABASE) and user != api_key.project.slug):
        raise ClickHouseError(
            516,
            "AUTHENTICATION_FAILED",
            f"{user or 'default'}: Authentication failed: password is incorrect, or there is no user with such name",
            403,
        )
    if not api_key.has_scope(Scope.READ):
        raise ClickHouseError(497, "ACCESS_DENIED", "This API key lacks the 'read' scope", 403)
    return api_key


def _body(request: HttpRequest) -> bytes:
    """The POST body, including chunked bodies without Content-Length (as the drivers send them)."""
    if request.method != "POST":
        return b""
    if request.META.get("CONTENT_LENGTH") in (None, "") and "chunked" in request.META.get(
        "HTTP_TRANSFER_ENCODING", ""
    ).lower():
        data = request.META["wsgi.input"].read(MAX_QUERY_BYTES + 1)
    else:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_QUERY_BYTES:
            raise ClickHouseError(
                62, "SYNTAX_ERROR", f"Max query size exceeded: Query is longer than {MAX_QUERY_BYTES} bytes", 413
            )
        data = request.read(length)
    if len(data) > MAX_QUERY_BYTES:
        raise ClickHouseError(
            62, "SYNTAX_ERROR", f"Max query size exceeded: Query is longer than {MAX_QUERY_BYTES} bytes", 413
        )
    return data


def _query_text(request: HttpRequest) -> str:
    """``query`` from the URL, followed by the body (ClickHouse appends the body to the URL's query)."""
    try:
        body = _body(request).decode("utf-8")
    except UnicodeDecodeError:
        raise ClickHouseError(62, "SYNTAX_ERROR", "The query must be UTF-8 text", 400) from None
    parts = [part for part in (request.GET.get("query", ""), body) if part]
    if not parts:
        raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query", 400)
    return "\n".join(parts)


def _database(request: HttpRequest, api_key: ApiKey) -> str:
    database = request.GET.get("database") or request.META.get("HTTP_X_CLICKHOUSE_DATABASE") or DEFAULT_DATABASE
    if database == api_key.project.slug:
        return DEFAULT_DATABASE
    if database not in DATABASES:
        raise ClickHouseError(
            81, "UNKNOWN_DATABASE", f"Database {database} does not exist: the project's datasets are in default", 404
        )
    return database


def _default_format(request: HttpRequest) -> str:
    name = request.GET.get("default_format") or request.META.get("HTTP_X_CLICKHOUSE_FORMAT") or "TabSeparated"
    try:
        return format_name(name)
    except SqlError as error:
        raise _from_sql_error(error) from None


def _protocol_version(request: HttpRequest) -> int:
    value = request.GET.get("client_protocol_version", "")
    return int(value) if value.isdigit() and len(value) <= 9 else 0


def _success(result: SqlResult, query_id: str, protocol_version: int) -> HttpResponse:
    body = result.body
    if result.format == "Native" and protocol_version:
        body = native_render(result.columns, result.rows, protocol_version=protocol_version)
    response = SqlHttpResponse(body, content_type=result.content_type)
    summary = {
        "read_rows": str(result.row_count),
        "read_bytes": str(len(body)),
        "written_rows": "0",
        "written_bytes": "0",
        "total_rows_to_read": str(result.rows_before_limit),
        "result_rows": str(result.row_count),
        "result_bytes": str(len(body)),
    }
    response["X-ClickHouse-Summary"] = json.dumps(summary, separators=(",", ":"))
    response["X-ClickHouse-Format"] = result.format
    response["X-ClickHouse-Timezone"] = "UTC"
    response["X-ClickHouse-Query-Id"] = query_id
    response["X-ClickHouse-Server-Display-Name"] = "meauxcloud"
    return response


@csrf_exempt
def clickhouse_query_view(request: HttpRequest) -> HttpResponse:
    """``GET``/``POST /clickhouse/``: one read-only query, answered in the requested ClickHouse format."""
    query_id = (request.GET.get("query_id") or str(uuid.uuid4()))[:100]
    if request.method not in ("GET", "POST"):
        error = ClickHouseError(1, "UNSUPPORTED_METHOD", f"HTTP method {request.method} is not supported", 405)
        return _error_response(error, query_id)
    if request.method == "GET" and "query" not in request.GET:
        return HttpResponse(b"Ok.\n", content_type="text/plain; charset=UTF-8")
    try:
        api_key = _authenticate(request)
        sql = _query_text(request)
        database = _database(request, api_key)
        default_format = _default_format(request)
        params = {name[len("param_") :]: value for name, value in request.GET.items() if name.startswith("param_")}
        result = query_run(
            project=api_key.project,
            sql=sql,
            params=params or None,
            default_format=default_format,
            database=database,
            interface="clickhouse-http",
            then_later=True,
        )
    except ClickHouseError as error:
        return _error_response(error, query_id)
    except SqlError as error:
        return _error_response(_from_sql_error(error), query_id)
    except (QuotaExceeded, PoolBusy) as refusal:
        too_many = ClickHouseError(202, "TOO_MANY_SIMULTANEOUS_QUERIES", str(refusal.detail), 429)
        response = _error_response(too_many, query_id)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    return _success(result, query_id, _protocol_version(request))


def clickhouse_ping_view(request: HttpRequest) -> HttpResponse:
    """``/clickhouse/ping``: what ``client.ping()`` calls, unauthenticated as in ClickHouse."""
    return HttpResponse(b"Ok.\n", content_type="text/plain; charset=UTF-8")
