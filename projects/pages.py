"""The project of a server-rendered project page, resolved one way for every page.

A non-member gets a 404, not a 403, so a project's existence does not leak; a superuser
without a membership acts as the project's owner.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from projects.authentication import signed_in
from projects.models import MANAGER_ROLES, Project, Role
from projects.selectors import project_get_for_user


def project_for_member(request: HttpRequest, slug: str) -> tuple[Project, str | None]:
    """The project and the user's role in it."""
    found = project_get_for_user(user=signed_in(request.user), slug=slug)
    if found is None:
        raise Http404("No such project.")
    project, membership = found
    if membership is not None:
        return project, membership.role
    return project, Role.OWNER if request.user.is_superuser else None


def project_for_manager(request: HttpRequest, slug: str) -> tuple[Project, str]:
    """The project and the role of an owner or admin in it; anyone else who may see it gets a 403."""
    project, role = project_for_member(request, slug)
    if role is None or role not in MANAGER_ROLES:
        raise PermissionDenied("Only owners and admins manage this project.")
    return project, role
