"""The Python client's budget_status() against the real endpoint, after a real evaluation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from meauxcloud_client import BudgetStatusError, budget_status, budget_statuses
from tests.factories import DatasetFactory, key_for
from tests.tracking.reports.helpers import Point, points_store
from tracking.alerts.services import alerts_evaluate, budget_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_budget_status_tells_a_service_its_budget_is_spent(live_server, project, partitions):
    dataset = DatasetFactory(project=project, name="costs")
    points_store(dataset, [Point(timezone.now() - timedelta(minutes=1), ["gpt-4o-app", "llm", "cost"], [12.5, 1])])
    budget_create(project=project, name="llm", dataset="costs", period="day", amount_usd=Decimal(10))
    budget_create(project=project, name="other", dataset="costs", period="day", amount_usd=Decimal(100), cost_type="storage")
    alerts_evaluate()
    read_key = key_for(project, "read").secret

    status = budget_status(live_server.url, read_key, "llm")

    assert (status.name, status.amount_usd, status.spent_usd, status.remaining_usd, status.exhausted) == (
        "llm", Decimal(10), Decimal("12.5"), Decimal(0), True
    )
    assert status.evaluated_at is not None
    assert [(s.name, s.exhausted) for s in budget_statuses(live_server.url, read_key)] == [("llm", True), ("other", False)]
    with pytest.raises(BudgetStatusError, match="HTTP 404"):
        budget_status(live_server.url, read_key, "nope")
    with pytest.raises(BudgetStatusError, match="HTTP 403"):
        budget_status(live_server.url, key_for(project, "write").secret, "llm")
