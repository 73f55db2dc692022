"""Transports: signed webhooks and e-mail, and the guard against server-side request forgery.

A webhook is a POST of a JSON body with ``X-Meaux-Signature: t=<unix>,v1=<hex>``, where the
hex is HMAC-SHA256 with the channel's secret over ``"<t>.<raw body>"``; receivers check it
and the age of ``t`` (docs/alerts.md has a receiver).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.mail import EmailMessage

from tracking.alerts.conf import alerts_settings

SIGNATURE_HEADER = "X-Meaux-Signature"
DELIVERY_HEADER = "X-Meaux-Delivery"
USER_AGENT = "MeauxCLOUD-Alerts/1"


class UrlRefused(ValueError):
    """A webhook URL this server will not call."""

    field = "url"


def _address_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def webhook_url_check(*, url: str) -> None:
    """Refuse non-HTTP(S) URLs and hosts resolving to loopback, private, link-local or reserved
    addresses, unless ALERTS_ALLOW_PRIVATE_URLS. Checked at creation and again at every send,
    since DNS can change in between."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("The webhook URL must be an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        raise UrlRefused("The webhook URL must not carry credentials.")
    if alerts_settings.ALLOW_PRIVATE_URLS:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as error:
        raise UrlRefused(f"The webhook host {parts.hostname!r} does not resolve.") from error
    if any(_address_private(str(info[4][0])) for info in infos):
        raise UrlRefused(
            f"The webhook host {parts.hostname!r} is on a loopback or private network; "
            "set ALERTS_ALLOW_PRIVATE_URLS=1 to allow that (development only)."
        )


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    status_code: int | None = None
    error: str = ""


def webhook_send(*, url: str, secret: str, body: bytes, delivery_id: str) -> SendOutcome:
    try:
        webhook_url_check(url=url)
    except UrlRefused as error:
        return SendOutcome(ok=False, error=str(error))
    signature = webhook_signature(secret=secret, timestamp=int(time.time()), body=body)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature,
            DELIVERY_HEADER: delivery_id,
        },
    )
    try:
        with _OPENER.open(request, timeout=alerts_settings.DELIVERY_TIMEOUT_SECONDS) as response:
            return SendOutcome(ok=200 <= response.status < 300, status_code=response.status)
    except urllib.error.HTTPError as error:
        return SendOutcome(ok=False, status_code=error.code, error=f"HTTP {error.code}")
    except (OSError, ValueError) as error:
        return SendOutcome(ok=False, error=f"{type(error).__name__}: {error}"[:500])


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead past the address check; a receiver must answer at its own URL."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def email_send(*, to: list[str], subject: str, body: str, delivery_id: str) -> SendOutcome:
    """One message to all addresses; its Message-ID carries the delivery id so a retry is recognisable."""
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=alerts_settings.FROM_EMAIL,
        to=to,
        headers={"Message-ID": f"<{delivery_id}@meauxcloud.alerts>", DELIVERY_HEADER: delivery_id},
    )
    try:
        message.send(fail_silently=False)
    except (OSError, ValueError) as error:
        return SendOutcome(ok=False, error=f"{type(error).__name__}: {error}"[:500])
    return SendOutcome(ok=True)
