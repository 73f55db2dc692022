"""No body, however hostile, makes the alerts API answer 5xx: 201 or a 4xx problem, per endpoint."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from tests.factories import key_for
from tests.security.test_properties_endpoints import PROPERTY, _assert_problem_or_success, _dumps, json_shapes, raw_tokens

pytestmark = pytest.mark.django_db

FIELDS = {
    "/api/v1/budgets": ["name", "dataset", "period", "amount_usd", "thresholds", "forecast", "filters", "channels"],
    "/api/v1/alerts/rules": ["name", "dataset", "metric", "window_minutes", "op", "threshold", "min_requests", "error_type", "path", "channels"],
    "/api/v1/alerts/channels": ["kind", "url", "to", "name"],
}
GOOD = {
    "/api/v1/budgets": {"name": "b", "dataset": "costs", "period": "month", "amount_usd": "10"},
    "/api/v1/alerts/rules": {"name": "r", "dataset": "api", "metric": "5xx_rate", "window_minutes": 5, "threshold": 0.2},
    "/api/v1/alerts/channels": {"kind": "email", "to": ["a@example.com"]},
}


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid body with some fields replaced by hostile values, or raw hostile bytes."""
    url = draw(st.sampled_from(sorted(FIELDS)))
    if draw(st.integers(0, 4)) == 0:
        return url, draw(raw_tokens)
    body = dict(GOOD[url])
    for name in draw(st.lists(st.sampled_from(FIELDS[url]), max_size=4)):
        body[name] = draw(json_shapes)
    return url, _dumps(body)


@PROPERTY
@given(case=bodies())
@example(case=("/api/v1/budgets", _dumps({**GOOD["/api/v1/budgets"], "amount_usd": 10**400})))
@example(case=("/api/v1/budgets", _dumps({**GOOD["/api/v1/budgets"], "period": {"rolling_days": 2**64}})))
@example(case=("/api/v1/alerts/rules", _dumps({**GOOD["/api/v1/alerts/rules"], "threshold": 1e308, "name": "a\x00b"})))
@example(case=("/api/v1/alerts/channels", _dumps({"kind": "webhook", "url": "http://\ud800.example/"})))
def test_management_endpoints_answer_201_or_a_4xx_problem_for_any_body(client: Client, project, case: tuple[str, bytes]) -> None:
    url, body = case
    key = key_for(project, "admin").secret

    response = client.post(url, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")

    _assert_problem_or_success(response, success=201)


@PROPERTY
@given(scope=st.text(max_size=30) | st.sampled_from(["\x00", "é" * 100, "%", "a" * 5000]))
def test_the_cached_budget_status_answers_200_or_a_4xx_problem_for_any_scope(client: Client, project, scope: str) -> None:
    key = key_for(project, "read").secret

    response = client.get("/api/v1/budgets/status", {"scope": scope}, HTTP_AUTHORIZATION=f"Bearer {key}")

    _assert_problem_or_success(response, success=200)
