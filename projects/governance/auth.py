"""Login throttling: after a few failures, a username+address pair is refused for a while.

An authentication backend rather than a view decorator, so every login form (admin and
the site's) is covered. Counting happens in Redis with one atomic INCR; while blocked,
even the right password is refused (otherwise the block would leak which guess was right).
"""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from meauxcloud.proxy import client_address
from meauxcloud.redis import redis_client
from projects.governance.conf import governance_settings


def _slot(request: HttpRequest | None, username: str) -> str:
    address = client_address(request) if request is not None else ""
    return f"meauxcloud:login-failures:{address}:{username.lower()}"


def login_failures(*, request: HttpRequest | None, username: str) -> int:
    return int(redis_client().get(_slot(request, username)) or 0)


class RateLimitedModelBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any) -> Any:
        if username is None:
            username = kwargs.get("username", "")
        slot = _slot(request, username or "")
        if int(redis_client().get(slot) or 0) >= governance_settings.LOGIN_MAX_FAILURES:
            raise PermissionDenied("too many failed logins")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            pipe = redis_client().pipeline(transaction=True)
            pipe.incr(slot)
            pipe.expire(slot, governance_settings.LOGIN_WINDOW_SECONDS)
            pipe.execute()
        else:
            redis_client().delete(slot)
        return user
