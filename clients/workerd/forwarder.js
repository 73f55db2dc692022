// Forwards the events of workerd's `analyticsEngine` binding to MeauxCLOUD Analytics.
//
// workerd posts each writeDataPoint() as capnp-JSON to `/` of the service the binding
// names, with `Host: fake-host`. This worker is that service: it posts the event body,
// unchanged, to the platform's workerd route with the project's write key. The event's
// `dataset` is this service's name, so name the service after the dataset.
//
// Bindings: PLATFORM (a service binding to an `external` service at the platform),
// INGEST_URL (e.g. http://127.0.0.1:8000/api/v1/workerd/analytics-engine), WRITE_KEY.
export default {
  async fetch(request, env) {
    const response = await env.PLATFORM.fetch(env.INGEST_URL, {
      method: "POST",
      headers: { "Authorization": `Bearer ${env.WRITE_KEY}`, "Content-Type": "application/json" },
      body: await request.arrayBuffer(),
    });
    const detail = await response.text();
    if (!response.ok) console.error(`MeauxCLOUD refused an event: HTTP ${response.status} ${detail}`);
    return new Response(detail, { status: response.status });
  },
};
