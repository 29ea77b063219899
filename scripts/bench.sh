#!/usr/bin/env bash
# Load figures for the README: release build, a database seeded with 100,000 users, wrk -c64.
# Every figure is printed beside the bare /healthz route measured in the same run, as a ratio.
#   DURATION=10s CONNECTIONS=64 USERS=100000 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
start_services
ensure_secret_key
install_packages wrk curl
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
USERS=${USERS:-100000}
PORT=${BENCH_PORT:-8089}
BASE=http://127.0.0.1:$PORT
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "==> building (release)"
cargo build --release --locked
bin=target/release/phaze-portal

as_postgres -c "DROP DATABASE IF EXISTS phaze_bench WITH (FORCE)" -c "CREATE DATABASE phaze_bench OWNER $PG_ROLE"
export DATABASE_URL=postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/phaze_bench
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern 'rl:*' | xargs -r redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del >/dev/null
"$bin" migrate
"$bin" add-node --name bench-node --region Bench --host 127.0.0.1 --pool 10.100.0.0/16 >/dev/null

# The bench user may have many clients (300 are created below).
PORTAL_MAX_CLIENTS=1000 ROCKET_PORT=$PORT "$bin" serve >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done

# One real account through the web, then the rest of the users straight into the table.
jar=$work/jar
csrf=$(curl -s -c "$jar" "$BASE/signup" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -b "$jar" -c "$jar" -o /dev/null -d "_csrf=$csrf&username=bench&email=bench%40example.com&password=violet-tractor-harbour&password_confirm=violet-tractor-harbour" "$BASE/signup"
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
measure() { # name, wrk args...
  local name=$1; shift
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  local rps p50 p99 codes
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  codes=$(awk '/Non-2xx or 3xx responses/ {print $5}' <<<"$out")
  results+=("$name|$rps|$p50|$p99|${codes:-0}")
}

echo "==> measuring ($DURATION each, $CONNECTIONS connections, $USERS users)"
measure "GET /healthz (bare route, baseline)" "$BASE/healthz"
measure "GET / (public page)" "$BASE/"
measure "GET /dashboard (signed in, fragment cache warm)" -H "Cookie: phaze_session=$session" "$BASE/dashboard"
measure "POST /login failing (rate-limit path)" -s "$work/login.lua" "$BASE/login"

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
session5=$(awk '$6 == "phaze_session" {print $7}' "$jar5")
token5=$(csrf_of "$session5")
for proto in wireguard openvpn phazevpn wireguard phazevpn; do
  curl -s -o /dev/null -b "phaze_session=$session5" -d "_csrf=$token5&name=device-$RANDOM&protocol=$proto" "$BASE/clients"
done
curl -sf -b "phaze_session=$session5" "$BASE/dashboard" | grep -q "5 of 1000 active clients"
measure "GET /dashboard (signed in, 5 VPN clients)" -H "Cookie: phaze_session=$session5" "$BASE/dashboard"

base_rps=$(cut -d'|' -f2 <<<"${results[0]}")
echo
echo "| request | req/s | p50 | p99 | non-2xx/3xx | vs /healthz |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "${results[@]}"; do
  IFS='|' read -r name rps p50 p99 codes <<<"$row"
  ratio=$(awk -v a="$rps" -v b="$base_rps" 'BEGIN { printf "%.2f", a / b }')
  echo "| $name | $rps | $p50 | $p99 | $codes | ${ratio}x |"
done
echo
echo "Client creation over HTTP (100 per protocol, one at a time; includes keys, certificate, address):"
echo "| protocol | created | p50 | p99 |"
echo "|---|---:|---:|---:|"
printf '%s\n' "${creations[@]}"
echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; wrk and the portal share it."
