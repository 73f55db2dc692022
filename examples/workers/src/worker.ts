// Entry point: the seed's Hono app (src/index.ts, unchanged), plus what the seed shows but
// does not wire up: its analytics routes, its helpers and its first snippet, so that every
// piece of the seed runs in workerd against MeauxCLOUD.
import { Hono } from 'hono';

import app from './index';
import analytics from './routes/analytics';
import { getCostByProject, getErrorRate, getRequestsByPath, queryAnalytics } from './lib/analytics-query';
import { trackAIUsage, trackError, trackProjectCost, trackRequest } from './lib/tracking';
import { analyticsMiddleware as oneIndexMiddleware } from './middleware/analytics-one-index';

// src/routes/analytics.ts calls queryAnalytics() without importing it; provide it as a global.
(globalThis as { queryAnalytics?: typeof queryAnalytics }).queryAnalytics = queryAnalytics;

app.route('/', analytics);

app.get('/demo/basic', async (c) => {
  const env = c.env;
  // Track a simple event
  await env.ANALYTICS_ENGINE.writeDataPoint({
    blobs: ['user-login', 'google-oauth'],
    doubles: [1], // count
    indexes: ['user-123']
  });
  return c.text('basic event written');
});

app.get('/demo/helpers', async (c) => {
  const started = Date.now();
  await trackProjectCost(c.env, 'proj-1', 'ai', 0.25);
  await trackAIUsage(c.env, 'llama-3-8b', 1200, 0.002);
  await trackError(c.env, 'TypeError', 'x is undefined', '/api/chat');
  const response = c.text('helpers written');
  await trackRequest(c.env, c.req.raw, response, Date.now() - started);
  return response;
});

app.get('/demo/requests-by-path', async (c) => c.json(await getRequestsByPath(c.env.accountId, c.env.apiToken)));
app.get('/demo/cost-by-project', async (c) => c.json(await getCostByProject(c.env.accountId, c.env.apiToken)));
app.get('/demo/error-rate', async (c) => c.json(await getErrorRate(c.env.accountId, c.env.apiToken)));

// The same pages behind the one-index middleware: these requests are recorded.
const fixed = new Hono<{ Bindings: Env }>();
fixed.use('*', oneIndexMiddleware);
fixed.get('/', (c) => c.text('MeauxCLOUD'));
app.route('/fixed', fixed);

export default app;
