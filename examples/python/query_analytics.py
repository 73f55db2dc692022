"""Seed "Querying Analytics Data" and "Dashboard Integration": the same SQL, the same
request shape (POST {"query": ...} with a Bearer token), against MeauxCLOUD's
Cloudflare-compatible endpoint. Only the base URL differs; the account id is the
project's slug and the token is a read key.

    .venv/bin/python examples/python/query_analytics.py
"""

import json
import urllib.request

from settings import PROJECT, READ_KEY, URL


def query_analytics(account_id: str, api_token: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{URL}/client/v4/accounts/{account_id}/analytics_engine/sql",
        data=json.dumps({"query": query}).encode(),
        headers={"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# Example: Get request count by path (last 24 hours)
REQUESTS_BY_PATH = """
    SELECT
      blob2 as path,
      SUM(double2) as request_count,
      AVG(double1) as avg_duration_ms
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '24' HOUR
      AND blob1 = 'GET'
    GROUP BY path
    ORDER BY request_count DESC
    LIMIT 10
"""

# Example: Get cost by project (last 7 days)
COST_BY_PROJECT = """
    SELECT
      blob1 as project_id,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '7' DAY
      AND blob3 = 'cost'
    GROUP BY project_id, cost_type
    ORDER BY total_cost DESC
"""

# Example: Get error rate (last hour)
ERROR_RATE = """
    SELECT
      blob2 as error_type,
      COUNT(*) as error_count
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '1' HOUR
      AND blob1 = 'error'
    GROUP BY error_type
    ORDER BY error_count DESC
"""

# Dashboard: real-time metrics (last 5 minutes)
REALTIME = """
    SELECT
      COUNT(*) as total_requests,
      AVG(double1) as avg_response_time,
      SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) as error_count
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '5' MINUTE
"""

# Dashboard: cost trends (last 30 days)
COST_TRENDS = """
    SELECT
      DATE_TRUNC('day', timestamp) as date,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '30' DAY
      AND blob3 = 'cost'
    GROUP BY date, cost_type
    ORDER BY date DESC
"""

if __name__ == "__main__":
    for name, query in [
        ("requests by path", REQUESTS_BY_PATH),
        ("cost by project", COST_BY_PROJECT),
        ("error rate", ERROR_RATE),
        ("realtime", REALTIME),
        ("cost trends", COST_TRENDS),
    ]:
        print(f"{name}: {json.dumps(query_analytics(PROJECT, READ_KEY, query)['data'])}")
