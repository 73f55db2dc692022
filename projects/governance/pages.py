"""The project's audit log as a page, for every member (the compliance view of the seed)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects.governance.audit import audit_list
from projects.governance.models import AuditAction
from projects.pages import project_for_member

PAGE_SIZE = 200


@login_required
def audit_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, _role = project_for_member(request, slug)
    action = request.GET.get("action") or None
    if action not in AuditAction.values:
        action = None
    events = audit_list(project=project, action=action)[:PAGE_SIZE]
    return render(
        request,
        "governance/audit.html",
        {"project": project, "events": events, "actions": AuditAction.choices, "action": action or ""},
    )
