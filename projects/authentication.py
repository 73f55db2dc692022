"""Bearer API keys for DRF, resolving the project once per request."""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from projects import outage
from projects.models import ApiKey
from projects.selectors import api_key_get_active
from projects.services import api_key_hash, api_key_touch


class ApiKeyUser:
    """The principal of a key-authenticated request: a project, never a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.project = api_key.project

    def __str__(self) -> str:
        return f"key {self.api_key.prefix}"


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The active key a secret names (recently checked copies and outage copies first), touched; else None.

    Shared by DRF's Bearer authentication and the ClickHouse HTTP interface, which takes the
    same secret from ClickHouse's own headers, basic auth or URL parameters.
    """
    if not secret:
        return None
    hashed_key = api_key_hash(secret=secret)
    api_key = outage.api_key_recent(hashed_key=hashed_key)
    if api_key is None:
        try:
            api_key = api_key_get_active(secret=secret)
        except DatabaseError:
            api_key = outage.api_key_recall(hashed_key=hashed_key)
            if api_key is None:
                raise
        else:
            if api_key is not None:
                outage.api_key_remember(api_key=api_key)
    if api_key is not None:
        api_key_touch(api_key=api_key)
    return api_key


def signed_in(user: object) -> User:
    """The person behind a session that authentication already let through, typed as such."""
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, secret = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        api_key = api_key_authenticate(secret=secret.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class RawBodySessionAuthentication(authentication.SessionAuthentication):
    """Session authentication for views that read the raw body and so have no parsers (the SQL API).

    DRF's CSRF check reads ``request.POST``, which on a view without parsers answers 415 for
    every body; the check runs on the Django request instead, where a text or JSON body is
    not form data and the token comes from the ``X-CSRFToken`` header.
    """

    def enforce_csrf(self, request: Request) -> None:
        super().enforce_csrf(request._request)  # type: ignore[arg-type]  # the Django request on purpose, see above
