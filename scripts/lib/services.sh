# Installs (from Debian's packages) and starts PostgreSQL and Redis on loopback, without
# systemd, and creates the portal's role and database. Sourced by run.sh, test.sh, bench.sh.
# Leaves running services alone; safe to run again.

PG_ROLE=${PG_ROLE:-phaze}
PG_PASSWORD=${PG_PASSWORD:-phaze}
PG_DATABASE=${PG_DATABASE:-phaze}
PG_PORT=${PG_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

apt_updated=""
install_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# psql as the postgres superuser, from / (it cannot enter a private work directory).
as_postgres() {
  (cd / && runuser -u postgres -- psql -q -p "$PG_PORT" -v ON_ERROR_STOP=1 "$@")
}

pg_version() {
  ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
  install_packages postgresql postgresql-contrib
  local version
  version=$(pg_version)
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$version main$"; then
    pg_createcluster "$version" main --start-conf=manual -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
    echo "==> starting PostgreSQL $version on 127.0.0.1:$PG_PORT"
    pg_ctlcluster "$version" main start -- -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT"
  fi
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { echo "PostgreSQL did not start" >&2; return 1; }
  local psql=(as_postgres)
  if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
  fi
  if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE $PG_DATABASE OWNER $PG_ROLE"
  fi
  # Loopback: no TLS (see Rocket.toml); a remote DATABASE_URL brings its own sslmode.
  export DATABASE_URL=${DATABASE_URL:-postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE?sslmode=disable}
}

start_redis() {
  install_packages redis-server
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "==> starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --logfile /tmp/phaze-redis-$REDIS_PORT.log
    for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/}
}

start_services() {
  start_postgres
  start_redis
}

# The key that seals private keys at rest. Kept in .secret_key (mode 600, never committed) so the
# portal can open what it sealed on its last run; PORTAL_SECRET_KEY from the environment wins.
ensure_secret_key() {
  if [ -z "${PORTAL_SECRET_KEY:-}" ]; then
    if [ ! -s .secret_key ]; then
      (umask 077 && head -c 32 /dev/urandom | base64 > .secret_key)
      echo "==> made a new secret key in .secret_key (back it up: it seals every private key)"
    fi
    PORTAL_SECRET_KEY=$(cat .secret_key)
    export PORTAL_SECRET_KEY
  fi
}

# A log4rs config for the benchmarks: request lines as JSON to the file $2, as in production.
write_file_log_config() { # config path, log path
  cat >"$1" <<YAML
appenders:
  main:
    kind: background
    path: $2
root:
  level: info
  appenders: [main]
loggers:
  rocket: { level: warn }
  _: { level: warn }
  sqlx: { level: warn }
  hyper: { level: warn }
YAML
}
