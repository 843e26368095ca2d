#!/usr/bin/env bash
# Session ingest throughput beside the machine's own PostgreSQL limit, in one run:
#   1. builds parley-session and session_ingest_bench optimised (build/bench),
#   2. starts a throwaway PostgreSQL and parley-session against it,
#   3. runs concurrent gRPC clients sending single-message Ingest batches,
#   4. runs pgbench with a comparable single-row insert (one transaction per message) on the
#      same server with as many clients,
#   5. runs the same clients against a gRPC server that stores nothing and answers at once
#      (bench/ingress_stub_session): the machine's own limit for these gRPC calls,
#   6. prints messages/s, p50/p99 latency and the ratios session / pgbench and
#      session / that gRPC floor.
# Environment: CLIENTS (16), DURATION (seconds, 10), POOL (session pg_pool_size, 16),
#              SESSION_FLAGS (extra flags for parley-session, e.g. --ingest_groups=2),
#              BUILD_DIR (build/bench), SKIP_BUILD=1 to reuse BUILD_DIR as it is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLIENTS="${CLIENTS:-16}"
SECONDS_RUN="${DURATION:-10}"
POOL="${POOL:-16}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/bench}"
TMP=$(mktemp -d /tmp/parley-bench.XXXXXX)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

bench_build parley-session session_ingest_bench ingress_stub_session
bench_pg_start
log "PostgreSQL on $PG_PORT"

GRPC_PORT=$(free_port)
"$BUILD_DIR/services/session/parley-session" --grpc_address="127.0.0.1:$GRPC_PORT" \
  --metrics_address=127.0.0.1:0 --pg_uri="$PG_URI" \
  --pg_pool_size="$POOL" --router_address=127.0.0.1:1 --outbox_initial_backoff=1h \
  --log_level=error ${SESSION_FLAGS:-} >"$TMP/session.log" 2>&1 &
PIDS+=($!)

log "session: $CLIENTS clients for ${SECONDS_RUN}s"
SESSION_LINE=$("$BUILD_DIR/bench/session_ingest_bench" "127.0.0.1:$GRPC_PORT" "$CLIENTS" \
  "$SECONDS_RUN")
echo "$SESSION_LINE"

log "pgbench: $CLIENTS clients for ${SECONDS_RUN}s"
bench_pgbench_insert "$CLIENTS" "$SECONDS_RUN"
echo "pgbench tps=$PG_TPS p50_ms=$PG_P50 p99_ms=$PG_P99"

log "gRPC floor: the same $CLIENTS clients against a server that stores nothing"
STUB_PORT=$(free_port)
"$BUILD_DIR/bench/ingress_stub_session" "127.0.0.1:$STUB_PORT" >"$TMP/stub.log" 2>&1 &
PIDS+=($!)
FLOOR_LINE=$("$BUILD_DIR/bench/session_ingest_bench" "127.0.0.1:$STUB_PORT" "$CLIENTS" \
  "$SECONDS_RUN")
echo "$FLOOR_LINE"

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
SESSION_RATE=$(field msgs_per_sec "$SESSION_LINE")
printf '\n%-12s %12s %10s %10s\n' "" "msgs/s" "p50 ms" "p99 ms"
printf '%-12s %12s %10s %10s\n' session "$SESSION_RATE" "$(field p50_ms "$SESSION_LINE")" \
  "$(field p99_ms "$SESSION_LINE")"
printf '%-12s %12s %10s %10s\n' pgbench "$PG_TPS" "$PG_P50" "$PG_P99"
FLOOR_RATE=$(field msgs_per_sec "$FLOOR_LINE")
printf '%-12s %12s %10s %10s\n' "gRPC floor" "$FLOOR_RATE" "$(field p50_ms "$FLOOR_LINE")" \
  "$(field p99_ms "$FLOOR_LINE")"
awk -v s="$SESSION_RATE" -v p="$PG_TPS" -v f="$FLOOR_RATE" 'BEGIN {
  printf "ratio session/pgbench: %.2fx\n", s/p
  printf "ratio session/gRPC floor: %.2fx (the same calls answered by a server that stores nothing)\n", s/f
  printf "ratio gRPC floor/pgbench: %.2fx (the most session could reach if storing cost nothing)\n", f/p
}'
