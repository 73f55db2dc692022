"""Writes for tenants, members and API keys."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, transaction
from django.utils import timezone

from projects.models import ApiKey, Membership, Project, Role, Scope
from tracking import outage

KEY_PREFIX = "mc_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key; ``secret`` exists only here and is never stored."""

    api_key: ApiKey
    secret: str


def api_key_hash(*, secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def project_create(*, slug: str, name: str = "", owner: AbstractBaseUser | None = None) -> Project:
    project = Project(slug=slug, name=name or slug)
    project.full_clean()
    with transaction.atomic():
        project.save()
        if owner is not None:
            Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


def api_key_create(
    *, project: Project, name: str, scopes: list[str], created_by: AbstractBaseUser | None = None
) -> IssuedKey:
    """Keys look like ``mc_<8 id chars>_<43 secret chars>``; the id part is shown in lists."""
    public_id = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        project=project,
        name=name,
        prefix=f"{KEY_PREFIX}{public_id}",
        hashed_key=api_key_hash(secret=secret),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    api_key.full_clean()
    api_key.save()
    return IssuedKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    outage.api_key_forget(api_key=api_key)
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute, so the hot ingest path rarely writes.

    Bookkeeping only: with PostgreSQL down or read-only, ingest goes on without it.
    """
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        try:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        except DatabaseError:
            return
        api_key.last_used_at = now


def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def membership_remove(*, project: Project, user: AbstractBaseUser) -> None:
    Membership.objects.filter(project=project, user=user).delete()

