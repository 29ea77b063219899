#!/usr/bin/env bash
# What the edge costs: the dashboard, a static file and the public pricing page, straight to the
# portal and through the WAF edge (nginx, TLS, ModSecurity + OWASP CRS at paranoia 1, started by
# scripts/edge.sh in front of this one portal), measured in turn in the same run with wrk over
# HTTP/1.1. Run by scripts/bench.sh at its end, or alone:
#   DURATION=10s CONNECTIONS=64 scripts/bench-edge.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
start_services
ensure_secret_key
install_packages wrk curl
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${EDGE_BENCH_PORT:-8091}
BASE=http://127.0.0.1:$PORT
EDGE=https://localhost:18443
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; [ -s "$work/edge/nginx.pid" ] && kill "$(cat "$work/edge/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release --locked --bin phaze-portal
bin=target/release/phaze-portal
as_postgres -c "DROP DATABASE IF EXISTS phaze_bench_edge WITH (FORCE)" -c "CREATE DATABASE phaze_bench_edge OWNER $PG_ROLE" >/dev/null
export DATABASE_URL="postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/phaze_bench_edge?sslmode=disable"
"$bin" migrate >/dev/null
"$bin" add-node --name edge-bench --region Bench --host 127.0.0.1 --pool 10.110.0.0/16 >/dev/null
write_file_log_config "$work/log4rs.yaml" "$work/portal.log"
# Behind the edge as in production: Secure cookies, the client address from X-Real-IP.
PORTAL_LOG_CONFIG=$work/log4rs.yaml PORTAL_SECURE_COOKIES=true ROCKET_IP_HEADER=X-Real-IP \
  PORTAL_REDIS_NAMESPACE=phazebenchedge ROCKET_PORT=$PORT "$bin" serve >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 500); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.01; done
EDGE_DIR=$work/edge UPSTREAM_PORTS=$PORT HTTP_PORT=18080 HTTPS_PORT=18443 CDN_PORT=19443 \
  LOGIN_RATE=100000r/s SIGNUP_RATE=100000r/s CONN_PER_IP=60000 bash scripts/edge.sh nginx

# One user with five clients, signed up through the edge (the WAF sees the real sign-up).
jar=$work/jar
field() { grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//'; }
csrf=$(curl -sk -c "$jar" "$EDGE/signup" | field)
curl -sk -b "$jar" -c "$jar" -o /dev/null -d "_csrf=$csrf&username=edgebench&email=edgebench%40example.com&password=violet-tractor-harbour&password_confirm=violet-tractor-harbour" "$EDGE/signup"
psql "$DATABASE_URL" -q -c "UPDATE users SET email_verified_at = now()"
session=$(awk '$6 == "phaze_session" {print $7}' "$jar")
csrf=$(curl -sk -b "phaze_session=$session" "$EDGE/dashboard" | field)
for proto in wireguard openvpn phazevpn wireguard phazevpn; do
  curl -sk -o /dev/null -b "phaze_session=$session" -d "_csrf=$csrf&name=d-$RANDOM&protocol=$proto" "$EDGE/clients"
done
curl -sfk -b "phaze_session=$session" "$EDGE/dashboard" | grep -q "5 of 5 active clients"
css=$(curl -s "$BASE/" | grep -o '/static/app\.[^"]*' | head -1)

rows=()
measure() { # name, url, wrk args...
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "${@:3}" "$2")
  rows+=("$1|$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")|$(awk '$1 == "50%" {print $2}' <<<"$out")|$(awk '$1 == "99%" {print $2}' <<<"$out")|$(awk '/Non-2xx or 3xx responses/ {print $5}' <<<"$out")")
}
echo "==> measuring ($DURATION each, $CONNECTIONS connections): straight, then through the edge"
measure "GET /dashboard (signed in, 5 clients), straight" "$BASE/dashboard" -H "Cookie: phaze_session=$session"
measure "GET /dashboard, through the edge (TLS + CRS)" "$EDGE/dashboard" -H "Cookie: phaze_session=$session"
measure "GET $css, straight" "$BASE$css"
measure "GET $css, through the edge (TLS; /static/ skips the WAF)" "$EDGE$css"
measure "GET /pricing, straight" "$BASE/pricing"
measure "GET /pricing, through the edge (TLS + CRS)" "$EDGE/pricing"
waf_refusals=$(wc -l <"$work/edge/logs/modsec_audit.json" 2>/dev/null || echo 0)

echo
echo "| request | req/s | p50 | p99 | non-2xx/3xx | edge / straight |"
echo "|---|---:|---:|---:|---:|---:|"
straight=0
for row in "${rows[@]}"; do
  IFS='|' read -r name rps p50 p99 codes <<<"$row"
  if [[ $name == *straight ]]; then
    straight=$rps ratio=""
  else
    ratio=$(awk -v a="$rps" -v b="$straight" 'BEGIN { printf "%.2fx", a / b }')
  fi
  echo "| $name | $rps | $p50 | $p99 | ${codes:-0} | $ratio |"
done
echo
echo "WAF refusals during the run: $waf_refusals (the audit log's lines)"
