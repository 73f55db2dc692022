"""The audit log: recording (services), reading (selectors) and who is acting (request context).

Services elsewhere call ``audit_record`` without passing the actor: the middleware keeps
the current request in a context variable, and the actor is read from it at record time
(after DRF has authenticated an API key, ``request.user`` is that key's principal).
Outside a request (Celery, management commands) the actor is "system".
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from meauxcloud.proxy import client_address
from projects.governance.db import audit_event_insert
from projects.governance.models import AuditEvent, AuditOutcome
from projects.models import Project

_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


class AuditContextMiddleware:
    """Makes the request available to ``audit_record`` for the duration of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


@dataclass(frozen=True)
class Actor:
    label: str
    user: Any = None
    api_key_prefix: str = ""
    ip: str | None = None


def actor_current() -> Actor:
    request = _current_request.get()
    if request is None:
        return Actor(label="system")
    ip = client_address(request) or None
    user = getattr(request, "user", None)
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return Actor(label=f"key {api_key.prefix}", api_key_prefix=api_key.prefix, ip=ip)
    if user is not None and getattr(user, "is_authenticated", False):
        return Actor(label=f"user {user.get_username()}", user=user, ip=ip)
    return Actor(label="anonymous", ip=ip)


def audit_record(
    *,
    project: Project | None,
    action: str,
    target: str = "",
    outcome: str = AuditOutcome.OK,
    details: dict[str, Any] | None = None,
    actor: Actor | None = None,
    project_slug: str = "",
) -> AuditEvent:
    """``project_slug`` names a project that is gone (``project`` None), e.g. when its data deletion finishes.

    Written by ``audit_event_insert`` (one statement, without the ORM's save) in the caller's
    transaction, if any: every SQL query writes one.
    """
    event = audit_event_build(
        project=project, action=action, target=target, outcome=outcome, details=details, actor=actor,
        project_slug=project_slug,
    )
    event.id = audit_event_insert(event=event)
    event._state.adding = False
    event._state.db = "default"
    return event


def audit_event_build(
    *,
    project: Project | None,
    action: str,
    target: str = "",
    outcome: str = AuditOutcome.OK,
    details: dict[str, Any] | None = None,
    actor: Actor | None = None,
    project_slug: str = "",
) -> AuditEvent:
    """The unsaved event ``audit_record`` writes, for a caller that sends its INSERT itself (``audit_event_insert_sql``)."""
    actor = actor or actor_current()
    return AuditEvent(
        project=project,
        project_slug=project.slug if project is not None else project_slug,
        action=action,
        actor=actor.label,
        user=actor.user,
        api_key_prefix=actor.api_key_prefix,
        ip=actor.ip,
        target=_storable(target)[:200],
        outcome=outcome,
        details=_storable(details or {}),
        created_at=timezone.now(),
    )


@dataclass(frozen=True)
class AuditEntry:
    """One row for ``audit_record_many``: the actor and time are the batch's, so only what differs per row is here."""

    project: Project
    action: str
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def audit_record_many(*, entries: Sequence[AuditEntry]) -> None:
    """One INSERT for many rows by the same actor: an evaluation cycle can notify hundreds at once."""
    if not entries:
        return
    actor = actor_current()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                project=entry.project,
                project_slug=entry.project.slug,
                action=entry.action,
                actor=actor.label,
                user=actor.user,
                api_key_prefix=actor.api_key_prefix,
                ip=actor.ip,
                target=_storable(entry.target)[:200],
                details=_storable(entry.details),
            )
            for entry in entries
        ]
    )


def _storable(value: Any) -> Any:
    """PostgreSQL text and jsonb refuse NUL and lone surrogates; a hostile query text must still be logged."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def audit_list(
    *,
    project: Project,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
) -> QuerySet[AuditEvent]:
    """A project's events, newest first; ``before_id`` pages through older ones."""
    events = AuditEvent.objects.filter(project=project)
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor=actor)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    if before_id:
        events = events.filter(id__lt=before_id)
    return events.order_by("-id")


CSV_COLUMNS = ["id", "created_at", "project_slug", "action", "actor", "api_key_prefix", "ip", "target", "outcome", "details"]


def audit_event_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "created_at": event.created_at.isoformat(),
        "project": event.project_slug,
        "action": event.action,
        "actor": event.actor,
        "api_key_prefix": event.api_key_prefix,
        "ip": event.ip,
        "target": event.target,
        "outcome": event.outcome,
        "details": event.details,
    }


def audit_csv(events: Iterable[AuditEvent]) -> str:
    """CSV with formula-looking cells neutralised, so a spreadsheet never runs a tenant's text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        row = audit_event_row(event)
        cells = [row["id"], row["created_at"], row["project"], row["action"], row["actor"], row["api_key_prefix"],
                 row["ip"] or "", row["target"], row["outcome"], row["details"]]
        writer.writerow([_csv_safe(cell) for cell in cells])
    return out.getvalue()


def _csv_safe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

