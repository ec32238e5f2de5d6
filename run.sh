#!/usr/bin/env bash
# Serves the Hoist dashboard on http://127.0.0.1:3000 (HOIST_ADDR), installing what is missing.
set -euo pipefail
source "$(dirname "$0")/scripts/prereqs.sh"
cd "$HOIST_ROOT"

ensure_build_prerequisites

say "building (release; the dashboard's wasm is built and embedded by server/build.rs)"
cargo build --release --package hoist --bin hoist

export HOIST_DATA_DIR="${HOIST_DATA_DIR:-$HOIST_ROOT/data}"
exec "$HOIST_ROOT/target/release/hoist" serve --demo "$@"
