export interface AnalyticsEngineDataPoint {
  indexes?: ((ArrayBuffer | string) | null)[];
  doubles?: number[];
  blobs?: ((ArrayBuffer | string) | null)[];
}

export interface WaitUntilContext {
  waitUntil(promise: Promise<unknown>): void;
}

export interface DatasetStats {
  accepted: number;
  rejected: number;
  invalid: number;
  dropped: number;
  retries: number;
  batches: number;
  queued: number;
}

export interface MeauxcloudDataset {
  /** Same contract as Workers' AnalyticsEngineDataset.writeDataPoint: returns at once, never throws. */
  writeDataPoint(event?: AnalyticsEngineDataPoint): void;
  /** Resolves when every point written so far has been sent (or counted as dropped). */
  flush(): Promise<void>;
  /** The same dataset, batching the writes of one request under ctx.waitUntil(). */
  withContext(ctx: WaitUntilContext): MeauxcloudDataset;
  stats(): DatasetStats;
}

export interface DatasetOptions {
  url: string;
  key: string;
  dataset: string;
  ctx?: WaitUntilContext | null;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  batchSize?: number;
  flushInterval?: number;
  maxQueue?: number;
  maxRetries?: number;
  backoffBase?: number;
  backoffCap?: number;
  onError?: (message: string) => void;
}

export class DataPointError extends TypeError {
  code: string;
  detail: string;
}

export function createDataset(options: DatasetOptions): MeauxcloudDataset;
export function checkDataPoint(point?: AnalyticsEngineDataPoint): Record<string, unknown>;
export function retryAfterSeconds(value: string | null, now?: number): number | null;

export interface BudgetStatus {
  name: string;
  amount_usd: string;
  spent_usd: string | null;
  remaining_usd: string | null;
  exhausted: boolean;
  forecast_usd: string | null;
  evaluated_at: string | null;
}

export function budgetStatus(options: {
  url: string;
  key: string;
  scope: string;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}): Promise<BudgetStatus>;
