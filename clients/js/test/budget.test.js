// The budget status helper; MEAUXCLOUD_URL, MEAUXCLOUD_READ_KEY and MEAUXCLOUD_BUDGET add a call to a running platform.
import { test } from "node:test";
import assert from "node:assert/strict";

import { budgetStatus } from "../index.js";

test("budgetStatus asks the status endpoint with the key and returns the named budget", async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push([url, init.headers.Authorization]);
    return new Response(JSON.stringify({ budgets: [{ name: "llm", exhausted: true, spent_usd: "12.500000" }] }), { status: 200 });
  };
  const status = await budgetStatus({ url: "https://a.example/", key: "mc_r", scope: "llm & co", fetch });
  assert.deepEqual(calls, [["https://a.example/api/v1/budgets/status?scope=llm%20%26%20co", "Bearer mc_r"]]);
  assert.equal(status.exhausted, true);
  const refused = async () => new Response(JSON.stringify({ detail: "No such budget in this project." }), { status: 404 });
  await assert.rejects(budgetStatus({ url: "https://a.example", key: "k", scope: "x", fetch: refused }), /HTTP 404: No such budget/);
});

test("budgetStatus against a running platform", { skip: !process.env.MEAUXCLOUD_BUDGET }, async () => {
  const status = await budgetStatus({
    url: process.env.MEAUXCLOUD_URL, key: process.env.MEAUXCLOUD_READ_KEY, scope: process.env.MEAUXCLOUD_BUDGET,
  });
  assert.equal(status.name, process.env.MEAUXCLOUD_BUDGET);
});
