// MeauxCLOUD Analytics: Workers' AnalyticsEngineDataset over fetch, for Workers and Node.
//
//   import { createDataset } from "@meauxcloud/analytics";
//   const analytics = createDataset({ url: "https://analytics.example.com", key: "mc_…", dataset: "meauxcloud_analytics" });
//   analytics.writeDataPoint({ blobs: ["user-login"], doubles: [1], indexes: ["user-123"] });
//
// writeDataPoint() returns undefined at once and never throws, as the binding does.
// Points are checked with the server's limits and messages; an invalid one is reported
// through onError (console.warn by default) and counted. Valid ones are batched and
// posted as NDJSON (gzipped where CompressionStream exists):
// - with a ctx (createDataset({ …, ctx }) or dataset.withContext(ctx)), the writes of one
//   synchronous stretch go out as one batch kept alive by ctx.waitUntil(), so a Worker
//   can return its response first;
// - without one (Node), batches go out when batchSize points are queued or after
//   flushInterval ms (the timer does not keep the process alive); await flush() before
//   exiting.
// 429, 5xx and network errors are retried with backoff, honouring Retry-After.

const MAX_BLOBS = 20;
const MAX_DOUBLES = 20;
const MAX_INDEXES = 1;
const MAX_INDEX_BYTES = 96;
const MAX_BLOB_BYTES = 16000;
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

export class DataPointError extends TypeError {
  constructor(code, detail) {
    super(`writeDataPoint(): ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}

function jsonType(value) {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  return "object";
}

function typeError(expected, value, where) {
  return new DataPointError("invalid_type", `Expected \`${expected}\`, got \`${jsonType(value)}\` - at \`${where}\``);
}

function texts(values, name) {
  if (values === undefined || values === null) return null;
  if (!Array.isArray(values)) throw typeError("array | null", values, name);
  return values.map((value, position) => {
    if (value === null || value === undefined || typeof value === "string") return value ?? null;
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      try {
        return strictDecoder.decode(value);
      } catch {
        throw new DataPointError("invalid_utf8", `${name}[${position}] is not valid UTF-8.`);
      }
    }
    throw typeError("str | null", value, `${name}[${position}]`);
  });
}

function utf8Size(value, where) {
  if (value.isWellFormed && !value.isWellFormed()) {
    throw new DataPointError("invalid_utf8", `${where} is not valid UTF-8.`);
  }
  if (value.includes("\u0000")) throw new DataPointError("nul_character", `${where} contains a NUL character.`);
  return encoder.encode(value).length;
}

/** The point as the JSON object the ingest API takes; throws DataPointError as the server would refuse it. */
export function checkDataPoint(point = {}) {
  if (point === null || typeof point !== "object" || Array.isArray(point)) throw typeError("object", point, "$");
  const blobs = texts(point.blobs, "blobs");
  const indexes = texts(point.indexes, "indexes");
  let doubles = null;
  if (point.doubles !== undefined && point.doubles !== null) {
    if (!Array.isArray(point.doubles)) throw typeError("array | null", point.doubles, "doubles");
    point.doubles.forEach((value, position) => {
      if (typeof value !== "number") throw typeError("float", value, `doubles[${position}]`);
    });
    doubles = point.doubles;
  }
  const out = {};
  if (indexes && indexes.length) {
    if (indexes.length > MAX_INDEXES) throw new DataPointError("too_many_indexes", "Maximum of 1 indexes supported.");
    if (indexes[0] !== null && utf8Size(indexes[0], "indexes[0]") > MAX_INDEX_BYTES) {
      throw new DataPointError("index_too_large", "Size of indexes[0] exceeds 96 bytes.");
    }
    out.indexes = indexes;
  }
  if (blobs && blobs.length) {
    if (blobs.length > MAX_BLOBS) throw new DataPointError("too_many_blobs", "Maximum of 20 blobs supported.");
    let total = 0;
    blobs.forEach((blob, position) => {
      if (blob !== null) total += utf8Size(blob, `blobs[${position}]`);
    });
    if (total > MAX_BLOB_BYTES) throw new DataPointError("blobs_too_large", "Cumulative size of blobs exceeds 16000 bytes.");
    out.blobs = blobs;
  }
  if (doubles && doubles.length) {
    if (doubles.length > MAX_DOUBLES) throw new DataPointError("too_many_doubles", "Maximum of 20 doubles supported.");
    doubles.forEach((value, position) => {
      if (!Number.isFinite(value)) throw new DataPointError("non_finite_double", `doubles[${position}] must be a finite number.`);
    });
    out.doubles = doubles;
  }
  return out;
}

/** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function retryAfterSeconds(value, now = Date.now()) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}

async function gzip(text) {
  if (typeof CompressionStream === "undefined") return { body: text, encoding: null };
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return { body: await new Response(stream).arrayBuffer(), encoding: "gzip" };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function createDataset({
  url,
  key,
  dataset,
  ctx = null,
  fetch: fetchImpl = (...args) => globalThis.fetch(...args),
  batchSize = 250,
  flushInterval = 1000,
  maxQueue = 10000,
  maxRetries = 3,
  backoffBase = 500,
  backoffCap = 10000,
  onError = (message) => console.warn(message),
} = {}) {
  if (!url || !key || !dataset) throw new TypeError("createDataset() needs url, key and dataset");
  const endpoint = `${url.replace(/\/+$/, "")}/api/v1/datasets/${encodeURIComponent(dataset)}/datapoints`;
  const counts = { accepted: 0, rejected: 0, invalid: 0, dropped: 0, retries: 0, batches: 0 };
  let queue = [];
  let timer = null;
  let contextFlushPending = false;
  let sending = Promise.resolve();

  async function post(lines) {
    const { body, encoding } = await gzip(lines.join("\n"));
    const headers = { Authorization: `Bearer ${key}`, "Content-Type": "application/x-ndjson" };
    if (encoding) headers["Content-Encoding"] = encoding;
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let answer = {};
      let retryAfter = null;
      try {
        const response = await fetchImpl(endpoint, { method: "POST", headers, body });
        status = response.status;
        retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
        answer = await response.json().catch(() => ({}));
      } catch (error) {
        answer = { detail: String(error) };
      }
      if (status === 202) {
        counts.accepted += answer.accepted ?? 0;
        counts.rejected += lines.length - (answer.accepted ?? 0) - (answer.duplicates ?? 0);
        if (answer.errors?.length) onError(`MeauxCLOUD rejected ${answer.errors.length} points, e.g. ${answer.errors[0].detail}`);
        return;
      }
      if (status !== 0 && !RETRYABLE.has(status)) {
        if (status === 400 && answer.code === "no_valid_points") counts.rejected += lines.length;
        else counts.dropped += lines.length;
        onError(`MeauxCLOUD refused a batch of ${lines.length} points: HTTP ${status} ${answer.detail ?? ""}`);
        return;
      }
      if (attempt >= maxRetries) {
        counts.dropped += lines.length;
        onError(`MeauxCLOUD: dropping ${lines.length} points after ${attempt + 1} tries (${status ? `HTTP ${status}` : answer.detail})`);
        return;
      }
      counts.retries += 1;
      const backoff = Math.min(backoffCap, backoffBase * 2 ** attempt) * (0.5 + Math.random() / 2);
      await sleep(retryAfter !== null ? Math.min(retryAfter * 1000, backoffCap) : backoff);
    }
  }

  function flush() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    while (queue.length) {
      const lines = queue.splice(0, batchSize).map((point) => JSON.stringify(point));
      counts.batches += 1;
      sending = sending
        .then(() => post(lines))
        .catch((error) => {
          counts.dropped += lines.length;
          onError(`MeauxCLOUD: dropping ${lines.length} points after an unexpected error: ${error}`);
        });
    }
    return sending;
  }

  function schedule(context) {
    if (queue.length >= batchSize) {
      const done = flush();
      context?.waitUntil(done);
      return;
    }
    if (context) {
      if (contextFlushPending) return;
      contextFlushPending = true;
      context.waitUntil(
        sleep(0).then(() => {
          contextFlushPending = false;
          return flush();
        }),
      );
    } else if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        flush();
      }, flushInterval);
      timer.unref?.();
    }
  }

  function make(context) {
    return {
      writeDataPoint(point) {
        try {
          const checked = checkDataPoint(point ?? {});
          checked.timestamp = Date.now();
          if (queue.length >= maxQueue) {
            queue.shift();
            counts.dropped += 1;
          }
          queue.push(checked);
          schedule(context);
        } catch (error) {
          counts.invalid += 1;
          onError(error instanceof DataPointError ? error.message : `writeDataPoint(): ${error}`);
        }
      },
      flush,
      withContext: (next) => make(next),
      stats: () => ({ ...counts, queued: queue.length }),
    };
  }

  return make(ctx);
}

/**
 * Ask before you spend: a budget's status as the last evaluation found it (read key).
 * Resolves to {name, amount_usd, spent_usd, remaining_usd, exhausted, forecast_usd, evaluated_at}
 * (money as decimal strings); rejects with the server's problem detail on 4xx/5xx.
 */
export async function budgetStatus({ url, key, scope, fetch: fetchImpl = (...args) => globalThis.fetch(...args) }) {
  const response = await fetchImpl(`${url.replace(/\/$/, "")}/api/v1/budgets/status?scope=${encodeURIComponent(scope)}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`budgetStatus: HTTP ${response.status}: ${body.detail ?? "no detail"}`);
  }
  return body.budgets[0];
}
