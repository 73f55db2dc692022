"""No input, however hostile, makes the projections API answer 5xx: a 2xx or a 4xx problem, per endpoint."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from tests.factories import key_for
from tests.security.test_properties_endpoints import PROPERTY, _assert_problem_or_success, _dumps, json_shapes, raw_tokens
from tracking.models import Dataset

pytestmark = pytest.mark.django_db

URL = "/api/v1/datasets/web/projections"
FIELDS = ["name", "dimensions", "doubles", "grain"]
GOOD = {"name": "p", "dimensions": ["blob1"], "doubles": ["double1"], "grain": 3600}
COLUMNS = st.sampled_from(["blob1", "blob20", "blob21", "index1", "index2", "double1", "double0", "timestamp", "BLOB1", "blob1 ", ""])
hostile_names = st.text(max_size=80) | st.sampled_from(["\x00", "é" * 70, "a" * 5000, "..", "%2F", "p/../q", "\ud800"])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A valid body with some fields replaced by hostile values or plausible column lists, or raw hostile bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(raw_tokens)
    body: dict[str, object] = dict(GOOD)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        body[name] = draw(json_shapes | st.lists(COLUMNS, max_size=8) | st.integers(-(2**70), 2**70))
    return _dumps(body)


@PROPERTY
@given(body=bodies())
@example(body=_dumps({**GOOD, "dimensions": ["blob1"] * 10_000}))
@example(body=_dumps({**GOOD, "grain": 10**400}))
@example(body=_dumps({**GOOD, "name": "a\x00b"}))
@example(body=_dumps({**GOOD, "dimensions": {"blob1": True}}))
@example(body=b'{"name": "p", "dimensions": [' + b"[" * 2000 + b"]" * 2000 + b"]}")
def test_adding_answers_201_or_a_4xx_problem_for_any_body(client: Client, project, body: bytes) -> None:
    Dataset.objects.get_or_create(project=project, name="web")
    key = key_for(project, "admin").secret

    response = client.post(URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")

    _assert_problem_or_success(response, success=201)


@PROPERTY
@given(dataset=hostile_names, name=hostile_names, method=st.sampled_from(["get", "delete"]))
@example(dataset="web", name="\x00", method="delete")
def test_reading_and_dropping_answer_2xx_or_a_4xx_problem_for_any_names(client: Client, project, dataset: str, name: str, method: str) -> None:
    Dataset.objects.get_or_create(project=project, name="web")
    key = key_for(project, "read", "admin").secret
    safe = lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="")  # noqa: E731

    response = getattr(client, method)(f"/api/v1/datasets/{safe(dataset)}/projections/{safe(name)}", HTTP_AUTHORIZATION=f"Bearer {key}")
    listed = client.get(f"/api/v1/datasets/{safe(dataset)}/projections?project={safe(name)}", HTTP_AUTHORIZATION=f"Bearer {key}")

    _assert_problem_or_success(response, success=204 if method == "delete" else 200)
    _assert_problem_or_success(listed, success=200)
