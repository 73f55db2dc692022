"""The seed's helpers store exactly the seed's schema-table layout."""

import pytest

from meauxcloud_client import Dataset, track_ai_usage, track_error, track_project_cost, track_request, track_resource, track_user_event
from tests.clients.support import drain_until_stored

COLUMNS = "blob1, blob2, blob3, blob4, blob5, double1, double2, double3, index1"


@pytest.mark.django_db(transaction=True)
def test_each_helper_writes_the_seeds_columns(live_server, project, write_key, partitions):
    analytics = Dataset(live_server.url, write_key, "meauxcloud_analytics")
    track_request(analytics, "GET", "/api/projects", 200, 12.5, size_bytes=512, request_id="8abc-LHR",
                  environment="production", user_agent="Mozilla/5.0 " + "x" * 200)
    track_request(analytics, "POST", "/login", 302, 3.0)
    track_project_cost(analytics, "proj-1", "ai", 0.25)
    track_ai_usage(analytics, "llama-3-8b", 1200, 0.002)
    track_error(analytics, "TypeError", "x is undefined", "/api/chat")
    track_user_event(analytics, "signup", "user-123")
    track_resource(analytics, "r2-storage", "proj-1", 2048)
    assert analytics.flush(timeout=10) is True
    analytics.close()

    rows = drain_until_stored(project, "meauxcloud_analytics", 7, columns=COLUMNS)

    assert sorted(rows, key=repr) == sorted([
        ("GET", "/api/projects", "200", "production", "Mozilla/5.0 " + "x" * 88, 12.5, 1.0, 512.0, "8abc-LHR"),
        ("POST", "/login", "302", None, None, 3.0, 1.0, 0.0, "unknown"),
        ("proj-1", "ai", "cost", None, None, 0.25, 1.0, None, "proj-1"),
        ("ai-usage", "llama-3-8b", "tokens", None, None, 1200.0, 0.002, 1.0, "llama-3-8b"),
        ("error", "TypeError", "/api/chat", "x is undefined", None, 1.0, None, None, "TypeError"),
        ("user-event", "signup", "user-123", None, None, 1.0, None, None, "user-123"),
        ("resource", "r2-storage", "proj-1", None, None, 2048.0, 1.0, None, "proj-1"),
    ], key=repr)
