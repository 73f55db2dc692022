"""The SQL explorer at ``/projects/<slug>/sql/``: an editor beside the project's schema, run with the member's session.

Queries run through ``POST /api/v1/sql?project=<slug>`` (the guarded engine, quotas and audit
log, as every other SQL); this module only renders the page and keeps the project's saved
queries, which owners and admins write and every member reads.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from projects.pages import project_for_manager, project_for_member
from tracking.selectors import dataset_list, saved_query_list, sql_history_list
from tracking.services import SavedQueryInvalid, saved_query_delete, saved_query_save
from tracking.sql.introspection import dataset_describe
from tracking.sql.ir import DatasetRef
from tracking.web.pages import member_page_context

EXAMPLE_QUERY = "SELECT toStartOfHour(timestamp) AS hour, count() AS points\nFROM {dataset}\nGROUP BY hour\nORDER BY hour"


@login_required
def sql_explorer(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_member(request, slug)
    datasets = []
    for dataset in dataset_list(project=project).order_by("name"):
        ref = DatasetRef(id=dataset.id, name=dataset.name, labels=dataset.labels or {})
        datasets.append({"name": dataset.name, "columns": dataset_describe(ref)})
    first = datasets[0]["name"] if datasets else "my_dataset"
    context = {
        **member_page_context(project=project, role=role, page="sql"),
        "datasets": datasets,
        "saved_queries": saved_query_list(project=project),
        "history": sql_history_list(project=project, user=request.user),
        "initial_sql": request.GET.get("sql") or EXAMPLE_QUERY.format(dataset=first),
    }
    return render(request, "web/sql.html", context)


@login_required
@require_POST
def saved_query_save_view(request: HttpRequest, slug: str) -> HttpResponse:
    project, _role = project_for_manager(request, slug)
    try:
        saved = saved_query_save(
            project=project, user=request.user, name=request.POST.get("name", ""), sql=request.POST.get("sql", "")
        )
    except SavedQueryInvalid as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Saved “{saved.name}”.")
    return redirect("web:sql", slug=project.slug)


@login_required
@require_POST
def saved_query_delete_view(request: HttpRequest, slug: str, saved_query_id: int) -> HttpResponse:
    project, _role = project_for_manager(request, slug)
    saved_query_delete(project=project, saved_query_id=saved_query_id)
    messages.success(request, "Saved query deleted.")
    return redirect("web:sql", slug=project.slug)
