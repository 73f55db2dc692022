"""Least privilege for staff and for proxies (issue 14)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from projects.governance.audit import AuditContextMiddleware, actor_current
from tests.factories import UserFactory
from tests.security.test_hardening import _manage, _production_env

pytestmark = pytest.mark.django_db


def _staff(*permissions: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


def test_a_staff_user_without_the_permission_cannot_see_every_tenants_overview(client: Client) -> None:
    client.force_login(_staff())

    overview = client.get("/admin/overview/")
    index = client.get("/admin/")

    assert overview.status_code == 403
    assert b"Reports overview across all projects" not in index.content


@pytest.mark.parametrize("user", ["permitted", "superuser"])
def test_the_permission_or_superuser_opens_the_overview(client: Client, user: str) -> None:
    client.force_login(_staff("view_platform_overview") if user == "permitted" else UserFactory(is_staff=True, is_superuser=True))

    overview = client.get("/admin/overview/")
    index = client.get("/admin/")

    assert overview.status_code == 200
    assert b"Reports overview across all projects" in index.content


@pytest.mark.parametrize("trusted,expected", [("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')")])
def test_x_forwarded_proto_is_believed_only_behind_a_trusted_proxy(trusted: str, expected: str) -> None:
    result = _manage(_production_env(TRUSTED_PROXY=trusted), "shell", "-c",
                     "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)")

    assert result.stdout.strip().splitlines()[-1] == expected, result.stderr


@pytest.mark.parametrize("trusted,expected", [(False, "10.0.0.9"), (True, "203.0.113.7")])
def test_the_audited_client_address_comes_from_the_proxy_only_when_trusted(rf, settings, trusted: bool, expected: str) -> None:
    settings.TRUSTED_PROXY = trusted
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")

    seen = []
    AuditContextMiddleware(lambda request: seen.append(actor_current()))(request)

    assert seen[0].ip == expected
