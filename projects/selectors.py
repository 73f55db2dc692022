"""Reads for tenants, members and API keys."""

import hmac

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from projects.models import ApiKey, Membership, Project
from projects.services import api_key_hash


def api_key_get_active(*, secret: str) -> ApiKey | None:
    """The active key for a presented secret, compared in constant time."""
    hashed = api_key_hash(secret=secret)
    api_key = (
        ApiKey.objects.select_related("project").filter(hashed_key=hashed, revoked_at__isnull=True).first()
    )
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, hashed):
        return None
    return api_key


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def membership_get(*, project: Project, user: AbstractBaseUser) -> Membership | None:
    return Membership.objects.filter(project=project, user=user).first()


def api_key_list(*, project: Project) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(project=project)
