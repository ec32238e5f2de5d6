#!/usr/bin/env bash
# Runs every test: the Rust suites (engine, server, SQL on SQLite and PostgreSQL), quick
# chaos, scale-out and dashboard-load runs, and the browser tests in headless Chromium. Installs what is missing first. Non-zero on failure.
set -euo pipefail
source "$(dirname "$0")/scripts/prereqs.sh"
cd "$HOIST_ROOT"

ensure_build_prerequisites
ensure_postgres
ensure_chromium
ensure_end2end_packages
apt_install faketime  # libfaketime, for the clock-skew test (stress/tests/clock_skew.rs)
apt_install openssl   # certificates for the TLS tests (testkit: redis-server --tls-port)

say "Rust tests"
cargo test --workspace --no-fail-fast -- --skip hostile_suite

say "the engine crate as published: docs with warnings denied, a publish dry run, and its optional features off (with TLS on)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
cargo publish --dry-run -p hoist-queue -p hoist-testkit
cargo check -p hoist-queue --no-default-features --features tls --tests --examples

say "hostile-input suite against a real hoist serve (ends with one line: N passed, M failed)"
# --workspace: the same features as the run above, so nothing is compiled again.
cargo test --workspace --test integration hostile_suite -- --nocapture

say "the REST API fuzzed against its OpenAPI document (schemathesis, against a real hoist serve)"
scripts/fuzz-openapi.sh

say "engine suites again, on a 3-master Redis Cluster"
HOIST_TEST_CLUSTER=1 cargo test -p hoist-queue --test control --test worker --test load --test limits --test schedules --test owners --test groups --no-fail-fast

say "chaos and scale-out, quick versions (hoist-stress; full runs: see README)"
cargo build -p hoist-stress
target/debug/hoist-stress chaos --quick
target/debug/hoist-stress scale --quick

say "dashboard load, quick version (100 WebSocket clients at 1,000 jobs/s for 20 s)"
target/debug/hoist-stress wsload --quick --hoist-bin "$HOIST_ROOT/target/debug/hoist"

say "browser tests (the hoist and the embedding example plain \`cargo test\` built, with their built-in dashboard files)"
HOIST_BIN="$HOIST_ROOT/target/debug/hoist" node --test --test-concurrency=1 end2end/tests/
