#!/usr/bin/env bash
# The whole benchmark in one command: see bench/README.md.
#
#   bench/run.sh            # build, start PostgreSQL, seed, measure, print the table
#
# Durations and sizes come from BENCH_* variables (README). Results go to bench/results/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
WORK=${BENCH_WORK_DIR:-/tmp/platform-api-bench}
PG_PORT=${BENCH_PG_PORT:-55432}
API_PORT=${BENCH_API_PORT:-18080}
PEER_PORT=${BENCH_PEER_PORT:-15000}
RESULTS=$BENCH/results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
PARTS=$WORK/parts/$STAMP
API=${BENCH_API_BIN:-$ROOT/target/release/platform-api}
DRIVER=$BENCH/driver/target/release/bench-driver
export BENCH_RATE=${BENCH_RATE:-50}
export BENCH_C1_SECS=${BENCH_C1_SECS:-10}
export BENCH_CN_SECS=${BENCH_CN_SECS:-10}
export BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-8}
export BENCH_WARMUP_SECS=${BENCH_WARMUP_SECS:-2}
export BENCH_WS_CONNECTIONS=${BENCH_WS_CONNECTIONS:-2000}

step() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
mkdir -p "$WORK" "$PARTS" "$RESULTS"

# ---------------------------------------------------------------------------- build
if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
  step "building (release): platform-api, the driver, the peer"
  [[ -n "${BENCH_API_BIN:-}" ]] || (cd "$ROOT" && cargo build --release --locked --bin platform-api)
  (cd "$BENCH/driver" && cargo build --release --locked)
  (cd "$BENCH/peer" && npm ci --no-audit --no-fund --loglevel=error)
fi
[[ -x $API && -x $DRIVER ]] || die "missing binaries; run without BENCH_SKIP_BUILD=1"

# ---------------------------------------------------------------------------- PostgreSQL
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  if [[ -n "${PGDATA_DIR:-}" && "${BENCH_KEEP_PG:-}" != 1 ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_bin() {
  if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; return; fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n $newest ]] || die "no PostgreSQL binaries (Debian/Ubuntu: apt-get install -y postgresql)"
  echo "$newest"
}

if [[ -n "${DATABASE_URL:-}" ]]; then
  step "using DATABASE_URL (the pgbench floor needs BENCH_PG_LOG, a log with log_line_prefix '%a|%p|')"
  DB_URL=$DATABASE_URL
  PG_LOG=${BENCH_PG_LOG:-}
  DB_PPID=${BENCH_PG_PID:-}
else
  PG_BIN=$(pg_bin)
  PGDATA_DIR=$WORK/pg
  PG_LOG=$WORK/pglog/postgres.log
  if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then
    step "initialising a private PostgreSQL cluster in $PGDATA_DIR"
    mkdir -p "$PGDATA_DIR" "$WORK/pglog"
    [[ $(id -u) == 0 ]] && chown postgres: "$PGDATA_DIR" "$WORK/pglog" && chmod 755 "$WORK"
    as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
# bench/run.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA_DIR'
max_connections = 300
shared_buffers = '512MB'
work_mem = '8MB'
maintenance_work_mem = '256MB'
log_line_prefix = '%a|%p|'
log_statement = 'none'
CONF
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    step "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w start >/dev/null
  fi
  DB_PPID=$(head -1 "$PGDATA_DIR/postmaster.pid")
  DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/bench"
  ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  psql -qAt "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 ||
    psql -q "$ADMIN_URL" -c "CREATE DATABASE bench"
fi
PSQL=(psql -X -qAt -v ON_ERROR_STOP=1 "$DB_URL")

# ---------------------------------------------------------------------------- seed
SEED_VERSION=$(cat "$BENCH/seed.sql" "$ROOT"/migrations/*/up.sql | sha256sum | cut -c1-16)
have=$("${PSQL[@]}" -c "SELECT version FROM bench_seed" 2>/dev/null || true)
if [[ $have != "$SEED_VERSION" ]]; then
  if [[ -n $have ]]; then
    [[ -z "${ADMIN_URL:-}" ]] && die "the database holds another seed ($have); use an empty one"
    step "the seed or the migrations changed: recreating the database"
    psql -q "$ADMIN_URL" -c "DROP DATABASE bench WITH (FORCE)" -c "CREATE DATABASE bench"
  fi
  step "migrating"
  (cd "$WORK" && DATABASE_URL=$DB_URL APP_ENV=development RUST_LOG=warn "$API" migrate)
  step "seeding (100 partners, 10,000 tenants, 100,000 users, 1,000,000 audit events)"
  start=$(date +%s)
  "${PSQL[@]}" -v seed_version="$SEED_VERSION" -f "$BENCH/seed.sql"
  echo "seeded in $(( $(date +%s) - start )) s" >&2
fi
"${PSQL[@]}" -c "SELECT pg_stat_reset()" >/dev/null

# ---------------------------------------------------------------------------- platform-api
# The benchmark measures the server, not its rate limits (issue #21): one user sends far more
# than a person would, so the per-user, per-IP and mutation limits are raised out of the way.
export RATE_LIMIT_ANONYMOUS_PER_MIN=${RATE_LIMIT_ANONYMOUS_PER_MIN:-100000000}
export RATE_LIMIT_USER_PER_MIN=${RATE_LIMIT_USER_PER_MIN:-100000000}
export RATE_LIMIT_MUTATIONS_PER_MIN=${RATE_LIMIT_MUTATIONS_PER_MIN:-100000000}
start_api() { # port, JOB_WORKERS, log
  (cd "$WORK" && exec env DATABASE_URL="$DB_URL" BIND_ADDR="127.0.0.1:$1" DATA_DIR="$WORK/data" \
    APP_ENV=development JOB_WORKERS="$2" RUST_LOG="${BENCH_RUST_LOG:-warn}" "$API" serve) >"$3" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || die "platform-api on :$1 exited: $(tail -5 "$3")"
    sleep 0.2
  done
  curl -fs "http://127.0.0.1:$1/readyz" >/dev/null || die "platform-api on :$1 is not ready"
  STARTED_PID=$pid
}

# Idle WebSockets on a server of their own, fresh: after the other phases, memory they freed
# is reused by the connections and hides part of what each costs, and the heap 2,000
# connections leave behind would weigh on the graph's CPU figures.
step "ws-idle: $BENCH_WS_CONNECTIONS subscribed WebSocket connections (a server of their own)"
for port in "$API_PORT" "$PEER_PORT"; do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && die "127.0.0.1:$port is already in use"
done
mkdir -p "$WORK/data"
start_api "$API_PORT" "${JOB_WORKERS:-2}" "$WORK/api-ws.log"; WS_PID=$STARTED_PID
sleep 1
"$DRIVER" ws-idle --addr "127.0.0.1:$API_PORT" --data-dir "$WORK/data" --server-pid "$WS_PID" \
  --out "$PARTS/ws.json"
kill "$WS_PID"; wait "$WS_PID" 2>/dev/null || true

step "starting platform-api (release) on 127.0.0.1:$API_PORT"
start_api "$API_PORT" "${JOB_WORKERS:-2}" "$WORK/api.log"; API_PID=$STARTED_PID
SERVER=(--addr "127.0.0.1:$API_PORT" --data-dir "$WORK/data" --server-pid "$API_PID")
sleep 1 # settle before reading the idle RSS

step "graph: ${BENCH_OPS:-Q1 Q2 Q3 Q4 M1 R1-R5 H1} (c=1 at $BENCH_RATE/s for ${BENCH_C1_SECS}s, c=$BENCH_CONCURRENCY for ${BENCH_CN_SECS}s)"
"$DRIVER" graph "${SERVER[@]}" ${DB_PPID:+--db-ppid "$DB_PPID"} ${BENCH_OPS:+--ops "$BENCH_OPS"} \
  --out "$PARTS/graph.json"

if [[ "${BENCH_EXPORT:-1}" == 1 ]]; then
  step "export: the whole audit log to CSV (exportAuditEvents, then GET /exports/<id>)"
  "$DRIVER" export "${SERVER[@]}" ${DB_PPID:+--db-ppid "$DB_PPID"} --out "$PARTS/export.json"
fi

if [[ -n "${PG_LOG:-}" ]]; then
  step "floor: the statements of one Q2 from the statement log, replayed by pgbench"
  "$DRIVER" once "${SERVER[@]}" --op Q2 >/dev/null
  # A job worker's poll can fall in the logging window; the driver then exits with 3 (the
  # capture does not hold exactly Q2's statements per request) and the capture is retaken.
  for attempt in 1 2 3 4 5; do
    offset=$(stat -c %s "$PG_LOG")
    "${PSQL[@]}" -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    "$DRIVER" once "${SERVER[@]}" --op Q2 >/dev/null
    sleep 0.5
    "${PSQL[@]}" -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
    floor_status=0
    "$DRIVER" floor --pg-log "$PG_LOG" --offset "$offset" --url "$DB_URL" \
      --pgbench "$(command -v pgbench || echo "${PG_BIN:-}/pgbench")" --work "$WORK/floor" \
      --graph "$PARTS/graph.json" --out "$PARTS/floor.json" || floor_status=$?
    [[ $floor_status == 3 ]] || break
  done
  case $floor_status in
    0) ;;
    3) echo "bench: no clean capture of Q2's statements in $attempt tries: the floor is skipped" >&2 ;;
    *) die "the floor failed (status $floor_status)" ;;
  esac
else
  echo "no statement log: the pgbench floor is skipped" >&2
fi

step "provisioning: jobs/s through the workers, then event -> client latency over provisioningProgress"
"$DRIVER" provisioning "${SERVER[@]}" --db-url "$DB_URL" --out "$PARTS/provisioning.json"

kill "$API_PID"; wait "$API_PID" 2>/dev/null || true

# ---------------------------------------------------------------------------- two replicas
# The same provisioning phase with two server processes on the one database: first an
# API-only replica (JOB_WORKERS=0) beside one with workers, then both with workers. Jobs
# and statements are summed over both; subscribers alternate between them.
REPLICA_PORT=${BENCH_REPLICA_PORT:-$((API_PORT + 1))}
if [[ "${BENCH_REPLICAS:-1}" == 1 ]]; then
  step "two replicas: one API-only + one with workers, then both with workers"
  (exec 3<>"/dev/tcp/127.0.0.1/$REPLICA_PORT") 2>/dev/null && die "127.0.0.1:$REPLICA_PORT is already in use"
  start_api "$API_PORT" 0 "$WORK/api-a.log"; A_PID=$STARTED_PID
  start_api "$REPLICA_PORT" "${JOB_WORKERS:-2}" "$WORK/api-b.log"; B_PID=$STARTED_PID
  "$DRIVER" provisioning --addr "127.0.0.1:$API_PORT" --data-dir "$WORK/data" --db-url "$DB_URL" \
    --replica "127.0.0.1:$REPLICA_PORT" --section replicas_api_and_worker --out "$PARTS/replicas1.json"
  kill "$A_PID"; wait "$A_PID" 2>/dev/null || true
  start_api "$API_PORT" "${JOB_WORKERS:-2}" "$WORK/api-a.log"; A_PID=$STARTED_PID
  "$DRIVER" provisioning --addr "127.0.0.1:$API_PORT" --data-dir "$WORK/data" --db-url "$DB_URL" \
    --replica "127.0.0.1:$REPLICA_PORT" --section replicas_both_workers --out "$PARTS/replicas2.json"
  kill "$A_PID" "$B_PID"; wait "$A_PID" "$B_PID" 2>/dev/null || true
fi

# ---------------------------------------------------------------------------- the peer
step "peer: PostGraphile 4 (Node $(node --version)) on 127.0.0.1:$PEER_PORT, Q2"
(cd "$BENCH/peer" && exec env DATABASE_URL="$DB_URL" PEER_PORT="$PEER_PORT" node server.js) \
  >"$WORK/peer.log" 2>&1 &
PEER_PID=$!
PIDS+=("$PEER_PID")
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$PEER_PORT/graphql" -H 'content-type: application/json' \
    -d '{"query":"{__typename}"}' >/dev/null 2>&1 && break
  kill -0 "$PEER_PID" 2>/dev/null || die "the peer exited: $(tail -5 "$WORK/peer.log")"
  sleep 0.2
done
sleep 1
"$DRIVER" peer --addr "127.0.0.1:$PEER_PORT" --pid "$PEER_PID" ${DB_PPID:+--db-ppid "$DB_PPID"} \
  --out "$PARTS/peer.json"
kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true

# ---------------------------------------------------------------------------- report
cat >"$PARTS/meta.json" <<JSON
{"meta": {"at": "$STAMP", "commit": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)", "binary": "$API",
  "dirty": $([[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml 2>/dev/null) ]] && echo true || echo false),
  "cpus": $(nproc), "postgres": "$("${PSQL[@]}" -c 'SHOW server_version')",
  "node": "$(node --version)", "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "settings": {"rate": $BENCH_RATE, "c1_secs": $BENCH_C1_SECS, "cn_secs": $BENCH_CN_SECS,
    "concurrency": $BENCH_CONCURRENCY, "warmup_secs": $BENCH_WARMUP_SECS,
    "ws_connections": $BENCH_WS_CONNECTIONS}}}
JSON
step "results"
"$DRIVER" report --out "$RESULTS/$STAMP.json" "$PARTS"/meta.json "$PARTS"/graph.json \
  $( [[ -f $PARTS/floor.json ]] && echo "$PARTS/floor.json" ) \
  $( [[ -f $PARTS/export.json ]] && echo "$PARTS/export.json" ) "$PARTS"/ws.json "$PARTS"/provisioning.json \
  $( [[ -f $PARTS/replicas1.json ]] && echo "$PARTS/replicas1.json" "$PARTS/replicas2.json" ) "$PARTS"/peer.json
cp "$RESULTS/$STAMP.json" "$RESULTS/latest.json"
echo "written: bench/results/$STAMP.json (and latest.json)" >&2
