// Track every request
export async function trackRequest(
  env: Env,
  request: Request,
  response: Response,
  duration: number
) {
  await env.ANALYTICS_ENGINE.writeDataPoint({
    blobs: [
      request.method,           // GET, POST, etc.
      new URL(request.url).pathname,
      response.status.toString()
    ],
    doubles: [
      duration,                 // Response time in ms
      1                         // Request count
    ],
    indexes: [
      request.headers.get('cf-ray') || 'unknown'
    ]
  });
}

// Track costs per project
export async function trackProjectCost(
  env: Env,
  projectId: string,
  costType: 'time' | 'ai' | 'compute',
  amount: number
) {
  await env.ANALYTICS_ENGINE.writeDataPoint({
    blobs: [
      projectId,
      costType,
      'cost'
    ],
    doubles: [
      amount,                   // Cost in USD
      1                         // Event count
    ],
    indexes: [
      projectId
    ]
  });
}

// Track AI model usage
export async function trackAIUsage(
  env: Env,
  model: string,
  tokens: number,
  cost: number
) {
  await env.ANALYTICS_ENGINE.writeDataPoint({
    blobs: [
      'ai-usage',
      model,
      'tokens'
    ],
    doubles: [
      tokens,
      cost,
      1
    ],
    indexes: [
      model
    ]
  });
}

// Track errors
export async function trackError(
  env: Env,
  errorType: string,
  errorMessage: string,
  path: string
) {
  await env.ANALYTICS_ENGINE.writeDataPoint({
    blobs: [
      'error',
      errorType,
      path
    ],
    doubles: [1],
    indexes: [errorType]
  });
}
