#!/usr/bin/env bash
# Installs what Hoist needs, only when it is missing. Sourced by run.sh and test.sh.
# Every function is idempotent: a second run finds everything and does nothing.

set -euo pipefail

HOIST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="$HOIST_ROOT/.tools"
BINARYEN_NPM_VERSION="132.0.0"
export PATH="$HOME/.cargo/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

APT_UPDATED=""
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "error: cargo not found; install rustup first (https://rustup.rs)" >&2; exit 1; }
  # rust-toolchain.toml pins the toolchain; rustup installs it on first use where it can.
  if ! (cd "$HOIST_ROOT" && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown); then
    say "adding the wasm32-unknown-unknown target"
    (cd "$HOIST_ROOT" && rustup target add wasm32-unknown-unknown)
  fi
}

# Crates with C inside (ring, for TLS) need a C compiler; a fresh Debian has none.
ensure_c_toolchain() {
  command -v cc >/dev/null && return 0
  apt_install build-essential
}

# cargo-leptos is not needed to build or run Hoist (server/build.rs builds the dashboard's
# browser files); it stays the tool for `cargo leptos watch`, and is installed only by
# hand: `cargo install cargo-leptos@0.3.10 --locked`.

ensure_node() {
  if ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
}

# wasm-opt from npm's binaryen: Debian's (version 108) produces broken wasm for Leptos.
ensure_wasm_opt() {
  ensure_node
  if ! "$TOOLS_DIR/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version 132"; then
    say "installing wasm-opt (npm binaryen@$BINARYEN_NPM_VERSION) into .tools/"
    mkdir -p "$TOOLS_DIR"
    (cd "$TOOLS_DIR" && [ -f package.json ] || echo '{"private":true}' > package.json)
    (cd "$TOOLS_DIR" && npm install --no-audit --no-fund --silent "binaryen@$BINARYEN_NPM_VERSION")
  fi
}

ensure_redis_server() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server redis-tools
}

# Starts a Redis with AOF under ./data/redis when none answers at REDIS_URL.
ensure_redis_running() {
  local url="${REDIS_URL:-redis://127.0.0.1:6379}"
  if redis-cli -u "$url" ping 2>/dev/null | grep -q PONG; then
    return 0
  fi
  local hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
  local host="${hostport%%:*}" port="${hostport##*:}"
  [ "$port" = "$hostport" ] && port=6379
  case "$host" in
    127.0.0.1|localhost|"") ;;
    *) echo "error: REDIS_URL: no Redis answers at $url" >&2; exit 1 ;;
  esac
  local dir="$HOIST_ROOT/data/redis"
  mkdir -p "$dir"
  say "starting redis-server on 127.0.0.1:$port (AOF in data/redis)"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes \
    --daemonize yes --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
  for _ in $(seq 1 50); do
    redis-cli -u "$url" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "error: REDIS_URL: redis-server did not start; see data/redis/redis.log" >&2
  exit 1
}

# The SQL tests also run on PostgreSQL at 127.0.0.1:5432 (trust auth, database `test`).
# schemathesis (PyPI), pinned, in a virtualenv of its own under .tools/: it fuzzes the
# OpenAPI document against a running server.
SCHEMATHESIS_VERSION="4.32.5"
ensure_schemathesis() {
  local venv="$TOOLS_DIR/python"
  if [ -x "$venv/bin/st" ] && "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    return 0
  fi
  python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  say "installing schemathesis $SCHEMATHESIS_VERSION"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
}

ensure_postgres() {
  local url="${HOIST_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
  if command -v psql >/dev/null && psql "$url" -Atc 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql
  fi
  local version
  version="$(ls /etc/postgresql | sort -n | tail -1)"
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  # A cluster we set up ourselves: let local test connections in without a password.
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q '^# hoist-test' "$hba"; then
    sed -i '1i # hoist-test: local test database, trust on loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  for _ in $(seq 1 50); do
    psql "${url%/*}/postgres" -Atc 'select 1' >/dev/null 2>&1 && break
    sleep 0.2
  done
  psql "${url%/*}/postgres" -Atc "select 1 from pg_database where datname = 'test'" | grep -q 1 \
    || psql "${url%/*}/postgres" -c 'create database test' >/dev/null
}

ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
}

ensure_end2end_packages() {
  ensure_node
  if [ ! -d "$HOIST_ROOT/end2end/node_modules/playwright-core" ] || [ ! -d "$HOIST_ROOT/end2end/node_modules/axe-core" ]; then
    say "installing the end2end Node packages"
    (cd "$HOIST_ROOT/end2end" && npm ci --no-audit --no-fund --silent)
  fi
}

# What both commands need: the toolchain, a C compiler, wasm-opt, and a Redis answering.
ensure_build_prerequisites() {
  ensure_c_toolchain
  ensure_rust
  ensure_redis_server
  ensure_node
  ensure_wasm_opt
  ensure_redis_running
}
