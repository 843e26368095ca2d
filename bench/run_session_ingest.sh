#!/usr/bin/env bash
# Session ingest throughput beside the machine's own PostgreSQL limit, in one run:
#   1. builds parley-session and session_ingest_bench optimised (build/bench),
#   2. starts a throwaway PostgreSQL and parley-session against it,
#   3. runs concurrent gRPC clients sending single-message Ingest batches,
#   4. runs pgbench with a comparable single-row insert (one transaction per message) on the
#      same server with as many clients,
#   5. prints messages/s, p50/p99 latency and the ratio session / pgbench.
# Environment: CLIENTS (16), DURATION (seconds, 10), POOL (session pg_pool_size, 16),
#              BUILD_DIR (build/bench), SKIP_BUILD=1 to reuse BUILD_DIR as it is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLIENTS="${CLIENTS:-16}"
SECONDS_RUN="${DURATION:-10}"
POOL="${POOL:-16}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/bench}"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
TMP=$(mktemp -d /tmp/parley-bench.XXXXXX)

log() { printf '[bench] %s\n' "$*" >&2; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SESSION_PID=""
cleanup() {
  # (a stopped server exits 143: not the script's status)
  [ -n "$SESSION_PID" ] && kill -TERM "$SESSION_PID" 2>/dev/null && { wait "$SESSION_PID" 2>/dev/null || true; }
  as_postgres "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building (Release) in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLEY_BUILD_TESTS=OFF \
    -DPARLEY_BUILD_BENCH=ON >/dev/null
  ninja -C "$BUILD_DIR" parley-session session_ingest_bench >/dev/null
fi

PG_PORT=$(free_port)
[ "$(id -u)" = 0 ] && chown postgres: "$TMP"
as_postgres "$PGBIN/initdb" -D "$TMP/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
  -o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
"$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE parley"
log "PostgreSQL on $PG_PORT"

GRPC_PORT=$(free_port)
"$BUILD_DIR/services/session/parley-session" --grpc_address="127.0.0.1:$GRPC_PORT" \
  --metrics_address=127.0.0.1:0 --pg_uri="postgresql://postgres@127.0.0.1:$PG_PORT/parley" \
  --pg_pool_size="$POOL" --router_address=127.0.0.1:1 --outbox_initial_backoff=1h \
  --log_level=error >"$TMP/session.log" 2>&1 &
SESSION_PID=$!

log "session: $CLIENTS clients for ${SECONDS_RUN}s"
SESSION_LINE=$("$BUILD_DIR/bench/session_ingest_bench" "127.0.0.1:$GRPC_PORT" "$CLIENTS" \
  "$SECONDS_RUN")
echo "$SESSION_LINE"

log "pgbench: $CLIENTS clients for ${SECONDS_RUN}s"
"$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d parley -qc "
  CREATE TABLE bench_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), conversation_id uuid NOT NULL,
    dedup_key text NOT NULL UNIQUE, body text NOT NULL, created_at timestamptz DEFAULT now())"
cat >"$TMP/insert.sql" <<'SQL'
INSERT INTO bench_messages (conversation_id, dedup_key, body)
VALUES (gen_random_uuid(), md5(random()::text || clock_timestamp()::text),
        'Hello, my order has not arrived yet, can you check the shipping status?');
SQL
(cd "$TMP" && "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c "$CLIENTS" -j 2 \
  -T "$SECONDS_RUN" -f insert.sql -l --log-prefix=pgb parley >"$TMP/pgbench.out" 2>&1)
PG_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench.out" | tail -n 1)
read -r PG_P50 PG_P99 < <(cat "$TMP"/pgb.* | awk '{print $3/1000}' | sort -n |
  awk '{a[NR]=$1} END {i50=int(NR*0.5); i99=int(NR*0.99); if(i50<1)i50=1; if(i99<1)i99=1;
       printf "%.2f %.2f\n", a[i50], a[i99]}')
echo "pgbench tps=$PG_TPS p50_ms=$PG_P50 p99_ms=$PG_P99"

SESSION_RATE=$(sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p' <<<"$SESSION_LINE")
printf '\n%-10s %12s %10s %10s\n' "" "msgs/s" "p50 ms" "p99 ms"
printf '%-10s %12s %10s %10s\n' session "$SESSION_RATE" \
  "$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$SESSION_LINE")" \
  "$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$SESSION_LINE")"
printf '%-10s %12s %10s %10s\n' pgbench "$PG_TPS" "$PG_P50" "$PG_P99"
awk -v s="$SESSION_RATE" -v p="$PG_TPS" 'BEGIN {printf "ratio session/pgbench: %.2fx\n", s/p}'
