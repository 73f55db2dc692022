// src/middleware/analytics.ts
import { Context, Next } from 'hono';

export async function analyticsMiddleware(c: Context, next: Next) {
  const start = Date.now();
  const request = c.req.raw;
  
  // Process request
  await next();
  
  const duration = Date.now() - start;
  const response = c.res;
  
  // Track to Analytics Engine
  try {
    await c.env.ANALYTICS_ENGINE.writeDataPoint({
      blobs: [
        request.method,
        new URL(request.url).pathname,
        response.status.toString(),
        c.env.ENVIRONMENT || 'production'
      ],
      doubles: [
        duration,                           // Response time (ms)
        1,                                  // Request count
        response.headers.get('content-length') 
          ? parseInt(response.headers.get('content-length')!) 
          : 0                               // Response size (bytes)
      ],
      indexes: [
        request.headers.get('cf-ray') || 'unknown',
        request.headers.get('user-agent')?.substring(0, 100) || 'unknown'
      ]
    });
  } catch (error) {
    // Don't fail the request if analytics fails
    console.error('Analytics tracking failed:', error);
  }
}
