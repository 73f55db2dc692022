"""Django admin for platform admins: projects, their members and keys, suspension.

``tracking/admin.py`` extends ``ProjectAdmin`` with the figures and datasets that live in
``tracking`` (dependencies point one way), and registers that extension.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from projects.authentication import signed_in
from projects.governance.models import ProjectQuota
from projects.governance.quotas import quota_limits_forget
from projects.models import ApiKey, Membership, Project, Scope
from projects.services import api_key_create, api_key_revoke, project_resume, project_suspend

SUSPEND_PERMISSION = "projects.suspend_project"


# The key columns an inline shows; the last, the revoke link, only to those who may revoke.
KEY_FIELDS = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at", "revoke")

class IssueKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Says where the key is used, e.g. “production web”.")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.WRITE])


class SuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=500, help_text="Goes to the audit log with your name; shown to no tenant.", widget=forms.Textarea(attrs={"rows": 3})
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class ApiKeyInline(admin.TabularInline):
    """Keys are listed here; "Issue a key" above the form creates one and shows its secret once."""

    model = ApiKey
    extra = 0
    fields = KEY_FIELDS
    readonly_fields = KEY_FIELDS
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return KEY_FIELDS if request.user.has_perm("projects.change_apikey") else KEY_FIELDS[:-1]

    @admin.display(description="")
    def revoke(self, obj: ApiKey) -> str:
        if obj.pk is None or obj.revoked_at is not None:
            return ""
        url = reverse("admin:projects_project_revoke_key", args=[obj.project_id, obj.pk])
        return format_html('<a href="{}" class="revoke-key">Revoke…</a>', url)


class ProjectQuotaInline(admin.StackedInline):
    model = ProjectQuota
    extra = 0
    max_num = 1
    can_delete = True
    fields = ["points_per_day", "bytes_per_day", "queries_per_minute", "concurrent_queries"]
    verbose_name_plural = "quota (empty fields: unlimited)"


class SuspendedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("suspended", "Suspended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> QuerySet[Project]:
        if self.value() == "suspended":
            return queryset.filter(suspended_at__isnull=False)
        if self.value() == "active":
            return queryset.filter(suspended_at__isnull=True)
        return queryset


class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "created_at"]
    #: Django admin renders each cell through several template calls; 50 rows of the figures
    #: cost about half what 100 do (python -m bench.admin), and sorting finds the extremes.
    list_per_page = 50
    list_filter = [SuspendedFilter]
    search_fields = ["slug", "name", "memberships__user__username", "memberships__user__email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["suspended_at", "suspended_reason", "created_at"]
    inlines = [MembershipInline, ApiKeyInline, ProjectQuotaInline]
    actions = ["suspend", "resume"]
    change_form_template = "admin/projects/project/change_form.html"

    def get_fields(self, request: HttpRequest, obj: Project | None = None) -> tuple[str, ...]:
        return ("name", "slug") if obj is None else ("name", "slug", "created_at", "suspended_at", "suspended_reason")

    @admin.display(description="status", ordering="suspended_at")
    def status(self, obj: Project) -> str:
        return "suspended" if obj.is_suspended else "active"

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is ProjectQuota:
            quota_limits_forget(project_id=form.instance.pk)

    def get_urls(self) -> list:
        own = [
            path("<int:object_id>/suspend/", self.admin_site.admin_view(self.suspend_view), name="projects_project_suspend"),
            path("<int:object_id>/resume/", self.admin_site.admin_view(self.resume_view), name="projects_project_resume"),
            path("<int:object_id>/keys/issue/", self.admin_site.admin_view(self.issue_key_view), name="projects_project_issue_key"),
            path(
                "<int:object_id>/keys/<int:key_id>/revoke/",
                self.admin_site.admin_view(self.revoke_key_view),
                name="projects_project_revoke_key",
            ),
        ]
        return own + super().get_urls()

    def has_suspend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SUSPEND_PERMISSION)

    def _suspension_page(self, request: HttpRequest, projects: list[Project], form: SuspendForm, action_url: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Suspend projects" if len(projects) > 1 else f"Suspend {projects[0].slug}",
            "opts": self.model._meta,
            "projects": projects,
            "form": form,
            "action_url": action_url,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/projects/project/suspend.html", context)

    def _suspend_all(self, request: HttpRequest, projects: list[Project], reason: str) -> int:
        suspended = 0
        for project in projects:
            if not project.is_suspended:
                project_suspend(project=project, reason=reason)
                suspended += 1
        return suspended

    @admin.action(description="Suspend selected projects (refuse their writes)…", permissions=["suspend"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Project]) -> HttpResponse | None:
        projects = list(queryset)
        form = SuspendForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            count = self._suspend_all(request, projects, form.cleaned_data["reason"])
            self.message_user(request, f"Suspended {count} project(s); their writes now get 403 project_suspended.")
            return None
        return self._suspension_page(request, projects, form, action_url="")

    @admin.action(description="Resume selected projects (accept writes again)", permissions=["suspend"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        resumed = 0
        for project in queryset.filter(suspended_at__isnull=False):
            project_resume(project=project)
            resumed += 1
        self.message_user(request, f"Resumed {resumed} project(s).")

    def suspend_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_suspend_permission(request):
            raise PermissionDenied
        project = get_object_or_404(Project, pk=object_id)
        change_url = reverse("admin:projects_project_change", args=[project.pk])
        form = SuspendForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            if self._suspend_all(request, [project], form.cleaned_data["reason"]):
                self.message_user(request, f"Suspended {project.slug}; its writes now get 403 project_suspended.")
            else:
                self.message_user(request, f"{project.slug} was already suspended.", messages.WARNING)
            return HttpResponseRedirect(change_url)
        return self._suspension_page(request, [project], form, action_url=request.path)

    def resume_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_suspend_permission(request):
            raise PermissionDenied
        project = get_object_or_404(Project, pk=object_id)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:projects_project_change", args=[project.pk]))
        project_resume(project=project)
        self.message_user(request, f"Resumed {project.slug}; it accepts writes again.")
        return HttpResponseRedirect(reverse("admin:projects_project_change", args=[project.pk]))

    def _page(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **context}
        return TemplateResponse(request, template, context)

    def issue_key_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The secret is rendered in this response only (never put in a message, a session or a log);
        admin views are never cached."""
        if not request.user.has_perm("projects.add_apikey"):
            raise PermissionDenied
        project = get_object_or_404(Project, pk=object_id)
        form = IssueKeyForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            issued = api_key_create(
                project=project, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], created_by=signed_in(request.user)
            )
            return self._page(
                request, "admin/projects/project/key_issued.html", f"Key issued for {project.slug}", project=project, issued=issued
            )
        return self._page(request, "admin/projects/project/issue_key.html", f"Issue a key for {project.slug}", project=project, form=form)

    def revoke_key_view(self, request: HttpRequest, object_id: int, key_id: int) -> HttpResponse:
        if not request.user.has_perm("projects.change_apikey"):
            raise PermissionDenied
        api_key = get_object_or_404(ApiKey.objects.select_related("project"), pk=key_id, project_id=object_id)
        change_url = reverse("admin:projects_project_change", args=[object_id])
        if request.method == "POST":
            api_key_revoke(api_key=api_key)
            self.message_user(request, f"Revoked {api_key.prefix}: it now gets 401.")
            return HttpResponseRedirect(change_url)
        return self._page(
            request, "admin/projects/project/revoke_key.html", f"Revoke {api_key.prefix}", api_key=api_key, change_url=change_url
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        extra = {
            "can_suspend": self.has_suspend_permission(request),
            "can_issue_key": request.user.has_perm("projects.add_apikey"),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)


admin.site.register(Project, ProjectAdmin)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "project", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "project"]
    search_fields = ["prefix", "name", "project__slug"]
    fields = ["project", "name", "scopes", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is not None:
            return [*self.readonly_fields, "project", "scopes"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        issued = api_key_create(
            project=obj.project, name=obj.name, scopes=list(obj.scopes) or [Scope.READ], created_by=signed_in(request.user)
        )
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        messages.warning(request, f"Copy this key now, it is not shown again: {issued.secret}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__slug", "user__username"]
