"""Writes for tenants, members and API keys."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import DatabaseError, transaction
from django.utils import timezone

from projects import outage
from projects.governance.audit import audit_record
from projects.governance.models import AuditAction
from projects.models import ApiKey, Membership, Project, Role, Scope

KEY_PREFIX = "mc_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key; ``secret`` exists only here and is never stored."""

    api_key: ApiKey
    secret: str


def api_key_hash(*, secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def project_create(*, slug: str, name: str = "", owner: User | None = None) -> Project:
    project = Project(slug=slug, name=name or slug)
    project.full_clean()
    with transaction.atomic():
        project.save()
        if owner is not None:
            Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


def api_key_create(
    *, project: Project, name: str, scopes: list[str], created_by: User | None = None
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
    audit_record(
        project=project,
        action=AuditAction.KEY_CREATE,
        target=api_key.prefix,
        details={"name": name, "scopes": api_key.scopes},
    )
    return IssuedKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(project=api_key.project, action=AuditAction.KEY_REVOKE, target=api_key.prefix)
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


def membership_set(*, project: Project, user: User, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def membership_remove(*, project: Project, user: User) -> None:
    Membership.objects.filter(project=project, user=user).delete()



class MembershipChangeRefused(Exception):
    """A membership change that would break a rule: owners stay in charge, someone always owns."""


def _owners_locked(*, project: Project) -> int:
    """Lock the owners' rows (FOR UPDATE allows no COUNT) so two demotions cannot both pass."""
    return len(Membership.objects.select_for_update().filter(project=project, role=Role.OWNER).values_list("pk", flat=True))


def membership_change(*, project: Project, actor_role: str, user: User, role: str) -> Membership:
    """Add a member or change a role, as someone holding ``actor_role`` (owner or admin).

    Admins manage members and admins; only owners grant or take away ownership, and the
    last owner cannot be demoted, so no project is left without one.
    """
    if role not in Role.values:
        raise MembershipChangeRefused(f"Unknown role '{role}'.")
    current = Membership.objects.filter(project=project, user=user).first()
    touches_owner = role == Role.OWNER or (current is not None and current.role == Role.OWNER)
    if touches_owner and actor_role != Role.OWNER:
        raise MembershipChangeRefused("Only an owner can grant or change ownership.")
    demotes_owner = current is not None and current.role == Role.OWNER and role != Role.OWNER
    with transaction.atomic():
        if demotes_owner and _owners_locked(project=project) <= 1:
            raise MembershipChangeRefused("A project needs at least one owner.")
        return membership_set(project=project, user=user, role=role)


def membership_delete(*, project: Project, actor_role: str, user: User) -> None:
    """Remove a member under the same rules as ``membership_change``."""
    current = Membership.objects.filter(project=project, user=user).first()
    if current is None:
        return
    if current.role == Role.OWNER:
        if actor_role != Role.OWNER:
            raise MembershipChangeRefused("Only an owner can remove an owner.")
        with transaction.atomic():
            if _owners_locked(project=project) <= 1:
                raise MembershipChangeRefused("A project needs at least one owner.")
            membership_remove(project=project, user=user)
        return
    membership_remove(project=project, user=user)


def _key_copies_forget(*, project: Project) -> None:
    """Cached keys carry their project: drop them so the change applies at once in this process
    and during a database outage (other processes follow within ``LOCAL_TTL_SECONDS``)."""
    for api_key in ApiKey.objects.filter(project=project, revoked_at__isnull=True):
        outage.api_key_forget(api_key=api_key)


def project_suspend(*, project: Project, reason: str) -> Project:
    """Refuse the project's writes from now on (403 ``project_suspended``); reads keep working.

    Suspending a suspended project changes nothing and records nothing.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("A suspension needs a reason.")
    with transaction.atomic():
        updated = Project.objects.filter(pk=project.pk, suspended_at__isnull=True).update(
            suspended_at=timezone.now(), suspended_reason=reason[:500]
        )
        project.refresh_from_db(fields=["suspended_at", "suspended_reason"])
        if updated:
            audit_record(project=project, action=AuditAction.PROJECT_SUSPEND, target=project.slug, details={"reason": reason[:500]})
    _key_copies_forget(project=project)
    return project


def project_resume(*, project: Project) -> Project:
    """Accept the project's writes again; resuming an active project changes nothing."""
    with transaction.atomic():
        previous = Project.objects.select_for_update().filter(pk=project.pk).values_list("suspended_reason", "suspended_at").first()
        if previous is not None and previous[1] is not None:
            Project.objects.filter(pk=project.pk).update(suspended_at=None, suspended_reason="")
            audit_record(project=project, action=AuditAction.PROJECT_RESUME, target=project.slug, details={"was": previous[0]})
        project.refresh_from_db(fields=["suspended_at", "suspended_reason"])
    _key_copies_forget(project=project)
    return project


@dataclass(frozen=True)
class DemoCredentials:
    """What `make run` prints and keeps in var/credentials.json."""

    username: str
    password: str
    project: str
    write_key: str
    read_key: str


def demo_bootstrap(*, username: str, project_slug: str, password: str | None = None) -> DemoCredentials:
    """The admin user (given this password, or a generated one) and the demo project with a write and a read key.

    The password is generated here rather than by the caller: passed on a command line, a
    generated password that starts with ``-`` would be read as an option.
    """
    password = password or secrets.token_urlsafe(12)
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_superuser(username=username, email=f"{username}@localhost")
        user.set_password(password)
        user.save()
        demo = Project.objects.filter(slug=project_slug).first() or project_create(
            slug=project_slug, name="MeauxCLOUD demo", owner=user
        )
        write_key = api_key_create(project=demo, name="demo write key", scopes=[Scope.WRITE], created_by=user)
        read_key = api_key_create(project=demo, name="demo read key", scopes=[Scope.READ], created_by=user)
    return DemoCredentials(
        username=username, password=password, project=demo.slug, write_key=write_key.secret, read_key=read_key.secret
    )
