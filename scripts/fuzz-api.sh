#!/usr/bin/env bash
# Fuzzes the customer API with schemathesis (PyPI) against both OpenAPI documents, as a real
# user's token: no 5xx, every answer's status, content type, headers and body as documented.
# Then checks that nothing one user's token did reached another user's objects. Bounded so CI
# stays within its time: FUZZ_EXAMPLES per operation (default 100) and a fixed FUZZ_SEED (7); another seed explores other inputs.
#   scripts/fuzz-api.sh            (uses target/debug/phaze-portal, building it if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
start_services
install_packages python3-venv curl
EXAMPLES=${FUZZ_EXAMPLES:-100}
PORT=${FUZZ_PORT:-8097}
BASE=http://127.0.0.1:$PORT
venv=${FUZZ_VENV:-target/fuzz-venv}
bin=${PORTAL_BIN:-target/debug/phaze-portal}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "==> installing schemathesis and openapi-spec-validator into $venv"
  # Debian's Python, not whatever python3 comes first on PATH.
  /usr/bin/python3 -m venv "$venv"
  for attempt in 1 2 3; do
    "$venv/bin/pip" install --disable-pip-version-check --progress-bar off -q \
      "schemathesis==4.32.5" "openapi-spec-validator==0.7.2" && break
    [ "$attempt" = 3 ] && { echo "could not install schemathesis" >&2; exit 1; }
    sleep 5
  done
fi
[ -x "$bin" ] || cargo build --locked --bin phaze-portal

as_postgres -c "DROP DATABASE IF EXISTS phaze_fuzz WITH (FORCE)" -c "CREATE DATABASE phaze_fuzz OWNER $PG_ROLE" >/dev/null
export DATABASE_URL="postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/phaze_fuzz?sslmode=disable"
sql() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qtAc "$1"; }
"$bin" migrate >/dev/null
"$bin" add-node --name fuzz-node --region Fuzz --host 127.0.0.1 --pool 10.120.0.0/16 >/dev/null
# The fuzzer makes many clients and calls quickly: limits that would only slow it down are raised
# (their own tests are elsewhere); what it creates must still fit the plan.
sql "UPDATE plans SET max_clients = 100000 WHERE free"
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern 'phazefuzz:*' | xargs -r redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del >/dev/null
PORTAL_REDIS_NAMESPACE=phazefuzz PORTAL_SECURE_COOKIES=false PORTAL_MAIL_DIR=$work/mail \
  PORTAL_API_REQUESTS_PER_MINUTE=1000000 PORTAL_API_AUTH_FAILURES_PER_IP=1000000 \
  PORTAL_NODE_AUTH_FAILURES_PER_IP=1000000 PORTAL_CLIENT_CHANGES_PER_HOUR=1000000 \
  ROCKET_PORT=$PORT ROCKET_LOG_LEVEL=off "$bin" serve >"$work/portal.out" 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done

field() { grep -o "name=\"_csrf\" value=\"[^\"]*\"" | head -1 | sed 's/.*value="//; s/"$//'; }
# A user through the web: sign up, confirm, make a token with every scope on the tokens page.
user_token() { # username → the token, shown once
  local jar=$work/$1.jar csrf
  csrf=$(curl -s -c "$jar" "$BASE/signup" | field)
  curl -s -b "$jar" -c "$jar" -o /dev/null \
    -d "_csrf=$csrf&username=$1&email=$1%40example.com&password=violet-tractor-harbour&password_confirm=violet-tractor-harbour" \
    "$BASE/signup"
  sql "UPDATE users SET email_verified_at = now() WHERE username = '$1'"
  csrf=$(curl -s -b "$jar" "$BASE/account/tokens" | field)
  curl -s -b "$jar" -d "_csrf=$csrf&name=fuzz&lifetime=7&scopes=clients:read&scopes=clients:write&scopes=account:read&scopes=usage:read" \
    "$BASE/account/tokens" | grep -o '<code id="token-secret">[^<]*' | sed 's/.*>//'
}
token=$(user_token fuzzer)
other=$(user_token bystander)
[ -n "$token" ] && [ -n "$other" ] || { echo "could not make the fuzz tokens" >&2; exit 1; }
theirs=$(curl -sf -H "Authorization: Bearer $other" -H "Content-Type: application/json" \
  -d '{"name":"bystander-phone","protocol":"wireguard"}' "$BASE/api/v2/clients" | sed 's/.*"id":"\([^"]*\)".*/\1/')
snapshot() { sql "SELECT c.id, c.name, c.status, c.address, c.updated_at FROM clients c JOIN users u ON u.id = c.user_id
  WHERE u.username = 'bystander' ORDER BY c.id"; sql "SELECT id, name, revoked_at FROM api_tokens t
  WHERE user_id = (SELECT id FROM users WHERE username = 'bystander') ORDER BY id"; }
before=$(snapshot)

status=0
for version in v1 v2; do
  curl -sf "$BASE/api/$version/openapi.json" >"$work/$version.json"
  echo "==> openapi-spec-validator: /api/$version/openapi.json"
  "$venv/bin/openapi-spec-validator" "$work/$version.json" || status=1
  echo "==> schemathesis: /api/$version ($EXAMPLES examples per operation)"
  # The node routes take a node's token, not a user's: the fuzzer checks that they refuse it.
  # Not use_after_free: DELETE revokes, and a revoked client stays readable (status "revoked").
  "$venv/bin/schemathesis" run "$BASE/api/$version/openapi.json" \
    --header "Authorization: Bearer $token" --max-examples "$EXAMPLES" --seed "${FUZZ_SEED:-7}" --workers 1 \
    --phases examples,coverage,fuzzing,stateful \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ensure_resource_availability \
    --suppress-health-check all --no-color --report junit --report-junit-path "$work/$version.xml" \
    --warnings off || status=1
done

echo "==> the other user's client, asked for with the fuzzer's token"
for route in "GET /api/v2/clients/$theirs" "GET /api/v2/clients/$theirs/config" "GET /api/v2/clients/$theirs/usage" \
  "PATCH /api/v2/clients/$theirs" "DELETE /api/v2/clients/$theirs" "GET /api/v1/clients/$theirs" \
  "DELETE /api/v1/clients/$theirs" "GET /api/v2/connections?client_id=$theirs"; do
  method=${route%% *}
  body=()
  [ "$method" = PATCH ] && body=(-H "Content-Type: application/json" -d '{"name":"taken-over"}')
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token" "${body[@]}" "$BASE${route#* }")
  echo "$route → $code"
  [ "$code" = 404 ] || { echo "expected 404" >&2; status=1; }
done
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "the fuzzer's token changed another user's objects:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  status=1
else
  echo "the other user's client and token are as they were"
fi
# The portal's own errors (Rocket's "No matching routes" lines for the fuzzer's probes are not).
if grep '"level":"ERROR"' "$work/portal.out" | grep -qv '"target":"rocket::'; then
  echo "the portal logged errors while fuzzed:" >&2
  grep '"level":"ERROR"' "$work/portal.out" | grep -v '"target":"rocket::' | head -5 >&2
  status=1
fi
exit $status
