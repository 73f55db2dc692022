"""Who the client is when a reverse proxy stands in front: trusted only when ``TRUSTED_PROXY`` says so.

Without it, ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are headers any client can send,
so the login throttle and the audit log use the socket's address and HTTPS is what the
socket says. With it, the proxy is the one hop in front of us: the last address it appended
to ``X-Forwarded-For`` is the client, and its ``X-Forwarded-Proto`` is believed.
"""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    if settings.TRUSTED_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR", "")
