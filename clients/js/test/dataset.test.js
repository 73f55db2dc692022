// node --test clients/js/test/  (MEAUXCLOUD_URL and MEAUXCLOUD_KEY add the test against a running platform)
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";

import { checkDataPoint, createDataset, retryAfterSeconds } from "../index.js";

function refusal(point) {
  try {
    checkDataPoint(point);
    return null;
  } catch (error) {
    return [error.code, error.message];
  }
}

test("points over a limit are refused with the server's code and the runtime's words", () => {
  assert.deepEqual(refusal({ blobs: Array(21).fill("x") }), ["too_many_blobs", "writeDataPoint(): Maximum of 20 blobs supported."]);
  assert.deepEqual(refusal({ doubles: Array(21).fill(0) }), ["too_many_doubles", "writeDataPoint(): Maximum of 20 doubles supported."]);
  assert.deepEqual(refusal({ indexes: ["a", "b"] }), ["too_many_indexes", "writeDataPoint(): Maximum of 1 indexes supported."]);
  assert.deepEqual(refusal({ indexes: ["é".repeat(49)] }), ["index_too_large", "writeDataPoint(): Size of indexes[0] exceeds 96 bytes."]);
  assert.deepEqual(refusal({ blobs: ["x".repeat(8000), "y".repeat(8001)] }), [
    "blobs_too_large",
    "writeDataPoint(): Cumulative size of blobs exceeds 16000 bytes.",
  ]);
  assert.deepEqual(refusal({ doubles: [NaN] }), ["non_finite_double", "writeDataPoint(): doubles[0] must be a finite number."]);
  assert.deepEqual(refusal({ blobs: [1] }), ["invalid_type", "writeDataPoint(): Expected `str | null`, got `int` - at `blobs[0]`"]);
  assert.deepEqual(refusal({ blobs: ["a\u0000"] }), ["nul_character", "writeDataPoint(): blobs[0] contains a NUL character."]);
});

test("ArrayBuffers are read as UTF-8 and nulls keep their position", () => {
  const bytes = new TextEncoder().encode("café");
  assert.deepEqual(checkDataPoint({ blobs: [null, bytes.buffer], indexes: [bytes] }), { indexes: ["café"], blobs: [null, "café"] });
});

test("Retry-After is read as seconds or as an HTTP date", () => {
  assert.equal(retryAfterSeconds("7"), 7);
  assert.equal(retryAfterSeconds("Thu, 01 Jan 1970 00:00:10 GMT", 4000), 6);
  assert.equal(retryAfterSeconds(null), null);
});

async function scriptedServer(script) {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      let body = Buffer.concat(chunks);
      if (request.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const points = body.toString().split("\n").filter(Boolean).map((line) => JSON.parse(line));
      received.push({ at: Date.now(), url: request.url, points, headers: request.headers });
      const [status, headers] = script.shift() ?? [202, {}];
      const answer = status === 202 ? { accepted: points.length, rejected: 0, errors: [] } : { code: "scripted" };
      response.writeHead(status, { "Content-Type": "application/json", ...headers });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, received, close: () => new Promise((r) => server.close(r)) };
}

test("a Worker's writes in one stretch go out as one gzipped batch under ctx.waitUntil", async () => {
  const server = await scriptedServer([]);
  const waited = [];
  const ctx = { waitUntil: (promise) => waited.push(promise) };
  const analytics = createDataset({ url: server.url, key: "k", dataset: "workers", ctx });
  analytics.writeDataPoint({ blobs: ["GET", "/a"], doubles: [1], indexes: ["r1"] });
  analytics.writeDataPoint({ blobs: ["GET", "/b"], doubles: [2], indexes: ["r2"] });
  assert.equal(waited.length, 1);
  await Promise.all(waited);
  await server.close();

  assert.equal(server.received.length, 1);
  assert.equal(server.received[0].headers["content-encoding"], "gzip");
  assert.equal(server.received[0].url, "/api/v1/datasets/workers/datapoints");
  assert.deepEqual(server.received[0].points.map((p) => p.blobs[1]), ["/a", "/b"]);
  assert.deepEqual(analytics.stats(), { accepted: 2, rejected: 0, invalid: 0, dropped: 0, retries: 0, batches: 1, queued: 0 });
});

test("429 waits for Retry-After and 5xx is retried, with the same points", async () => {
  const server = await scriptedServer([[429, { "Retry-After": "1" }], [503, {}]]);
  const analytics = createDataset({ url: server.url, key: "k", dataset: "retry", backoffBase: 50 });
  analytics.writeDataPoint({ blobs: ["x"] });
  await analytics.flush();
  await server.close();

  assert.equal(server.received.length, 3);
  assert.ok(server.received[1].at - server.received[0].at >= 1000);
  assert.deepEqual(server.received[2].points, server.received[0].points);
  assert.equal(analytics.stats().retries, 2);
  assert.equal(analytics.stats().accepted, 1);
});

test("a server that is down costs no exception, and the queue stays bounded", async () => {
  const messages = [];
  const analytics = createDataset({
    url: "http://127.0.0.1:9",
    key: "k",
    dataset: "down",
    maxQueue: 50,
    batchSize: 1000,
    maxRetries: 0,
    onError: (message) => messages.push(message),
  });
  for (let n = 0; n < 500; n++) analytics.writeDataPoint({ doubles: [n] });
  assert.equal(analytics.stats().queued, 50);
  assert.equal(analytics.stats().dropped, 450);
  await analytics.flush();
  assert.equal(analytics.stats().dropped, 500);
  assert.match(messages.at(-1), /^MeauxCLOUD: dropping 50 points after 1 tries/);
});

test("invalid points are reported and counted, never thrown", () => {
  const messages = [];
  const analytics = createDataset({ url: "http://127.0.0.1:9", key: "k", dataset: "x", onError: (m) => messages.push(m) });
  assert.equal(analytics.writeDataPoint({ indexes: ["a", "b"] }), undefined);
  assert.deepEqual(messages, ["writeDataPoint(): Maximum of 1 indexes supported."]);
  assert.equal(analytics.stats().invalid, 1);
});

test("points reach a running platform", { skip: !process.env.MEAUXCLOUD_URL && "MEAUXCLOUD_URL is not set" }, async () => {
  const analytics = createDataset({ url: process.env.MEAUXCLOUD_URL, key: process.env.MEAUXCLOUD_KEY, dataset: process.env.MEAUXCLOUD_DATASET ?? "js_client" });
  for (let n = 0; n < 5; n++) analytics.writeDataPoint({ blobs: ["js", `n${n}`], doubles: [n], indexes: [`js-${n}`] });
  await analytics.flush();
  assert.deepEqual(analytics.stats(), { accepted: 5, rejected: 0, invalid: 0, dropped: 0, retries: 0, batches: 1, queued: 0 });
});
