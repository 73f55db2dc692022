// src/lib/analytics-query.ts

export async function queryAnalytics(
  accountId: string,
  apiToken: string,
  query: string
) {
  const response = await fetch(
    `http://127.0.0.1:8000/client/v4/accounts/${accountId}/analytics_engine/sql`,
    {
      method: 'POST',
      headers: {
        'Authorization': `Bearer ${apiToken}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ query })
    }
  );
  
  return await response.json();
}

// Example: Get request count by path (last 24 hours)
export async function getRequestsByPath(accountId: string, apiToken: string) {
  const query = `
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
  `;
  
  return await queryAnalytics(accountId, apiToken, query);
}

// Example: Get cost by project (last 7 days)
export async function getCostByProject(accountId: string, apiToken: string) {
  const query = `
    SELECT
      blob1 as project_id,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '7' DAY
      AND blob3 = 'cost'
    GROUP BY project_id, cost_type
    ORDER BY total_cost DESC
  `;
  
  return await queryAnalytics(accountId, apiToken, query);
}

// Example: Get error rate (last hour)
export async function getErrorRate(accountId: string, apiToken: string) {
  const query = `
    SELECT
      blob2 as error_type,
      COUNT(*) as error_count
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '1' HOUR
      AND blob1 = 'error'
    GROUP BY error_type
    ORDER BY error_count DESC
  `;
  
  return await queryAnalytics(accountId, apiToken, query);
}
