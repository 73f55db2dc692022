"""The one place an API request's project is resolved: tenant scoping is structural.

Every project-scoped endpoint subclasses ``ProjectAPIView``. With an API key the project
is the key's own (a slug in the URL or query must match it); with a browser session it
is the named project, and only for its members. Views then pass ``self.project`` to
selectors and services, which all take the project first.
"""

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

from meauxcloud.api import ApiProblem
from projects.authentication import ApiKeyUser, signed_in
from projects.models import MANAGER_ROLES, ApiKey, Project, Scope
from projects.selectors import membership_get


class ProjectSuspended(ApiProblem):
    def __init__(self, project: Project) -> None:
        super().__init__(
            status_code=403,
            code="project_suspended",
            detail=f"Project '{project.slug}' is suspended: it accepts no data points. Its SQL and reports stay readable.",
        )


class ProjectAPIView(APIView):
    required_scope: str = Scope.READ
    #: Endpoints that add data points refuse a suspended project before reading the body.
    refused_when_suspended = False
    #: URL kwarg or query parameter naming the project, needed for session users.
    project_url_kwarg = "project_slug"
    project: Project

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.project = self.resolve_project(request, kwargs)
        if self.refused_when_suspended and self.project.is_suspended:
            raise ProjectSuspended(self.project)

    def resolve_project(self, request: Request, kwargs: dict[str, Any]) -> Project:
        slug = kwargs.get(self.project_url_kwarg) or request.query_params.get("project")
        if isinstance(request.user, ApiKeyUser):
            api_key: ApiKey = request.auth
            if not api_key.has_scope(self.required_scope):
                raise exceptions.PermissionDenied(f"This API key lacks the '{self.required_scope}' scope.")
            if slug and slug != api_key.project.slug:
                raise exceptions.PermissionDenied("This API key belongs to another project.")
            return api_key.project
        if self.required_scope == Scope.WRITE:
            raise exceptions.PermissionDenied("Writing requires an API key with the 'write' scope.")
        if not slug:
            raise exceptions.ValidationError({"project": "Name the project (its slug) when using a session."})
        project = Project.objects.filter(slug=slug).first()
        user = signed_in(request.user)
        membership = membership_get(project=project, user=user) if project is not None else None
        if project is None or not (user.is_superuser or membership):
            raise exceptions.NotFound("No such project.")
        if self.required_scope == Scope.ADMIN and not user.is_superuser and (membership is None or membership.role not in MANAGER_ROLES):
            raise exceptions.PermissionDenied("Only the project's owners and admins may do this.")
        return project

