from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from tracking.alerts import views as alerts_views
from tracking.web import explorer, views

app_name = "web"

urlpatterns = [
    # Browsers ask for /favicon.ico on every page, admin and API docs included.
    path("favicon.ico", RedirectView.as_view(url=f"/{settings.STATIC_URL.strip('/')}/favicon.svg", permanent=True)),
    # The address `make run` prints: members land on their projects, anyone else on the login page.
    path("", RedirectView.as_view(pattern_name="web:projects"), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/", views.project_list, name="projects"),
    path("projects/<slug:slug>/", views.report_page, name="overview"),
    path("projects/<slug:slug>/settings/", views.project_settings, name="settings"),
    path("projects/<slug:slug>/settings/keys/", views.api_key_create_view, name="key-create"),
    path("projects/<slug:slug>/settings/keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="key-revoke"),
    path("projects/<slug:slug>/settings/members/", views.member_add_view, name="member-add"),
    path("projects/<slug:slug>/settings/members/<int:membership_id>/role/", views.member_role_view, name="member-role"),
    path("projects/<slug:slug>/settings/members/<int:membership_id>/remove/", views.member_remove_view, name="member-remove"),
    path("projects/<slug:slug>/settings/datasets/<int:dataset_id>/", views.dataset_settings_view, name="dataset-settings"),
    path("projects/<slug:slug>/settings/datasets/<int:dataset_id>/projections/", views.projection_add_view, name="projection-add"),
    path(
        "projects/<slug:slug>/settings/datasets/<int:dataset_id>/projections/<int:projection_id>/drop/",
        views.projection_drop_view,
        name="projection-drop",
    ),
    path("projects/<slug:slug>/sql/", explorer.sql_explorer, name="sql"),
    path("projects/<slug:slug>/sql/saved/", explorer.saved_query_save_view, name="sql-save"),
    path("projects/<slug:slug>/sql/saved/<int:saved_query_id>/delete/", explorer.saved_query_delete_view, name="sql-delete"),
    path("projects/<slug:slug>/alerts/", alerts_views.alerts_page, name="alerts"),
    path("projects/<slug:slug>/alerts/budgets/", alerts_views.budget_create_view, name="alerts-budget-create"),
    path("projects/<slug:slug>/alerts/rules/", alerts_views.rule_create_view, name="alerts-rule-create"),
    path("projects/<slug:slug>/alerts/channels/", alerts_views.channel_create_view, name="alerts-channel-create"),
    path("projects/<slug:slug>/alerts/channels/<int:channel_id>/test/", alerts_views.channel_test_view, name="alerts-channel-test"),
    path("projects/<slug:slug>/alerts/<str:kind>/<int:object_id>/delete/", alerts_views.alerts_delete_view, name="alerts-delete"),
    path("projects/<slug:slug>/<str:name>/", views.report_page, name="report"),
    path("projects/<slug:slug>/<str:name>/tables/<str:table>.csv", views.report_table_csv, name="report-csv"),
]
