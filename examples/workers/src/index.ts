// src/index.ts
import { Hono } from 'hono';
import { analyticsMiddleware } from './middleware/analytics';

type Bindings = {
  DB: D1Database;
  R2_ASSETS: R2Bucket;
  ANALYTICS_ENGINE: AnalyticsEngineDataset;
  AI: any;
  CHAT_ROOM: DurableObjectNamespace;
  HYPERDRIVE: Hyperdrive;
};

const app = new Hono<{ Bindings: Bindings }>();

// Apply analytics middleware to all routes
app.use('*', analyticsMiddleware);

// Your routes
app.get('/', (c) => c.text('MeauxCLOUD'));

export default app;
