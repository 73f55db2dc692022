// Runs queries through the official @clickhouse/client against MEAUXCLOUD_URL/clickhouse.
// Reads a JSON list of {query, format} on stdin; prints one JSON document of results.
import { createClient } from "@clickhouse/client";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const client = createClient({
  url: process.env.MEAUXCLOUD_URL,
  pathname: "/clickhouse",
  username: process.env.MEAUXCLOUD_USER,
  password: process.env.MEAUXCLOUD_KEY,
});

const results = { ping: await client.ping(), answers: [] };
for (const { query, format } of input) {
  try {
    const resultSet = await client.query({ query, format });
    results.answers.push({ ok: true, format, body: await resultSet.json() });
  } catch (error) {
    results.answers.push({ ok: false, format, code: error.code ?? null, message: String(error.message) });
  }
}
await client.close();
console.log(JSON.stringify(results));
