"""The project's alerts page: budgets with their charts, rules, channels and history.

Members and viewers read; owners and admins (and superusers) create, delete and send tests.
Thin: every write goes through ``tracking.alerts.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from projects.models import Project
from projects.pages import project_for_manager, project_for_member
from tracking.alerts import selectors, services
from tracking.alerts.delivery import UrlRefused
from tracking.alerts.forms import BudgetForm, ChannelForm, RuleForm
from tracking.web.pages import member_page_context


def _page(request: HttpRequest, project: Project, role: str | None, status: int = 200, **forms: object) -> HttpResponse:
    now = timezone.now()
    budgets = list(selectors.budget_list(project=project))
    for budget in budgets:
        budget.project = project
    statuses = selectors.budget_measure_many(budgets=budgets, now=now)
    channels = selectors.channel_list(project=project)
    rows = [(budget, statuses[budget.pk]) for budget in budgets]
    context = {
        **member_page_context(project=project, role=role, page="alerts"),
        "budgets": rows,
        "rules": selectors.rule_list(project=project),
        "channels": channels,
        "events": selectors.event_list(project=project, limit=50),
        "charts_data": {
            f"budget-{budget.pk}": selectors.budget_chart(project=project, budget=budget, status=status, now=now)
            for budget, status in rows
        },
        "budget_form": forms.get("budget_form") or BudgetForm(project_channels=channels),
        "rule_form": forms.get("rule_form") or RuleForm(project_channels=channels),
        "channel_form": forms.get("channel_form") or ChannelForm(),
        "new_secret": forms.get("new_secret"),
    }
    return render(request, "alerts/alerts.html", context, status=status)


@login_required
def alerts_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_member(request, slug)
    return _page(request, project, role)


@login_required
@require_POST
def budget_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    form = BudgetForm(request.POST, project_channels=selectors.channel_list(project=project))
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.budget_create(
                project=project, name=data["name"], dataset=data["dataset"], period=data["period"],
                rolling_days=data["rolling_days"] if data["period"] == "rolling" else None,
                amount_usd=data["amount_usd"], thresholds=data["thresholds"], forecast=data["forecast"],
                cost_type=data["cost_type"], cost_project=data["project_id"], model=data["model"],
                channel_ids=[channel.pk for channel in data["channels"]],
            )
        except services.AlertsInvalid as error:
            form.add_error(None, f"{error.field}: {error}")
        else:
            messages.success(request, f"Budget '{data['name']}' created.")
            return redirect("web:alerts", slug=project.slug)
    return _page(request, project, role, status=400, budget_form=form)


@login_required
@require_POST
def rule_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    form = RuleForm(request.POST, project_channels=selectors.channel_list(project=project))
    if form.is_valid():
        data = dict(form.cleaned_data)
        channels = data.pop("channels")
        try:
            services.rule_create(project=project, channel_ids=[channel.pk for channel in channels], **data)
        except services.AlertsInvalid as error:
            form.add_error(None, f"{error.field}: {error}")
        else:
            messages.success(request, f"Rule '{data['name']}' created.")
            return redirect("web:alerts", slug=project.slug)
    return _page(request, project, role, status=400, rule_form=form)


@login_required
@require_POST
def channel_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for_manager(request, slug)
    form = ChannelForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            channel = services.channel_create(project=project, kind=data["kind"], url=data["url"], to=data["to"], name=data["name"])
        except (services.AlertsInvalid, UrlRefused) as error:
            form.add_error(None, str(error))
        else:
            # The signing secret is rendered in this response only, like a new API key.
            return _page(request, project, role, status=201, new_secret=(channel, channel.secret) if channel.secret else None)
    return _page(request, project, role, status=400, channel_form=form)


@login_required
@require_POST
def channel_test_view(request: HttpRequest, slug: str, channel_id: int) -> HttpResponse:
    project, _role = project_for_manager(request, slug)
    channel = selectors.channel_get(project=project, channel_id=channel_id)
    if channel is None:
        raise Http404("No such channel.")
    delivery = services.channel_test(channel=channel)
    messages.success(request, f"Test notification queued (delivery {delivery.id}); see its status under History.")
    return redirect("web:alerts", slug=project.slug)


@login_required
@require_POST
def alerts_delete_view(request: HttpRequest, slug: str, kind: str, object_id: int) -> HttpResponse:
    project, _role = project_for_manager(request, slug)
    if kind == "budget" and (budget := selectors.budget_get(project=project, budget_id=object_id)):
        services.budget_delete(budget=budget)
    elif kind == "rule" and (rule := selectors.rule_get(project=project, rule_id=object_id)):
        services.rule_delete(rule=rule)
    elif kind == "channel" and (channel := selectors.channel_get(project=project, channel_id=object_id)):
        services.channel_delete(channel=channel)
    else:
        raise Http404("Nothing to delete.")
    messages.success(request, f"The {kind} was deleted.")
    return redirect("web:alerts", slug=project.slug)
