#!/usr/bin/env bash
# Runs every test against real PostgreSQL, Redis and headless Chromium (installing and starting
# them if needed), after the format and lint checks; then fuzzes the API (scripts/fuzz-api.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
start_services
install_packages chromium chromium-driver wireguard-go wireguard-tools openvpn openssl iproute2 iputils-ping python3-aiosmtpd prometheus \
  nginx libnginx-mod-http-modsecurity modsecurity-crs gettext-base systemd curl python3-venv
export PORTAL_TEST_DATABASE_URL=$DATABASE_URL
# Databases left by an earlier, interrupted run.
as_postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'phaze_test_%'" |
  while read -r db; do as_postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"; done
echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "==> cargo test"
cargo test --locked -- --test-threads "${TEST_THREADS:-4}"
echo "==> API fuzzing (schemathesis)"
bash scripts/fuzz-api.sh
