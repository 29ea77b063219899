#!/usr/bin/env bash
# The portal behind its edge, on loopback, for a person to try:
#   scripts/edge.sh [start]   PostgreSQL + Redis, INSTANCES portal instances (ports 8001, 8002, …),
#                             the WAF edge (nginx + ModSecurity + OWASP CRS) on https://localhost:8443
#                             (http://localhost:8080 redirects there) and the CDN tier in front of it
#                             on https://localhost:9443, with a throwaway self-signed certificate.
#   scripts/edge.sh stop      stops what `start` started.
#   scripts/edge.sh nginx     renders deploy/nginx/ into EDGE_DIR and starts nginx alone, in front of
#                             the instances listening on UPSTREAM_PORTS (the tests use this).
# Settings (environment): EDGE_DIR (.edge), INSTANCES (2), HTTP_PORT (8080), HTTPS_PORT (8443),
# CDN_PORT (9443), CRS_PROFILE (phaze-crs-pl1.conf, or phaze-crs-pl2.conf), PROFILE (release|dev).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
EDGE_DIR=$(realpath -m "${EDGE_DIR:-.edge}")
INSTANCES=${INSTANCES:-2}
export HTTP_PORT=${HTTP_PORT:-8080} HTTPS_PORT=${HTTPS_PORT:-8443} CDN_PORT=${CDN_PORT:-9443}
export SERVER_NAME=${SERVER_NAME:-localhost}
export CRS_PROFILE=${CRS_PROFILE:-phaze-crs-pl1.conf}
export LOGIN_RATE=${LOGIN_RATE:-30r/m} LOGIN_BURST=${LOGIN_BURST:-20}
export SIGNUP_RATE=${SIGNUP_RATE:-10r/m} SIGNUP_BURST=${SIGNUP_BURST:-10}
export NODE_RATE=${NODE_RATE:-20r/s} NODE_BURST=${NODE_BURST:-40}
export CONN_PER_IP=${CONN_PER_IP:-64}
# Only loopback is a trusted proxy here (the CDN tier); on real hosts, the CDN's addresses.
export TRUSTED_PROXIES=${TRUSTED_PROXIES:-127.0.0.1}
export NGINX_USER=${NGINX_USER:-root}
export EDGE_DIR

# The certificate both tiers present, made once: a throwaway self-signed one for localhost.
make_certificate() {
  mkdir -p "$EDGE_DIR/tls"
  if [ ! -s "$EDGE_DIR/tls/edge.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$SERVER_NAME" \
      -addext "subjectAltName=DNS:$SERVER_NAME,IP:127.0.0.1" \
      -keyout "$EDGE_DIR/tls/edge.key" -out "$EDGE_DIR/tls/edge.pem" 2>/dev/null
  fi
  export TLS_CERT=$EDGE_DIR/tls/edge.pem TLS_KEY=$EDGE_DIR/tls/edge.key EDGE_CA=$EDGE_DIR/tls/edge.pem
}

# deploy/nginx/*.template → EDGE_DIR/conf, with only the portal's own variables substituted
# (nginx's $variables stay as they are).
render() {
  local ports=$1 vars
  UPSTREAM_SERVERS=$(for p in $ports; do printf '    server 127.0.0.1:%s max_fails=1 fail_timeout=10s;\n' "$p"; done)
  export UPSTREAM_SERVERS EDGE_ORIGIN=127.0.0.1:$HTTPS_PORT
  export HTTPS_PORT_SUFFIX=$([ "$HTTPS_PORT" = 443 ] && echo "" || echo ":$HTTPS_PORT")
  vars='${NGINX_USER} ${EDGE_DIR} ${UPSTREAM_SERVERS} ${CDN_PORT} ${LOGIN_RATE} ${SIGNUP_RATE} ${NODE_RATE}
    ${HTTP_PORT} ${HTTPS_PORT} ${HTTPS_PORT_SUFFIX} ${SERVER_NAME} ${TLS_CERT} ${TLS_KEY} ${TRUSTED_PROXIES}
    ${CONN_PER_IP} ${LOGIN_BURST} ${SIGNUP_BURST} ${NODE_BURST} ${EDGE_ORIGIN} ${EDGE_CA} ${CRS_PROFILE}'
  mkdir -p "$EDGE_DIR"/{conf/modsecurity,logs,cache} "$EDGE_DIR"/tmp/{body,proxy,fastcgi,uwsgi,scgi}
  for f in nginx.conf phaze-edge.conf phaze-cdn.conf modsecurity/main.conf; do
    envsubst "$vars" <"deploy/nginx/$f.template" >"$EDGE_DIR/conf/$f"
  done
  cp deploy/nginx/modsecurity/phaze-*.conf "$EDGE_DIR/conf/modsecurity/"
}

start_nginx() {
  install_packages nginx libnginx-mod-http-modsecurity modsecurity-crs gettext-base openssl
  make_certificate
  render "$1"
  [ -s "$EDGE_DIR/nginx.pid" ] && kill "$(cat "$EDGE_DIR/nginx.pid")" 2>/dev/null && sleep 0.5
  nginx -t -q -c "$EDGE_DIR/conf/nginx.conf" -e "$EDGE_DIR/logs/error.log"
  nginx -c "$EDGE_DIR/conf/nginx.conf" -e "$EDGE_DIR/logs/error.log"
  for _ in $(seq 1 100); do [ -s "$EDGE_DIR/nginx.pid" ] && break; sleep 0.05; done
}

stop() {
  [ -s "$EDGE_DIR/nginx.pid" ] && kill "$(cat "$EDGE_DIR/nginx.pid")" 2>/dev/null || true
  for pid in "$EDGE_DIR"/portal-*.pid; do [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true; rm -f "$pid"; done
}

case "${1:-start}" in
  nginx)
    start_nginx "${UPSTREAM_PORTS:?set UPSTREAM_PORTS to the ports of the instances}"
    ;;
  stop)
    stop
    ;;
  start)
    start_services
    ensure_secret_key
    PROFILE=${PROFILE:-release}
    cargo build --profile "$PROFILE" --locked --bin phaze-portal
    bin=target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/phaze-portal
    "$bin" migrate
    "$bin" seed-demo
    stop
    mkdir -p "$EDGE_DIR/logs"
    ports=""
    for i in $(seq 1 "$INSTANCES"); do
      port=$((8000 + i)); ports="$ports $port"
      # Behind TLS: Secure cookies and HSTS; the client address from the edge's X-Real-IP.
      PORTAL_SECURE_COOKIES=true ROCKET_IP_HEADER=X-Real-IP ROCKET_PORT=$port \
        PORTAL_PUBLIC_URL=https://$SERVER_NAME:$CDN_PORT \
        "$bin" serve >>"$EDGE_DIR/logs/portal-$port.log" 2>&1 &
      echo $! >"$EDGE_DIR/portal-$port.pid"
    done
    for port in $ports; do
      for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    done
    start_nginx "$ports"
    echo "==> portal instances on$ports (logs in $EDGE_DIR/logs)"
    echo "==> the WAF edge:  https://$SERVER_NAME:$HTTPS_PORT  (http://$SERVER_NAME:$HTTP_PORT redirects)"
    echo "==> the CDN tier:  https://$SERVER_NAME:$CDN_PORT  (X-Cache: HIT/MISS/BYPASS)"
    echo "==> the certificate is self-signed: $EDGE_DIR/tls/edge.pem; WAF audit log: $EDGE_DIR/logs/modsec_audit.json"
    echo "==> stop with: scripts/edge.sh stop"
    ;;
  *)
    echo "usage: scripts/edge.sh [start|stop|nginx]" >&2
    exit 2
    ;;
esac
