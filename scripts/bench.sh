#!/usr/bin/env bash
# Load figures for the README: release build, a database seeded with 100,000 users, wrk -c64.
# Every figure is printed beside the ceiling (a bare Rocket binary with one constant route, built
# like the portal: src/bin/phaze-bench-ceiling.rs) measured just before it, as a ratio.
#   DURATION=10s CONNECTIONS=64 USERS=100000 PEERS=10000 HISTORY_ROWS=10000000 scripts/bench.sh
# BENCH_ONLY=hot stops after the request and creation figures (about 10 minutes after the build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
start_services
ensure_secret_key
install_packages wrk curl
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
USERS=${USERS:-100000}
PEERS=${PEERS:-10000}
HISTORY_ROWS=${HISTORY_ROWS:-10000000}
PORT=${BENCH_PORT:-8089}
CEILING_PORT=${CEILING_PORT:-8088}
BASE=http://127.0.0.1:$PORT
work=$(mktemp -d)
trap 'kill "$server" "$ceiling" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "==> building (release)"
cargo build --release --locked --bins
bin=target/release/phaze-portal
agent=target/release/phaze-node-agent
ROCKET_PORT=$CEILING_PORT ROCKET_LOG_LEVEL=off target/release/phaze-bench-ceiling >/dev/null 2>&1 &
ceiling=$!

as_postgres -c "DROP DATABASE IF EXISTS phaze_bench WITH (FORCE)" -c "CREATE DATABASE phaze_bench OWNER $PG_ROLE"
export DATABASE_URL="postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/phaze_bench?sslmode=disable"
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern 'phaze:rl:*' | xargs -r redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del >/dev/null
"$bin" migrate
node_token=$("$bin" add-node --name bench-node --region Bench --host 127.0.0.1 --pool 10.100.0.0/16 | sed -n '/shown only this once/{n;p}' | tr -d ' ')

# The portal logs every request as a JSON line to a file, as in production.
write_file_log_config "$work/log4rs.yaml" "$work/portal.log"
# The portal under test records metrics (a scrape token is set), as a monitored production one.
METRICS_TOKEN=bench-metrics-token
serve() {
  PORTAL_LOG_CONFIG=$work/log4rs.yaml PORTAL_SECURE_COOKIES=false PORTAL_METRICS_TOKEN=$METRICS_TOKEN \
    PORTAL_CLIENT_CHANGES_PER_HOUR=10000000 PORTAL_API_REQUESTS_PER_MINUTE=100000000 ROCKET_PORT=$PORT "$bin" serve >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 1 500); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.01; done
}
serve
# The bench users may have many clients (a timed burst of creations is below): the free plan,
# which every user without a subscription has, allows them.
psql "$DATABASE_URL" -q -c "UPDATE plans SET max_clients = 100000 WHERE free"

# Bench accounts confirm their address as the emailed link would.
confirm_emails() { psql "$DATABASE_URL" -q -c "UPDATE users SET email_verified_at = now() WHERE email_verified_at IS NULL"; }

# One real account through the web, then the rest of the users straight into the table.
jar=$work/jar
csrf=$(curl -s -c "$jar" "$BASE/signup" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$jar" -c "$jar" -o /dev/null -d "_csrf=$csrf&username=bench&email=bench%40example.com&password=violet-tractor-harbour&password_confirm=violet-tractor-harbour" "$BASE/signup"
confirm_emails
session=$(awk '$6 == "phaze_session" {print $7}' "$jar")
anon=$(awk '$6 == "phaze_csrf" {print $7}' "$jar")
[ -n "$session" ] || { echo "could not sign up the bench user" >&2; exit 1; }
psql "$DATABASE_URL" -q -c "INSERT INTO users (username, email, password_hash)
  SELECT 'user' || g, 'user' || g || '@example.com', (SELECT password_hash FROM users WHERE username = 'bench')
  FROM generate_series(1, $USERS) g" -c "ANALYZE users"
curl -sf -b "phaze_session=$session" "$BASE/dashboard" | grep -q "bench@example.com"

cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = "_csrf=$anon&login=bench&password=not-the-password"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "phaze_csrf=$anon"
LUA

# Past 20 failures from this IP every further attempt is refused before any password check:
# make those 20 first, so the figure is the rate-limit path alone.
for _ in $(seq 1 21); do
  curl -s -o /dev/null -b "phaze_csrf=$anon" --data "_csrf=$anon&login=bench&password=not-the-password" "$BASE/login"
done

results=()
# Every row is measured right after the ceiling at the same concurrency and duration, and its
# ratio is to that ceiling: this machine's speed drifts by a third within minutes, so a ratio to
# one ceiling figure taken at the start moved as much as the changes it was meant to show. With
# PAIRS=n (3 for the request rows below) the pair is measured n times and the pair with the
# median ratio is reported.
measure() { # name, wrk args...
  local name=$1; shift
  local c=${MEASURE_CONNECTIONS:-$CONNECTIONS}
  local threads=$(( c < 2 ? c : 2 ))
  local runs=() out beside rps p50 p99 codes
  for _ in $(seq 1 "${PAIRS:-1}"); do
    beside=
    if [[ $name != *ceiling* ]]; then
      beside=$(wrk -t"$threads" -c"$c" -d"$DURATION" "http://127.0.0.1:$CEILING_PORT/" | awk '/^Requests\/sec:/ {print $2}')
    fi
    out=$(wrk -t"$threads" -c"$c" -d"$DURATION" --latency "$@")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    codes=$(awk '/Non-2xx or 3xx responses/ {print $5}' <<<"$out")
    runs+=("$(awk -v a="$rps" -v b="${beside:-$rps}" 'BEGIN { printf "%.4f", a / b }')|$rps|$p50|$p99|${codes:-0}|${beside:-$rps}")
  done
  local median
  median=$(printf '%s\n' "${runs[@]}" | sort -t'|' -k1,1n | sed -n "$(( (${#runs[@]} + 1) / 2 ))p")
  results+=("$name|${median#*|}")
}

echo "==> measuring ($DURATION each, $CONNECTIONS connections, $USERS users)"
measure "GET / on the ceiling (bare Rocket route, baseline)" "http://127.0.0.1:$CEILING_PORT/"
PAIRS=3 measure "GET /healthz" "$BASE/healthz"
PAIRS=3 measure "GET / (public page)" "$BASE/"
PAIRS=3 measure "GET /dashboard (signed in, no clients yet)" -H "Cookie: phaze_session=$session" "$BASE/dashboard"
PAIRS=3 measure "POST /login failing (rate-limit path)" -s "$work/login.lua" "$BASE/login"

csrf_of() { # session → the CSRF token of its dashboard
  curl -s -b "phaze_session=$1" "$BASE/dashboard" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//'
}
echo "==> timing 100 client creations per protocol"
token=$(csrf_of "$session")
creations=()
for proto in wireguard openvpn phazevpn; do
  : >"$work/$proto.times"
  for i in $(seq 1 100); do
    curl -s -o /dev/null -w '%{time_total}\n' -b "phaze_session=$session" \
      -d "_csrf=$token&name=$proto-$i&protocol=$proto" "$BASE/clients" >>"$work/$proto.times"
  done
  made=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM clients WHERE protocol = '$proto'")
  p50=$(sort -n "$work/$proto.times" | awk 'NR == 50 { printf "%.1f ms", $1 * 1000 }')
  p99=$(sort -n "$work/$proto.times" | awk 'NR == 99 { printf "%.1f ms", $1 * 1000 }')
  creations+=("| $proto | $made | $p50 | $p99 |")
done

# A second user with exactly five clients, for the dashboard figure.
jar5=$work/jar5
csrf=$(curl -s -c "$jar5" "$BASE/signup" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$jar5" -c "$jar5" -o /dev/null -d "_csrf=$csrf&username=bench5&email=bench5%40example.com&password=violet-tractor-harbour&password_confirm=violet-tractor-harbour" "$BASE/signup"
confirm_emails
session5=$(awk '$6 == "phaze_session" {print $7}' "$jar5")
token5=$(csrf_of "$session5")
for proto in wireguard openvpn phazevpn wireguard phazevpn; do
  curl -s -o /dev/null -b "phaze_session=$session5" -d "_csrf=$token5&name=device-$RANDOM&protocol=$proto" "$BASE/clients"
done
curl -sf -b "phaze_session=$session5" "$BASE/dashboard" | grep -q "5 of 100000 active clients"
PAIRS=3 measure "GET /dashboard (signed in, 5 VPN clients)" -H "Cookie: phaze_session=$session5" "$BASE/dashboard"

# The same user's clients through the customer API, with a personal access token made on the
# tokens page (the per-token limit raised for the run).
token_form=$(curl -s -b "phaze_session=$session5" "$BASE/account/tokens" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
api_token=$(curl -s -b "phaze_session=$session5" -d "_csrf=$token_form&name=bench&lifetime=7&scopes=clients:read" \
  "$BASE/account/tokens" | grep -o '<code id="token-secret">[^<]*' | sed 's/.*>//')
[ -n "$api_token" ] || { echo "could not make the bench API token" >&2; exit 1; }
curl -sf -H "Authorization: Bearer $api_token" "$BASE/api/v2/clients" | grep -q '"protocol":"openvpn"'
measure "GET /api/v2/clients (personal access token, 5 clients)" -H "Authorization: Bearer $api_token" "$BASE/api/v2/clients"
api_etag=$(curl -sI -H "Authorization: Bearer $api_token" "$BASE/api/v2/clients" | awk -F': ' 'tolower($1) == "etag" {print $2}' | tr -d '\r')
measure "GET /api/v2/clients with If-None-Match (304)" -H "Authorization: Bearer $api_token" -H "If-None-Match: $api_etag" "$BASE/api/v2/clients"

echo "==> client creation under concurrency: 16 connections, unique names, WireGuard"
"$bin" add-node --name bench-create --region Bench --host 127.0.0.1 --pool 10.200.0.0/14 >/dev/null
create_node=$(psql "$DATABASE_URL" -tAc "SELECT id FROM nodes WHERE name = 'bench-create'")
jarc=$work/jarc
csrf=$(curl -s -c "$jarc" "$BASE/signup" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$jarc" -c "$jarc" -o /dev/null -d "_csrf=$csrf&username=creator&email=creator%40example.com&password=violet-tractor-harbour&password_confirm=violet-tractor-harbour" "$BASE/signup"
confirm_emails
session_c=$(awk '$6 == "phaze_session" {print $7}' "$jarc")
token_c=$(csrf_of "$session_c")
cat > "$work/create.lua" <<LUA
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) n = 0; run = os.time() end
function request()
  n = n + 1
  return wrk.format("POST", "/clients", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "phaze_session=$session_c",
  }, "_csrf=$token_c&name=w" .. run .. "-" .. tid .. "-" .. n .. "&protocol=wireguard&node_id=$create_node")
end
LUA
PAIRS=3 MEASURE_CONNECTIONS=16 measure "POST /clients (WireGuard, one user, 16 connections; 303 = created)" -s "$work/create.lua" "$BASE/clients"
created_burst=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM clients c JOIN users u ON u.id = c.user_id WHERE u.username = 'creator'")

print_table() {
  echo
  echo "| request | req/s | p50 | p99 | non-2xx/3xx | ceiling just before | vs ceiling |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for row in "${results[@]}"; do
    IFS='|' read -r name rps p50 p99 codes beside <<<"$row"
    ratio=$(awk -v a="$rps" -v b="$beside" 'BEGIN { printf "%.2f", a / b }')
    echo "| $name | $rps | $p50 | $p99 | $codes | $beside | ${ratio}x |"
  done
}
# BENCH_ONLY=hot: the request figures above and no more (a few minutes, for trying a change).
if [ "${BENCH_ONLY:-}" = hot ]; then
  print_table
  echo "Client creation burst: $created_burst clients stored for the creator"
  exit 0
fi

# ---- Node API -------------------------------------------------------------------------------
psql_bench() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q "$@"; }
node_id=$(psql_bench -tAc "SELECT id FROM nodes WHERE name = 'bench-node'")
echo "==> node API: $PEERS peers on one node"
psql_bench -c "INSERT INTO clients (id, user_id, node_id, name, protocol, public_key, private_key_sealed, address)
  SELECT gen_random_uuid(), (g % $USERS) + 2, $node_id, 'peer' || g, 'wireguard',
         encode(sha256(g::text::bytea), 'base64'), '\x00', '10.100.' || ((g + 1000) / 256) || '.' || ((g + 1000) % 256)
  FROM generate_series(1, $PEERS) g" -c "ANALYZE clients"
peers_url=$BASE/api/v1/node/peers
auth="Authorization: Bearer $node_token"
listed=$(curl -sf -H "$auth" "$peers_url" | grep -o '"client_id"' | wc -l)
etag=$(curl -s -D - -o /dev/null -H "$auth" "$peers_url" | awk -F': ' 'tolower($1) == "etag" {print $2}' | tr -d '\r')
# Nodes poll every 30 s each: a few at a time, not a crowd. The ceiling is measured at the same
# concurrency, since on two shared cores a tail at full load is mostly queueing.
MEASURE_CONNECTIONS=4 measure "GET /api/v1/node/peers ($listed peers, 200 from the cached list, 4 connections)" -H "$auth" "$peers_url"
for c in 1 4; do
  MEASURE_CONNECTIONS=$c measure "GET / on the ceiling ($c connection(s))" "http://127.0.0.1:$CEILING_PORT/"
  MEASURE_CONNECTIONS=$c measure "GET /api/v1/node/peers (304, If-None-Match, $c connection(s))" -H "$auth" -H "If-None-Match: $etag" "$peers_url"
done
# After a change the list is rebuilt from PostgreSQL once per node.
: >"$work/cold.times"
for _ in $(seq 1 20); do
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del "phaze:gen:node:$node_id" >/dev/null
  curl -s -o /dev/null -w '%{time_total}\n' -H "$auth" "$peers_url" >>"$work/cold.times"
done
cold_p50=$(sort -n "$work/cold.times" | awk 'NR == 10 { printf "%.1f ms", $1 * 1000 }')
cold_max=$(sort -n "$work/cold.times" | awk 'END { printf "%.1f ms", $1 * 1000 }')

echo "==> node API: events from 4 nodes at once, batches of 500"
ev_tokens=()
for n in 1 2 3 4; do
  t=$("$bin" add-node --name "bench-ev-$n" --region Bench --host 127.0.0.1 --pool "10.$((100 + n)).0.0/16" |
    sed -n '/shown only this once/{n;p}' | tr -d ' ')
  ev_tokens+=("$t")
  psql_bench -c "INSERT INTO clients (id, user_id, node_id, name, protocol, public_key, private_key_sealed, address)
    SELECT gen_random_uuid(), (g % $USERS) + 2, (SELECT id FROM nodes WHERE name = 'bench-ev-$n'), 'ev$n-' || g,
           'wireguard', encode(sha256(('ev$n' || g)::bytea), 'base64'), '\x00',
           '10.$((100 + n)).' || ((g + 2) / 256) || '.' || ((g + 2) % 256)
    FROM generate_series(1, 1000) g"
done
EVENTS_PER_NODE=${EVENTS_PER_NODE:-100000}
started=$(date +%s.%N)
agents=()
for t in "${ev_tokens[@]}"; do
  "$agent" --portal "$BASE" --token="$t" simulate --events "$EVENTS_PER_NODE" --batch 500 >"$work/agent-$t.out" &
  agents+=($!)
done
wait "${agents[@]}"
ended=$(date +%s.%N)
stored=$(psql_bench -tAc "SELECT sum(acked_seq) FROM nodes WHERE name LIKE 'bench-ev-%'")
events_rate=$(awk -v n="$stored" -v a="$started" -v b="$ended" 'BEGIN { printf "%.0f", n / (b - a) }')

echo "==> connection history: the /usage page at 10,000 rows, then at $HISTORY_ROWS rows over 12 months"
# A portal that has run for a year made a partition each month: make those months' partitions.
for m in $(seq 1 12); do
  from=$(date -u -d "$(date -u +%Y-%m-01) -$m month" +%Y-%m-01)
  to=$(date -u -d "$from +1 month" +%Y-%m-01)
  name="connection_sessions_y$(date -u -d "$from" +%Y)m$(date -u -d "$from" +%m)"
  psql_bench -c "CREATE TABLE IF NOT EXISTS $name PARTITION OF connection_sessions FOR VALUES FROM ('$from') TO ('$to')"
done
seed_sessions() { # rows, which clients (SQL condition)
  psql_bench -c "WITH c AS (SELECT array_agg(id) AS ids, array_agg(user_id) AS users, count(*) AS n FROM clients WHERE $2)
    INSERT INTO connection_sessions (node_id, client_id, user_id, started_at, ended_at, remote_address, rx_bytes, tx_bytes)
    SELECT $node_id, c.ids[g % c.n + 1], c.users[g % c.n + 1], s, s + interval '37 minutes', '198.51.100.7:40000',
           g % 100000000, g % 10000000
    FROM c, generate_series(1, $1) g, LATERAL (SELECT now() - (g % 31000000) * interval '1 second' AS s) t"
}
bench_user=$(psql_bench -tAc "SELECT id FROM users WHERE username = 'bench'")
seed_sessions 1000 "user_id = $bench_user"
seed_sessions 9000 "name LIKE 'peer%'"
psql_bench -c "ANALYZE connection_sessions"
MEASURE_CONNECTIONS=8 measure "GET /usage (history page, 10,000 rows in connection_sessions)" -H "Cookie: phaze_session=$session" "$BASE/usage"
small_row=${results[-1]}
rest=$((HISTORY_ROWS - 10000))
while [ "$rest" -gt 0 ]; do
  chunk=$(( rest > 1000000 ? 1000000 : rest ))
  seed_sessions "$chunk" "name LIKE 'peer%'"
  rest=$((rest - chunk))
done
psql_bench -c "ANALYZE connection_sessions"
rows=$(psql_bench -tAc "SELECT count(*) FROM connection_sessions")
MEASURE_CONNECTIONS=8 measure "GET /usage (history page, $rows rows in connection_sessions)" -H "Cookie: phaze_session=$session" "$BASE/usage"
big_row=${results[-1]}

# ---- Admin user search at a million users ------------------------------------------------------
more=$((1000000 - $(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM users")))
psql "$DATABASE_URL" -q -c "INSERT INTO users (username, email, password_hash)
  SELECT 'member' || g, 'member' || g || '@example.net', 'x' FROM generate_series(1, $more) g" -c "ANALYZE users"
# A signed-in admin with two factors, seeded as the login would leave it: the cookie's token and
# its SHA-256 in the sessions table.
admin_token=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
admin_hash=$(printf %s "$admin_token" | sha256sum | cut -d' ' -f1)
psql "$DATABASE_URL" -q -c "WITH a AS (INSERT INTO users (username, email, password_hash, role, totp_secret_sealed,
    totp_enabled_at, email_verified_at) VALUES ('bench_admin', 'bench_admin@example.com', 'x', 'admin', '\\x00', now(), now())
    RETURNING id)
  INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, two_factor)
  SELECT decode('$admin_hash', 'hex'), id, 'bench', now() + interval '1 day', true FROM a"
curl -sf -b "phaze_session=$admin_token" "$BASE/admin/users?q=member123456" | grep -q "member123456" || { echo "admin search failed" >&2; exit 1; }
MEASURE_CONNECTIONS=8 measure "GET /admin/users?q=member123456 (one match, 1,000,000 users)" -H "Cookie: phaze_session=$admin_token" "$BASE/admin/users?q=member123456"
MEASURE_CONNECTIONS=8 measure "GET /admin/users?q=member5 (first 50 of 111,111 matches, 1,000,000 users)" -H "Cookie: phaze_session=$admin_token" "$BASE/admin/users?q=member5"
MEASURE_CONNECTIONS=8 measure "GET /admin/users?q=member77@ (email prefix, 1,000,000 users)" -H "Cookie: phaze_session=$admin_token" "$BASE/admin/users?q=member77%40"

# What metrics cost: /healthz on two fresh instances, one recording metrics (a token is set) and
# one recording none, in alternating pairs so that both see the same machine.
PORTAL_LOG_CONFIG=$work/log4rs.yaml PORTAL_SECURE_COOKIES=false PORTAL_METRICS_TOKEN=$METRICS_TOKEN \
  ROCKET_PORT=$((PORT + 2)) "$bin" serve >/dev/null 2>&1 &
with_metrics=$!
PORTAL_LOG_CONFIG=$work/log4rs.yaml PORTAL_SECURE_COOKIES=false ROCKET_PORT=$((PORT + 3)) "$bin" serve >/dev/null 2>&1 &
without_metrics=$!
for p in $((PORT + 2)) $((PORT + 3)); do
  for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.01; done
done
metric_pairs=()
for _ in 1 2 3 4 5; do
  on=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$((PORT + 2))/healthz" | awk '/^Requests\/sec:/ {print $2}')
  off=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$((PORT + 3))/healthz" | awk '/^Requests\/sec:/ {print $2}')
  metric_pairs+=("$on/$off")
done
kill "$with_metrics" "$without_metrics" 2>/dev/null || true
scrape_ms=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $METRICS_TOKEN" "$BASE/metrics" | awk '{printf "%.1f", $1 * 1000}')

print_table
echo
echo "Client creation over HTTP (100 per protocol, one at a time; includes keys, certificate, address):"
echo "| protocol | created | p50 | p99 |"
echo "|---|---:|---:|---:|"
printf '%s\n' "${creations[@]}"
echo
echo "Node API: peers list rebuilt after a change (20 tries): p50 $cold_p50, max $cold_max"
echo "Node API: $stored events stored from 4 nodes at once in batches of 500: $events_rate events/s"
for f in "$work"/agent-*.out; do echo "  agent: $(cat "$f")"; done
p99_of() { awk -F'|' '{print $4}' <<<"$1"; }
echo "History page p99: $(p99_of "$small_row") at 10,000 rows, $(p99_of "$big_row") at $rows rows"
echo "Metrics: /healthz with metrics / without (two fresh instances), five alternating pairs: ${metric_pairs[*]} (mean ratio $(printf '%s\n' "${metric_pairs[@]}" | awk -F/ '{s += $1 / $2} END {printf "%.3f", s / NR}')); a /metrics scrape took ${scrape_ms} ms"
echo "Client creation burst: $created_burst clients stored for the creator (the POST /clients row above)"
echo "Memory: portal RSS after the benchmark $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$server/status")"
kill "$server"; wait "$server" 2>/dev/null || true
started=$(date +%s.%N)
serve
ready=$(date +%s.%N)
echo "Startup: $(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.0f ms", (b - a) * 1000 }') from launch to the first 200 (migrated database, $(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM users") users)"
echo "Log: $(wc -l <"$work/portal.log") JSON lines written to a file during the run"
echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; wrk and the portal share it."
kill "$server" 2>/dev/null || true
echo
echo "==> the edge (scripts/bench-edge.sh)"
DURATION=$DURATION CONNECTIONS=$CONNECTIONS bash scripts/bench-edge.sh
