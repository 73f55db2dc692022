"""Server-rendered pages: project list, reports, CSV downloads and project settings.

Thin: each view resolves the project for the logged-in user (404 for non-members, so a
project's existence does not leak), calls one selector or service and renders.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from projects.authentication import signed_in
from projects.models import ApiKey, Membership, Project, Role
from projects.pages import project_for_manager, project_for_member
from projects.selectors import api_key_list, membership_list, project_list_for_user
from projects.services import MembershipChangeRefused, api_key_create, api_key_revoke, membership_change, membership_delete
from tracking.alerts.selectors import budget_list
from tracking.models import Dataset, Projection
from tracking.otlp.services import dataset_otlp_mapping_set
from tracking.projections.selectors import projection_list, projection_progress
from tracking.projections.services import ProjectionInvalid, projection_add, projection_drop
from tracking.reports.api import table_as_csv
from tracking.reports.selectors import REPORTS, Report, report_dataset_default, report_get, report_window
from tracking.reports.window import PRESETS, Window, WindowInvalid
from tracking.selectors import dataset_list
from tracking.services import dataset_update
from tracking.web.forms import ApiKeyCreateForm, DatasetSettingsForm, MemberAddForm, MemberRoleForm, ProjectionAddForm, ReportFilterForm
from tracking.web.pages import member_page_context, page_build

DEFAULT_RANGES = {"costs": "30d", "realtime": "5m"}
BUDGET_PAGES = frozenset({"overview", "costs"})


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = project_list_for_user(user=signed_in(request.user)).order_by("name")
    return render(request, "web/project_list.html", {"projects": projects})


def _window(form: ReportFilterForm, *, name: str, now: datetime) -> tuple[Window, str | None]:
    """The chosen window, or the page's default one and the reason the choice was refused."""
    default = DEFAULT_RANGES.get(name, "24h")
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    chosen = data.get("range") or default
    custom = chosen == "custom" and data.get("start") and data.get("end")
    try:
        window = report_window(
            name=name,
            now=now,
            preset=chosen if chosen in PRESETS else None,
            start=data["start"] if custom else None,
            end=data["end"] if custom else None,
            interval=data.get("interval") or None,
            default_range=default,
        )
    except WindowInvalid as error:
        return report_window(name=name, now=now, default_range=default), str(error)
    return window, None


def _report(request: HttpRequest, slug: str, name: str) -> tuple[Project, str | None, Report, ReportFilterForm, str | None]:
    if name not in REPORTS:
        raise Http404("No such report.")
    project, role = project_for_member(request, slug)
    datasets = list(dataset_list(project=project).order_by("name"))
    form = ReportFilterForm(
        request.GET or None, initial={"range": DEFAULT_RANGES.get(name, "24h")}, datasets=[d.name for d in datasets]
    )
    now = timezone.now()
    window, problem = _window(form, name=name, now=now)
    chosen = request.GET.get("dataset")
    dataset = next((d for d in datasets if d.name == chosen), None) if chosen else None
    if chosen and dataset is None:
        raise Http404("No such dataset.")
    if dataset is None and datasets:
        dataset = report_dataset_default(project=project)
    if dataset is not None:
        form.initial["dataset"] = dataset.name
    report = report_get(project=project, name=name, dataset=dataset, window=window, now=now)
    return project, role, report, form, problem


@login_required
def report_page(request: HttpRequest, slug: str, name: str = "overview") -> HttpResponse:
    project, role, report, form, problem = _report(request, slug, name)
    context = {
        **member_page_context(project=project, role=role, page=name),
        "report": report,
        "form": form,
        "problem": problem,
        "query": request.GET.urlencode(),
        "ingest_url": request.build_absolute_uri(
            f"/api/v1/datasets/{report.dataset.name if report.dataset else 'meauxcloud_analytics'}/datapoints"
        ),
        **page_build(report),
        # Budget status on the pages about money, as the last evaluation found it.
        "budgets": list(budget_list(project=project)) if name in BUDGET_PAGES else [],
    }
    return render(request, "web/report.html", context)


@login_required
def report_table_csv(request: HttpRequest, slug: str, name: str, table: str) -> HttpResponse:
    project, _role, report, _form, _problem = _report(request, slug, name)
    if table not in report.tables:
        raise Http404("No such table.")
    return table_as_csv(report.tables[table], filename=f"{project.slug}-{name}-{table}.csv")


def _settings_context(project: Project, role: str, **extra: object) -> dict[str, object]:
    return {
        **member_page_context(project=project, role=role, page="settings"),
        "is_owner": role == Role.OWNER,
        "keys": api_key_list(project=project).select_related("created_by"),
        "members": membership_list(project=project),
        "datasets": [
            (dataset, DatasetSettingsForm(initial=_dataset_initial(dataset), prefix=f"d{dataset.id}"))
            for dataset in Dataset.objects.filter(project=project).order_by("name")
        ],
        "roles": Role.choices,
        "key_form": extra.pop("key_form", ApiKeyCreateForm()),
        "member_form": extra.pop("member_form", MemberAddForm()),
        **extra,
    }


def _dataset_initial(dataset: Dataset) -> dict[str, object]:
    return {
        "retention_days": dataset.retention_days,
        "labels": json.dumps(dataset.labels or {}, sort_keys=True),
        "otlp_mapping": json.dumps(dataset.otlp_mapping or {}, sort_keys=True),
    }


@login_required
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    return render(request, "web/settings.html", _settings_context(project, role))


@login_required
@require_POST
def api_key_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return render(request, "web/settings.html", _settings_context(project, role, key_form=form), status=400)
    issued = api_key_create(project=project, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], created_by=signed_in(request.user))
    # The secret is rendered in this response only, never stored or redirected through a session.
    return render(request, "web/settings.html", _settings_context(project, role, new_key=issued), status=201)


@login_required
@require_POST
def api_key_revoke_view(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    project, _role = project_for_manager(request, slug)
    api_key = get_object_or_404(ApiKey, pk=key_id, project=project)
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.prefix}… revoked.")
    return redirect("web:settings", slug=project.slug)


@login_required
@require_POST
def member_add_view(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return render(request, "web/settings.html", _settings_context(project, role, member_form=form), status=400)
    name = form.cleaned_data["username"]
    user = get_user_model().objects.filter(Q(username=name) | Q(email__iexact=name)).first()
    if user is None:
        form.add_error("username", "No user with that username or email.")
        return render(request, "web/settings.html", _settings_context(project, role, member_form=form), status=400)
    return _membership_change(request, project, role, user, form.cleaned_data["role"])


@login_required
@require_POST
def member_role_view(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    membership = get_object_or_404(Membership, pk=membership_id, project=project)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("web:settings", slug=project.slug)
    return _membership_change(request, project, role, membership.user, form.cleaned_data["role"])


def _membership_change(request: HttpRequest, project: Project, role: str, user: User, new_role: str) -> HttpResponse:
    try:
        membership_change(project=project, actor_role=role, user=user, role=new_role)
    except MembershipChangeRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{user} is now {new_role}.")
    return redirect("web:settings", slug=project.slug)


@login_required
@require_POST
def member_remove_view(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    membership = get_object_or_404(Membership, pk=membership_id, project=project)
    try:
        membership_delete(project=project, actor_role=role, user=membership.user)
    except MembershipChangeRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user} removed.")
    return redirect("web:settings", slug=project.slug)


def _dataset_context(project: Project, role: str, dataset: Dataset, **extra: object) -> dict[str, object]:
    projections = list(projection_list(dataset=dataset))
    labels = {str(column): str(name) for column, name in (dataset.labels or {}).items()}
    return {
        **member_page_context(project=project, role=role, page="settings"),
        "dataset": dataset,
        "form": extra.pop("form", DatasetSettingsForm(initial=_dataset_initial(dataset), prefix=f"d{dataset.id}")),
        "projections": [
            (p, projection_progress(projection=p), [(c, labels.get(c, "")) for c in p.dimensions], [(c, labels.get(c, "")) for c in p.doubles])
            for p in projections
        ],
        "projection_form": extra.pop("projection_form", ProjectionAddForm(labels=labels)),
        **extra,
    }


@login_required
def dataset_settings_view(request: HttpRequest, slug: str, dataset_id: int) -> HttpResponse:
    """The dataset's page (retention, labels, OTLP mapping, projections); POST saves the settings."""
    project, role = project_for_manager(request, slug)
    dataset = get_object_or_404(Dataset, pk=dataset_id, project=project)
    if request.method != "POST":
        return render(request, "web/dataset.html", _dataset_context(project, role, dataset))
    form = DatasetSettingsForm(request.POST, prefix=f"d{dataset.id}")
    if form.is_valid():
        try:
            with transaction.atomic():
                dataset_otlp_mapping_set(dataset=dataset, mapping=form.cleaned_data["otlp_mapping"])
                dataset_update(dataset=dataset, retention_days=form.cleaned_data["retention_days"], labels=form.cleaned_data["labels"])
        except ValidationError as error:
            messages.error(request, f"{dataset.name}: {' '.join(error.messages)}")
        else:
            messages.success(request, f"{dataset.name} saved.")
    else:
        messages.error(request, f"{dataset.name}: {' '.join(str(e) for errors in form.errors.values() for e in errors)}")
    return redirect("web:dataset-settings", slug=project.slug, dataset_id=dataset.id)


@login_required
@require_POST
def projection_add_view(request: HttpRequest, slug: str, dataset_id: int) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    dataset = get_object_or_404(Dataset, pk=dataset_id, project=project)
    form = ProjectionAddForm(request.POST, labels=dataset.labels or {})
    if form.is_valid():
        try:
            projection = projection_add(dataset=dataset, **form.cleaned_data)
        except ProjectionInvalid as error:
            form.add_error(error.field if error.field in form.fields else None, error.reason)
        else:
            state = "ready" if projection.ready_at else "backfilling from the stored points"
            messages.success(request, f"Projection {projection.name} added; {state}.")
            return redirect("web:dataset-settings", slug=project.slug, dataset_id=dataset.id)
    return render(request, "web/dataset.html", _dataset_context(project, role, dataset, projection_form=form), status=400)


@login_required
@require_POST
def projection_drop_view(request: HttpRequest, slug: str, dataset_id: int, projection_id: int) -> HttpResponse:
    project, _role = project_for_manager(request, slug)
    projection = get_object_or_404(Projection, pk=projection_id, dataset_id=dataset_id, dataset__project=project)
    projection_drop(projection=projection)
    messages.success(request, f"Projection {projection.name} dropped; its queries read raw points again.")
    return redirect("web:dataset-settings", slug=project.slug, dataset_id=dataset_id)
