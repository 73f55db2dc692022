# The seed's worker in workerd, its ANALYTICS_ENGINE binding writing into MeauxCLOUD.
# run.sh builds dist/worker.js and starts: workerd serve --experimental config.capnp
# The platform's address is 127.0.0.1:8000 (`make run`); override it with
# `--external-addr meauxcloud=HOST:PORT`.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .app),
    # The binding's target; its name is the dataset, as wrangler.toml's `dataset` was.
    (name = "meauxcloud_analytics", worker = .forwarder),
    (name = "meauxcloud", external = (address = "127.0.0.1:8000", http = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const app :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "dist/worker.js")],
  compatibilityDate = "2025-01-01",
  compatibilityFlags = ["nodejs_compat"],
  # queryAnalytics() fetches http://127.0.0.1:8000/client/v4/...: every outbound fetch
  # goes to the platform.
  globalOutbound = "meauxcloud",
  bindings = [
    (name = "ANALYTICS_ENGINE", analyticsEngine = "meauxcloud_analytics"),
    (name = "ENVIRONMENT", fromEnvironment = "ENVIRONMENT"),
    (name = "accountId", fromEnvironment = "MEAUXCLOUD_PROJECT"),
    (name = "apiToken", fromEnvironment = "MEAUXCLOUD_READ_KEY"),
  ],
);

const forwarder :Workerd.Worker = (
  modules = [(name = "forwarder.js", esModule = embed "../../clients/workerd/forwarder.js")],
  compatibilityDate = "2025-01-01",
  bindings = [
    (name = "PLATFORM", service = "meauxcloud"),
    (name = "INGEST_URL", text = "http://127.0.0.1:8000/api/v1/workerd/analytics-engine"),
    (name = "WRITE_KEY", fromEnvironment = "MEAUXCLOUD_WRITE_KEY"),
  ],
);
