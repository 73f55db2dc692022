#!/usr/bin/env bash
# Install from npm, build, and run the seed's worker in workerd against MeauxCLOUD.
#
#   examples/workers/run.sh            # makes a project with manage.py when none is given
#   MEAUXCLOUD_PROJECT=slug MEAUXCLOUD_WRITE_KEY=mc_… MEAUXCLOUD_READ_KEY=mc_… examples/workers/run.sh
#
# MEAUXCLOUD_ADDRESS (default 127.0.0.1:8000, `make run`) is the platform; PORT (8787) the worker.
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${MEAUXCLOUD_PROJECT:-}" ]; then
  created=$(../../.venv/bin/python ../../manage.py create_project "workers-example-$(date +%s)" --json)
  MEAUXCLOUD_PROJECT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["project"])' "$created")
  MEAUXCLOUD_WRITE_KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["write_key"])' "$created")
  MEAUXCLOUD_READ_KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["read_key"])' "$created")
  echo "created project $MEAUXCLOUD_PROJECT (read key $MEAUXCLOUD_READ_KEY)"
fi
export MEAUXCLOUD_PROJECT MEAUXCLOUD_WRITE_KEY MEAUXCLOUD_READ_KEY
export ENVIRONMENT="${ENVIRONMENT:-development}"
ADDRESS="${MEAUXCLOUD_ADDRESS:-127.0.0.1:8000}"
PORT="${PORT:-8787}"

if [ ! -x node_modules/.bin/workerd ] || [ ! -x node_modules/.bin/esbuild ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
echo "worker on http://127.0.0.1:$PORT, writing to http://$ADDRESS (dataset meauxcloud_analytics)"
exec node_modules/.bin/workerd serve --experimental config.capnp \
  --external-addr "meauxcloud=$ADDRESS" --socket-addr "http=127.0.0.1:$PORT"
