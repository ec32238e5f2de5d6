#!/usr/bin/env bash
# Fuzzes the REST API against its own OpenAPI document with schemathesis: starts a
# throw-away redis-server and `hoist serve` (target/debug/hoist, or $HOIST_BIN) with an
# admin token of every scope, then sends thousands of generated requests and checks that
# none gets a 5xx, every status is documented, and every answer matches its schema.
set -euo pipefail
source "$(dirname "$0")/prereqs.sh"
cd "$HOIST_ROOT"
ensure_schemathesis

bin="${HOIST_BIN:-$HOIST_ROOT/target/debug/hoist}"
work="$(mktemp -d)"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_port="$(port)"
http_port="$(port)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
pids+=($!)
export REDIS_URL="redis://127.0.0.1:$redis_port" HOIST_DATA_DIR="$work/data" HOIST_ADDR="127.0.0.1:$http_port"
export HOIST_ADMIN_PASSWORD="fuzz-admin-password" HOIST_INSECURE_COOKIES=true RUST_LOG=error
mkdir -p "$HOIST_DATA_DIR"
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
"$bin" migrate >/dev/null
"$bin" user add admin --role admin --password "$HOIST_ADMIN_PASSWORD" >/dev/null
token="$("$bin" token create admin --name fuzz \
  --scopes jobs:read,jobs:write,queues:admin,schedules:write,users:admin,notifications:write | grep -o 'hoist_[A-Za-z0-9]*')"
"$bin" serve >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break; sleep 0.1; done

"$TOOLS_DIR/python/bin/st" run "http://127.0.0.1:$http_port/api/v1/openapi.json" \
  --url "http://127.0.0.1:$http_port" -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "${FUZZ_EXAMPLES:-60}" --workers 1 --seed 1 --no-color
curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null || { echo "the server stopped answering /healthz" >&2; exit 1; }
