"""Schemathesis against our own OpenAPI schema (/api/schema/), in-process, with a valid key.

Every operation, generated inputs: no response is a 5xx, and documented responses match
their schema and content type. Undocumented error statuses (401/403/404/429) are allowed:
they are problem+json by contract, which tests/security/test_secrets_and_errors.py checks.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from meauxcloud.wsgi import application
from tests.factories import key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_schema(db):
    """The schema, loaded through the WSGI app; like Django's test client, requests keep the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


lazy_schema = schemathesis.pytest.from_fixture("api_schema")


@lazy_schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx_and_documented_responses_match_the_schema(case, project, partitions):
    secret = key_for(project, "write", "read", "admin").secret
    if "project_slug" in (case.path_parameters or {}):
        case.path_parameters["project_slug"] = project.slug

    response = case.call(headers={"Authorization": f"Bearer {secret}"})

    # /healthz answers 503 by contract while a part is down (here: no worker heartbeat).
    server_check = [] if case.operation.path == "/healthz" else [not_a_server_error]
    case.validate_response(response, checks=[*server_check, response_schema_conformance, content_type_conformance])
    assert response.status_code < 500 or response.json()["status"] == "down"
