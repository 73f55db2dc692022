// src/routes/analytics.ts
import { Hono } from 'hono';

const analytics = new Hono();

// Get real-time metrics
analytics.get('/metrics/realtime', async (c) => {
  const { accountId, apiToken } = c.env;
  
  // Last 5 minutes of data
  const query = `
    SELECT
      COUNT(*) as total_requests,
      AVG(double1) as avg_response_time,
      SUM(CASE WHEN blob3 LIKE '5%' THEN 1 ELSE 0 END) as error_count
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '5' MINUTE
  `;
  
  const result = await queryAnalytics(accountId, apiToken, query);
  
  return c.json(result);
});

// Get cost trends
analytics.get('/metrics/costs', async (c) => {
  const { accountId, apiToken } = c.env;
  
  const query = `
    SELECT
      DATE_TRUNC('day', timestamp) as date,
      blob2 as cost_type,
      SUM(double1) as total_cost
    FROM meauxcloud_analytics
    WHERE timestamp > NOW() - INTERVAL '30' DAY
      AND blob3 = 'cost'
    GROUP BY date, cost_type
    ORDER BY date DESC
  `;
  
  const result = await queryAnalytics(accountId, apiToken, query);
  
  return c.json(result);
});

export default analytics;
