#!/usr/bin/env bash
# Runs the portal at http://127.0.0.1:8000: installs and starts PostgreSQL and Redis if needed,
# builds (release), migrates, seeds the demo admin (printing its password once) and serves.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
start_services
ensure_secret_key
PROFILE=${PROFILE:-release}
echo "==> building ($PROFILE)"
cargo build --profile "$PROFILE" --locked
bin=target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/phaze-portal
"$bin" migrate
"$bin" seed-demo
echo "==> Phaze Portal on http://${ROCKET_ADDRESS:-127.0.0.1}:${ROCKET_PORT:-8000}"
# Plain HTTP on loopback for trying it out; behind TLS leave this unset (release: Secure cookies).
export PORTAL_SECURE_COOKIES=${PORTAL_SECURE_COOKIES:-false}
exec "$bin" serve
