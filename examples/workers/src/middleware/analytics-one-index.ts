// The seed's analyticsMiddleware with the one change Analytics Engine needs: a single
// index. The seed writes two (cf-ray and user-agent); WAE and workerd drop such a point
// without an error. Here the request id stays the index and the user agent moves to blob5.
import { Context, Next } from 'hono';

export async function analyticsMiddleware(c: Context, next: Next) {
  const start = Date.now();
  const request = c.req.raw;

  await next();

  const duration = Date.now() - start;
  const response = c.res;

  try {
    c.env.ANALYTICS_ENGINE.writeDataPoint({
      blobs: [
        request.method,
        new URL(request.url).pathname,
        response.status.toString(),
        c.env.ENVIRONMENT || 'production',
        request.headers.get('user-agent')?.substring(0, 100) || 'unknown'
      ],
      doubles: [
        duration,
        1,
        response.headers.get('content-length')
          ? parseInt(response.headers.get('content-length')!)
          : 0
      ],
      indexes: [
        request.headers.get('cf-ray') || 'unknown'
      ]
    });
  } catch (error) {
    console.error('Analytics tracking failed:', error);
  }
}
