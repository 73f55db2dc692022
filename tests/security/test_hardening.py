"""Deployment hardening: `check --deploy` is clean in production, logins are throttled, secrets never leak."""

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from meauxcloud.redis import redis_client
from projects.governance.auth import login_failures
from projects.services import api_key_revoke
from tests.factories import ProjectFactory, UserFactory, key_for
from tests.tracking.helpers import post_points

ROOT = Path(__file__).resolve().parents[2]


def _production_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DEBUG", "SECURE_", "SESSION_", "CSRF_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="analytics.example.com",
        SECURE_SSL_REDIRECT="1",
        TRACKING_CHECK_REDIS="0",  # the Redis checks have their own tests against private servers
    )
    env.update(overrides)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")

    assert (result.returncode, result.stdout.strip()) == (0, "System check identified no issues (0 silenced)."), result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    env.pop("SECRET_KEY")
    env["SECRET_KEY"] = ""

    result = _manage(env, "check")

    assert result.returncode == 1
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_settings_fail_the_deploy_check():
    result = _manage(_production_env(DEBUG="1", SECURE_SSL_REDIRECT="0"), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 1
    assert "security.W018" in result.stderr and "security.W008" in result.stderr


@pytest.mark.django_db
def test_login_is_refused_after_five_failures_even_with_the_right_password(client: Client, settings):
    UserFactory(username="alice", is_staff=True)
    UserFactory(username="bob", is_staff=True)
    redis_client().delete("meauxcloud:login-failures:127.0.0.1:alice", "meauxcloud:login-failures:127.0.0.1:bob")
    try:
        wrong = [client.post("/admin/login/", {"username": "alice", "password": f"guess{n}"}) for n in range(5)]
        right_but_blocked = client.post("/admin/login/", {"username": "alice", "password": "correct-horse-battery"})
        still_out = client.get("/admin/")
        other_user = client.post("/admin/login/", {"username": "bob", "password": "correct-horse-battery"})

        assert [response.status_code for response in wrong] == [200] * 5
        assert right_but_blocked.status_code == 200  # the form again, not a redirect into admin
        assert still_out.url == "/admin/login/?next=/admin/"
        assert other_user.status_code == 302
        assert login_failures(request=right_but_blocked.wsgi_request, username="alice") == 5
    finally:
        redis_client().delete("meauxcloud:login-failures:127.0.0.1:alice", "meauxcloud:login-failures:127.0.0.1:bob")


@pytest.mark.django_db
def test_a_successful_login_clears_earlier_failures(client: Client):
    UserFactory(username="carol", is_staff=True)
    redis_client().delete("meauxcloud:login-failures:127.0.0.1:carol")
    client.post("/admin/login/", {"username": "carol", "password": "nope"})

    ok = client.post("/admin/login/", {"username": "carol", "password": "correct-horse-battery"})

    assert ok.status_code == 302
    assert login_failures(request=ok.wsgi_request, username="carol") == 0


@pytest.mark.django_db
def test_secrets_never_appear_in_logs_error_bodies_or_the_database(client: Client, project, partitions, caplog, settings):
    caplog.set_level(logging.DEBUG)
    write = key_for(project, "write").secret
    read = key_for(project, "read").secret
    revoked = key_for(project, "write")
    api_key_revoke(api_key=revoked.api_key)
    other_project_key = key_for(ProjectFactory(), "read").secret
    settings.TRACKING_MAX_BODY_BYTES = 1_000
    responses = [
        post_points(client, write, "events", [{"blobs": ["a"]}]),
        post_points(client, write, "events", b"{not json"),
        post_points(client, write, "events", b"x" * 2_000),
        post_points(client, write, "bad name!", [{}]),
        post_points(client, read, "events", [{}]),
        post_points(client, revoked.secret, "events", [{}]),
        post_points(client, write + "x", "events", [{}]),
        client.post("/api/v1/sql", data="SELECT nope(", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {read}"),
        client.post("/api/v1/sql", data="SELECT 1", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {write}"),
        client.post(
            f"/client/v4/accounts/{project.slug}/analytics_engine/sql",
            data="SELECT 1", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {other_project_key}",
        ),
        client.get(f"/api/v1/audit?project={project.slug}", HTTP_AUTHORIZATION=f"Bearer {read}"),
    ]
    issued = [write, read, revoked.secret, other_project_key]
    # The part after the public prefix is the secret; the prefix alone is meant to be shown.
    secret_parts = [secret.split("_", 2)[2] for secret in issued]

    assert [r.status_code for r in responses] == [202, 400, 413, 400, 403, 401, 401, 422, 403, 403, 200]
    for response in responses:
        assert not any(part in response.content.decode("utf-8", "replace") for part in secret_parts)
    assert not any(part in caplog.text for part in secret_parts)
    with connection.cursor() as cursor:
        cursor.execute("SELECT concat_ws('|', a.*) FROM projects_apikey a UNION ALL SELECT concat_ws('|', e.*) FROM governance_auditevent e")
        dump = "\n".join(row[0] for row in cursor.fetchall())
    assert not any(part in dump for part in secret_parts)
