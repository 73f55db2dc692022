"""Reads for tenants, members and API keys."""

import hmac

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import QuerySet

from projects.models import ApiKey, Membership, Project, Scope
from projects.services import DemoCredentials, api_key_hash


def api_key_get_active(*, secret: str) -> ApiKey | None:
    """The active key for a presented secret, compared in constant time."""
    hashed = api_key_hash(secret=secret)
    api_key = (
        ApiKey.objects.select_related("project").filter(hashed_key=hashed, revoked_at__isnull=True).first()
    )
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, hashed):
        return None
    return api_key


def project_list_for_user(*, user: User) -> QuerySet[Project]:
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def membership_get(*, project: Project, user: User) -> Membership | None:
    return Membership.objects.filter(project=project, user=user).first()


def api_key_list(*, project: Project) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(project=project)


def project_get_for_user(*, user: User, slug: str) -> tuple[Project, Membership | None] | None:
    """The project and the user's membership, or None when the user may not see it (staff see all)."""
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        return None
    membership = membership_get(project=project, user=user)
    if membership is None and not user.is_superuser:
        return None
    return project, membership


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("user__username")


def demo_credentials_valid(*, credentials: DemoCredentials) -> bool:
    """Whether kept credentials still sign in and authenticate against this database.

    They go stale when the database was dropped and recreated, or keys were revoked.
    """
    user = get_user_model().objects.filter(username=credentials.username, is_active=True).first()
    if user is None or not user.check_password(credentials.password):
        return False
    for secret, scope in ((credentials.write_key, Scope.WRITE), (credentials.read_key, Scope.READ)):
        api_key = api_key_get_active(secret=secret)
        if api_key is None or api_key.project.slug != credentials.project or scope not in api_key.scopes:
            return False
    return True
