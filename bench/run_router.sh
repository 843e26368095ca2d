#!/usr/bin/env bash
# Router assignment throughput and enqueue-to-offer latency beside redis-benchmark on the same
# Redis, in one run:
#   1. builds parley-router and router_bench optimised (build/bench),
#   2. starts a throwaway PostgreSQL and Redis, and two parley-router replicas against them,
#   3. runs router_bench flat out (assignments/s: enqueue -> offer -> accept -> finish), then
#      again at half the rate it reached (p50/p99 enqueue-to-offer latency at that load),
#   4. runs redis-benchmark (SET, and EVALSHA of a small script) on the same Redis,
#   5. measures the machine's own limit for gRPC calls: PRODUCERS clients of session_ingest_bench
#      against a server that answers at once (bench/ingress_stub_session); an assignment costs
#      three calls (enqueue, accept, finish), so a third of that rate bounds assignments/s,
#   6. prints the results and the ratio router / redis-benchmark, with where the CPU went in
#      each router run (seconds used by Redis, each replica and the bench client, against the
#      wall time and the machine's cores), the machine's load before and after, and Redis' most
#      expensive commands (INFO commandstats) during the flat-out run.
# There is no session in this run: routing updates for session stay queued in Redis.
# Environment: AGENTS (50), PRODUCERS (16), DURATION (seconds, 10), BUILD_DIR (build/bench),
#              ROUTER_FLAGS (extra flags for both replicas, e.g. --redis_pool_size=16),
#              PERF_DIR=dir to record `perf record -g` of Redis, replica 1 and the client during
#              the flat-out run into dir/{redis,router,client}.data,
#              SKIP_BUILD=1 to reuse BUILD_DIR as it is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AGENTS="${AGENTS:-50}"
PRODUCERS="${PRODUCERS:-16}"
SECONDS_RUN="${DURATION:-10}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/bench}"
TMP=$(mktemp -d /tmp/parley-bench.XXXXXX)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# CPU seconds (user + system) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
now() { date +%s.%N; }
# Microseconds during which some runnable task waited for a CPU (Linux PSI), 0 without PSI.
cpu_wait() { sed -n 's/^some .*total=\([0-9]*\)/\1/p' /proc/pressure/cpu 2>/dev/null || echo 0; }

bench_build parley-router router_bench session_ingest_bench ingress_stub_session
bench_pg_start
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
REDIS_PID=$!
sleep 0.3
# No session in this run: mark Redis as initialised so that no replica tries to rebuild from it.
redis-cli -p "$REDIS_PORT" SET parley:router:epoch bench >/dev/null
log "PostgreSQL on $PG_PORT, Redis on $REDIS_PORT"

ROUTERS=""
ROUTER_PIDS=()
for i in 1 2; do
  PORT=$(free_port)
  "$BUILD_DIR/services/router/parley-router" --grpc_address="127.0.0.1:$PORT" \
    --metrics_address=127.0.0.1:0 --pg_uri="$PG_URI" \
    --redis_address="127.0.0.1:$REDIS_PORT" --session_address=127.0.0.1:1 \
    --definitions_poll_interval=200ms --log_level=error ${ROUTER_FLAGS:-} \
    >"$TMP/router-$i.log" 2>&1 &
  PIDS+=($!)
  ROUTER_PIDS+=($!)
  ROUTERS="${ROUTERS:+$ROUTERS,}127.0.0.1:$PORT"
done
for i in $(seq 100); do
  ok=1
  for r in ${ROUTERS//,/ }; do (exec 3<>/dev/tcp/${r%:*}/${r#*:}) 2>/dev/null || ok=0; done
  [ $ok = 1 ] && break
  sleep 0.1
done
sleep 1  # migrations and the first definitions load

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# One router_bench run (rate 0: flat out); prints its result line, then a line of the CPU
# seconds Redis, the replicas and the client used during it.
run_bench() {
  local rate=$1 t0 r0 a0 b0 w0 line
  t0=$(now) w0=$(cpu_wait) r0=$(cpu_of "$REDIS_PID") a0=$(cpu_of "${ROUTER_PIDS[0]}")
  b0=$(cpu_of "${ROUTER_PIDS[1]}")
  local perf=() perf_pids=()
  if [ -n "${PERF_DIR:-}" ] && [ "$rate" = 0 ]; then
    mkdir -p "$PERF_DIR"
    perf record -q -F 999 -g -p "$REDIS_PID" -o "$PERF_DIR/redis.data" -- sleep "$SECONDS_RUN" \
      2>/dev/null &
    perf_pids+=($!)
    perf record -q -F 999 -g -p "${ROUTER_PIDS[0]}" -o "$PERF_DIR/router.data" -- \
      sleep "$SECONDS_RUN" 2>/dev/null &
    perf_pids+=($!)
    perf=(perf record -q -F 999 -g -o "$PERF_DIR/client.data" --)
  fi
  line=$(/usr/bin/time -f '%U %S' -o "$TMP/time" "${perf[@]}" "$BUILD_DIR/bench/router_bench" \
    "$ROUTERS" "127.0.0.1:$REDIS_PORT" "$AGENTS" "$PRODUCERS" "$SECONDS_RUN" "$rate")
  for pid in "${perf_pids[@]}"; do wait "$pid"; done
  echo "$line"
  awk -v t0="$t0" -v t1="$(now)" -v r0="$r0" -v r1="$(cpu_of "$REDIS_PID")" \
    -v a0="$a0" -v a1="$(cpu_of "${ROUTER_PIDS[0]}")" -v b0="$b0" \
    -v b1="$(cpu_of "${ROUTER_PIDS[1]}")" -v c="$(awk '{print $1 + $2}' "$TMP/time")" \
    -v n="$(nproc)" -v w0="$w0" -v w1="$(cpu_wait)" 'BEGIN {
      printf "cpu seconds: redis=%.1f router1=%.1f router2=%.1f client=%.1f of %.1f (%d cores x %.1fs wall); some task waited for a cpu %.0f%% of the time\n",
        r1 - r0, a1 - a0, b1 - b0, c, (t1 - t0) * n, n, t1 - t0, (w1 - w0) / 1e4 / (t1 - t0) }'
}

redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
log "router, flat out: $PRODUCERS producers, $AGENTS agents, ${SECONDS_RUN}s"
MAX_OUT=$(run_bench 0)
MAX_LINE=$(head -n 1 <<<"$MAX_OUT")
echo "max:  $MAX_LINE"
echo "      $(tail -n 1 <<<"$MAX_OUT")"
COMMANDSTATS=$(redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | grep '^cmdstat' |
  sed 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),usec_per_call=\([0-9.]*\).*/\3 \1 calls=\2 usec_per_call=\4/' |
  sort -rn | head -n 6)
MAX_RATE=$(sed -n 's/.*assignments_per_sec=\([0-9.]*\).*/\1/p' <<<"$MAX_LINE")
HALF=$(awk -v r="$MAX_RATE" 'BEGIN {printf "%d", r / 2}')
[ "$HALF" -lt 1 ] && HALF=1
log "router at half that rate: $HALF/s"
HALF_OUT=$(run_bench "$HALF")
HALF_LINE=$(head -n 1 <<<"$HALF_OUT")
echo "half: $HALF_LINE"
echo "      $(tail -n 1 <<<"$HALF_OUT")"
echo "Redis commands during the flat-out run (usec in total, name, calls, usec per call):"
sed 's/^/  /' <<<"$COMMANDSTATS"

log "redis-benchmark on the same Redis"
SHA=$(redis-cli -p "$REDIS_PORT" SCRIPT LOAD "redis.call('HINCRBY', KEYS[1], 'n', 1) return 1")
RB=$(redis-benchmark -p "$REDIS_PORT" -q -n 200000 -c 50 -t set 2>/dev/null | tr '\r' '\n' |
  sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
RB_LUA=$(redis-benchmark -p "$REDIS_PORT" -q -n 200000 -c 50 evalsha "$SHA" 1 bench:k 2>/dev/null |
  tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
echo "redis-benchmark SET rps=$RB EVALSHA rps=$RB_LUA"

log "gRPC floor: $PRODUCERS clients against a server that answers at once"
STUB_PORT=$(free_port)
"$BUILD_DIR/bench/ingress_stub_session" "127.0.0.1:$STUB_PORT" >"$TMP/stub.log" 2>&1 &
PIDS+=($!)
FLOOR=$("$BUILD_DIR/bench/session_ingest_bench" "127.0.0.1:$STUB_PORT" "$PRODUCERS" \
  "$SECONDS_RUN" | sed -n 's/.*msgs_per_sec=\([0-9.]*\).*/\1/p')
echo "gRPC floor calls_per_sec=$FLOOR"

printf '\n%-28s %12s %10s %10s\n' "" "per second" "p50 ms" "p99 ms"
printf '%-28s %12s %10s %10s\n' "router assignments (max)" "$MAX_RATE" \
  "$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$MAX_LINE")" \
  "$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$MAX_LINE")"
printf '%-28s %12s %10s %10s\n' "router at half rate" \
  "$(sed -n 's/.*assignments_per_sec=\([0-9.]*\).*/\1/p' <<<"$HALF_LINE")" \
  "$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$HALF_LINE")" \
  "$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$HALF_LINE")"
printf '%-28s %12s\n' "redis-benchmark SET" "$RB"
printf '%-28s %12s\n' "redis-benchmark EVALSHA" "$RB_LUA"
printf '%-28s %12s\n' "gRPC floor (calls)" "$FLOOR"
awk -v a="$MAX_RATE" -v s="$RB" -v l="$RB_LUA" \
  'BEGIN {printf "ratio assignments / SET: %.4f, assignments / EVALSHA: %.4f\n", a/s, a/l}'
awk -v a="$MAX_RATE" -v f="$FLOOR" 'BEGIN {
  printf "gRPC bound: %.0f assignments/s (3 calls each, nothing else costing anything); router reached %.2fx of it\n", f/3, a/(f/3) }'
echo "machine: $(nproc) cores; load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
