#!/usr/bin/env bash
# Ingress webhook throughput beside three peers, in one run:
#   1. builds parley-ingress, parley-session, ingress_bench_prepare and ingress_path_bench
#      optimised (build/bench),
#   2. starts a throwaway PostgreSQL, parley-session and parley-ingress against it, and
#      registers a Facebook application and page through ingress's ChannelConfigService,
#   3. drives signed single-event Messenger webhooks (a distinct mid each, so each is stored)
#      over CONNECTIONS keep-alive connections with wrk (bench/ingress_wrk.lua) and counts the
#      rows in session.messages afterwards (only 2xx answers count as accepted; the rows must
#      match them),
#   4. sends the same requests to nginx answering 200 (a throwaway config), and to a Messenger
#      receiver on bottender (bench/peers/bottender, same App Secret, signature check on: a
#      forged signature must get 400 from it, and 401 from ingress, before each run),
#   5. runs pgbench single-row inserts (one transaction each) with CONNECTIONS clients on the
#      same PostgreSQL,
#   6. runs ingress_path_bench (Google Benchmark: signature check, parse and normalise in
#      process, per fixture kind; events/s on one core),
#   7. prints webhooks/s and p50/p99 acknowledgement latency of each, and the ratios
#      ingress/bottender (target >= 5x), ingress/pgbench (target >= 1.0x) and whether ingress's
#      p99 is under 50 ms.
# Installs wrk, nginx-light, npm and libbenchmark-dev from Debian when missing (apt-get).
# Environment: CONNECTIONS (64), DURATION (seconds, 10), WRK_THREADS (2), CUSTOMERS (1000
#              distinct PSIDs), BODIES (signed bodies, 20000 x DURATION), SESSION_POOL (session
#              pg_pool_size, 16), SESSION_FLAGS (extra flags for parley-session, e.g.
#              --ingest_groups=2), INGRESS_EXTRA_FLAGS (extra flags for parley-ingress, e.g.
#              --session_ingest_calls=1), HTTP_THREADS (ingress http_threads, its default when unset),
#              BUILD_DIR (build/bench), SKIP_BUILD=1 to reuse BUILD_DIR as it is,
#              SKIP_PATH_BENCH=1 to leave out step 6, PERF_OUT=file to record a system-wide
#              `perf record -g` profile during the ingress run, ONLY_INGRESS=1 to stop after
#              the ingress run (for tuning; no peers, no ratios), FAKE_SESSION=1 to put
#              bench/ingress_stub_session (answers STORED at once, stores nothing) in place of
#              parley-session: ingress's own ceiling, implies ONLY_INGRESS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONNECTIONS="${CONNECTIONS:-64}"
SECONDS_RUN="${DURATION:-10}"
WRK_THREADS="${WRK_THREADS:-2}"
CUSTOMERS="${CUSTOMERS:-1000}"
BODIES="${BODIES:-$((20000 * SECONDS_RUN))}"
SESSION_POOL="${SESSION_POOL:-16}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/bench}"
APP_SECRET=3f9c1b7e5a2d4c6e8f0a1b3c5d7e9f21
PAGE_ID=1895382890692545
TMP=$(mktemp -d /tmp/parley-bench.XXXXXX)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# CPU time (user + system, clock ticks) used so far by a process, or by PostgreSQL's postmaster
# and its live backends.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
  local postmaster
  postmaster=$(head -n 1 "$TMP/pg/postmaster.pid")
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do cat "/proc/$pid/stat" 2>/dev/null; done |
    awk '{t += $14 + $15} END {print t}'
}
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }
# Waits until `curl` of $1 answers 2xx, for up to $2 seconds.
wait_http() {
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  log "no answer from $1"
  return 1
}


# --- tools ------------------------------------------------------------------------------------
MISSING=()
command -v wrk >/dev/null || MISSING+=(wrk)
[ -x /usr/sbin/nginx ] || MISSING+=(nginx-light)
command -v npm >/dev/null || MISSING+=(npm)
bench_apt_install "${MISSING[@]}"
PEER="$ROOT/bench/peers/bottender"
# npm ci again whenever the lock file changed since the last install (a copy is kept as stamp).
if ! cmp -s "$PEER/package-lock.json" "$PEER/node_modules/.parley-installed-lock" 2>/dev/null; then
  log "installing the bottender peer (npm ci --ignore-scripts)"
  (cd "$PEER" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null &&
    cp package-lock.json node_modules/.parley-installed-lock)
fi

# --- build ------------------------------------------------------------------------------------
bench_build parley-ingress parley-session ingress_bench_prepare ingress_path_bench \
  ingress_stub_session

# --- PostgreSQL, session, ingress --------------------------------------------------------------
bench_pg_start
psql_value() { "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d parley -Atqc "$1"; }
log "PostgreSQL on $PG_PORT"

SESSION_PORT=$(free_port)
if [ "${FAKE_SESSION:-0}" = 1 ]; then
  ONLY_INGRESS=1
  "$BUILD_DIR/bench/ingress_stub_session" "127.0.0.1:$SESSION_PORT" >"$TMP/session.log" 2>&1 &
else
  "$BUILD_DIR/services/session/parley-session" --grpc_address="127.0.0.1:$SESSION_PORT" \
    --metrics_address=127.0.0.1:0 --pg_uri="$PG_URI" --pg_pool_size="$SESSION_POOL" \
    --router_address=127.0.0.1:1 --outbox_initial_backoff=1h \
    --log_level=error ${SESSION_FLAGS:-} >"$TMP/session.log" 2>&1 &
fi
SESSION_PID=$!
PIDS+=($SESSION_PID)
INGRESS_GRPC=$(free_port)
INGRESS_HTTP=$(free_port)
INGRESS_FLAGS=(--grpc_address="127.0.0.1:$INGRESS_GRPC" --metrics_address=127.0.0.1:0
  --pg_uri="$PG_URI" --session_address="127.0.0.1:$SESSION_PORT"
  --http_address="127.0.0.1:$INGRESS_HTTP" --public_base_url="http://127.0.0.1:$INGRESS_HTTP"
  --channel_refresh_interval=200ms --log_level=warn)
[ -n "${HTTP_THREADS:-}" ] && INGRESS_FLAGS+=(--http_threads="$HTTP_THREADS")
# shellcheck disable=SC2206  # extra flags, split on spaces on purpose
INGRESS_FLAGS+=(${INGRESS_EXTRA_FLAGS:-})
"$BUILD_DIR/services/ingress/parley-ingress" "${INGRESS_FLAGS[@]}" >"$TMP/ingress.log" 2>&1 &
INGRESS_PID=$!
PIDS+=($INGRESS_PID)
wait_http "http://127.0.0.1:$INGRESS_HTTP/readyz" 60 || { cat "$TMP/ingress.log"; exit 1; }

log "registering the application and page; signing $BODIES bodies"
CALLBACK=$("$BUILD_DIR/bench/ingress_bench_prepare" "127.0.0.1:$INGRESS_GRPC" "$APP_SECRET" \
  "$PAGE_ID" "$((BODIES + 1))" "$CUSTOMERS" "$TMP/all.tsv")
head -n "$BODIES" "$TMP/all.tsv" >"$TMP/bodies.tsv"
tail -n 1 "$TMP/all.tsv" >"$TMP/warmup.tsv"
# One webhook first, until it is stored: the page is in ingress's cache and session answers.
IFS=$'\t' read -r WARM_256 WARM_1 WARM_BODY <"$TMP/warmup.tsv"
for i in $(seq 1 100); do
  CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: $WARM_256" -H "X-Hub-Signature: $WARM_1" --data-binary "$WARM_BODY" \
    "http://127.0.0.1:$INGRESS_HTTP$CALLBACK")
  [ "$CODE" = 200 ] && break
  [ "$i" = 100 ] && { log "warm-up webhook answered $CODE"; tail -n 20 "$TMP/ingress.log"; exit 1; }
  sleep 0.2
done
# A wrong signature must be refused (the check is on in this run): 401 from ingress.
post_forged() {  # <url> -> the HTTP status of the warm-up body with wrong signatures
  curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: sha256=${WARM_256#sha256=}00" -H "X-Hub-Signature: sha1=00${WARM_1#sha1=}" \
    --data-binary "$WARM_BODY" "$1"
}
CODE=$(post_forged "http://127.0.0.1:$INGRESS_HTTP$CALLBACK")
[ "$CODE" = 401 ] || { log "ingress answered $CODE to a forged signature"; exit 1; }
# Rows stored in session.messages (none with the stub, which has no schema).
stored_rows() {
  if [ "${FAKE_SESSION:-0}" = 1 ]; then echo 0; else psql_value "SELECT count(*) FROM session.messages"; fi
}
ROWS_BEFORE=$(stored_rows)

run_wrk() {  # <url> -> the RESULT line
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --timeout 10s \
    -s "$ROOT/bench/ingress_wrk.lua" "$1" -- "$TMP/bodies.tsv" "$WRK_THREADS" | grep '^RESULT'
}

log "ingress: $CONNECTIONS connections for ${SECONDS_RUN}s"
if [ -n "${PERF_OUT:-}" ]; then  # a system-wide profile of the ingress run
  perf record -a -g -o "$PERF_OUT" -- sleep "$SECONDS_RUN" >/dev/null 2>&1 &
  PERF_PID=$!
fi
CPU_BEFORE="$(cpu_ticks "$INGRESS_PID") $(cpu_ticks "$SESSION_PID") $(pg_ticks)"
INGRESS=$(run_wrk "http://127.0.0.1:$INGRESS_HTTP$CALLBACK")
CPU_AFTER="$(cpu_ticks "$INGRESS_PID") $(cpu_ticks "$SESSION_PID") $(pg_ticks)"
[ -n "${PERF_OUT:-}" ] && wait "$PERF_PID"
sleep 1  # requests cut off at the end may still commit; they are not counted as accepted
ROWS=$(($(stored_rows) - ROWS_BEFORE))
DEAD=0
[ "${FAKE_SESSION:-0}" = 1 ] || DEAD=$(psql_value "SELECT count(*) FROM session.dead_letters")
echo "ingress   $INGRESS"
# Where the CPU went during the ingress run, per webhook stored (per 2xx answer with the stub),
# in ms of CPU time.
PER=$ROWS
[ "${FAKE_SESSION:-0}" = 1 ] && PER=$(($(field requests "$INGRESS") - $(field http_errors "$INGRESS")))
CPU_LINE=$(awk -v b="$CPU_BEFORE" -v a="$CPU_AFTER" -v n="$PER" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  split(b, x, " "); split(a, y, " "); if (n < 1) n = 1
  printf "cpu ms per webhook: ingress %.3f, session %.3f, postgres %.3f",
    (y[1] - x[1]) * 1000 / hz / n, (y[2] - x[2]) * 1000 / hz / n, (y[3] - x[3]) * 1000 / hz / n }')
echo "$CPU_LINE"

if [ "${ONLY_INGRESS:-0}" = 1 ]; then
  echo "ingress: $(($(field requests "$INGRESS") - $(field http_errors "$INGRESS"))) answered 2xx," \
    "$ROWS new rows in session.messages$([ "${FAKE_SESSION:-0}" = 1 ] && echo ' (session was the stub: nothing stored)')"
  exit 0
fi

# --- nginx -------------------------------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "EVENT_RECEIVED"; }
  }
}
EOF
/usr/sbin/nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
  -g 'daemon off;' &
PIDS+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/" 20
log "nginx: $CONNECTIONS connections for ${SECONDS_RUN}s"
NGINX=$(run_wrk "http://127.0.0.1:$NGINX_PORT$CALLBACK")
echo "nginx     $NGINX"

# --- bottender ----------------------------------------------------------------------------------
BOTTENDER_PORT=$(free_port)
(cd "$PEER" && exec env NODE_ENV=production MESSENGER_PAGE_ID="$PAGE_ID" \
  MESSENGER_ACCESS_TOKEN=EAAbenchtoken MESSENGER_APP_ID=1821152484774199 \
  MESSENGER_APP_SECRET="$APP_SECRET" MESSENGER_VERIFY_TOKEN=bench \
  node node_modules/bottender/dist/cli/index.js start --port "$BOTTENDER_PORT") \
  >"$TMP/bottender.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$BOTTENDER_PORT/webhooks/messenger?hub.mode=subscribe&hub.verify_token=bench&hub.challenge=1" 30 ||
  { cat "$TMP/bottender.log"; exit 1; }
CODE=$(post_forged "http://127.0.0.1:$BOTTENDER_PORT/webhooks/messenger")
[ "$CODE" = 400 ] || { log "bottender answered $CODE to a forged signature"; exit 1; }
log "bottender: $CONNECTIONS connections for ${SECONDS_RUN}s"
BOTTENDER=$(run_wrk "http://127.0.0.1:$BOTTENDER_PORT/webhooks/messenger")
echo "bottender $BOTTENDER"

# --- pgbench -----------------------------------------------------------------------------------
log "pgbench: $CONNECTIONS clients for ${SECONDS_RUN}s"
bench_pgbench_insert "$CONNECTIONS" "$SECONDS_RUN"
echo "pgbench   tps=$PG_TPS p50_ms=$PG_P50 p99_ms=$PG_P99"

# --- in-process path -----------------------------------------------------------------------------
if [ "${SKIP_PATH_BENCH:-0}" != 1 ]; then
  log "ingress_path_bench (one core)"
  (cd "$ROOT" && "$BUILD_DIR/bench/ingress_path_bench" --benchmark_min_time=0.5 \
    --benchmark_counters_tabular=true) 2>/dev/null
fi

# --- summary ------------------------------------------------------------------------------------
rate() {  # 2xx answers per second of a RESULT line
  awk -v r="$(field requests "$1")" -v e="$(field http_errors "$1")" -v t="$(field seconds "$1")" \
    'BEGIN {printf "%.0f", (r - e) / t}'
}
row() { printf '%-26s %12s %10s %10s %10s\n' "$@"; }
echo
echo "load: $(uptime | sed 's/.*load average/load average/'); $CONNECTIONS connections, ${SECONDS_RUN}s each"
row "" "per second" "p50 ms" "p99 ms" "errors"
for name in INGRESS NGINX BOTTENDER; do
  line=${!name}
  row "$(tr 'A-Z' 'a-z' <<<"$name") (2xx answers)" "$(rate "$line")" "$(field p50_ms "$line")" \
    "$(field p99_ms "$line")" "$(($(field http_errors "$line") + $(field socket_errors "$line")))"
done
row "pgbench (insert tx)" "$PG_TPS" "$PG_P50" "$PG_P99" "-"
ACCEPTED=$(($(field requests "$INGRESS") - $(field http_errors "$INGRESS")))
echo "ingress: $ACCEPTED webhooks answered 2xx, $ROWS new rows in session.messages," \
  "$DEAD dead letters; wrapped (duplicate mids sent)=$(field wrapped "$INGRESS")"
echo "$CPU_LINE"
if [ "$ROWS" -lt "$ACCEPTED" ]; then
  log "WARNING: fewer rows stored than 2xx answers: the rate below counts rows instead"
fi
DURABLE=$(awk -v a="$ACCEPTED" -v r="$ROWS" -v t="$(field seconds "$INGRESS")" \
  'BEGIN {printf "%.0f", (a < r ? a : r) / t}')
awk -v i="$DURABLE" -v b="$(rate "$BOTTENDER")" -v p="$PG_TPS" -v q="$(field p99_ms "$INGRESS")" \
  -v n="$(rate "$NGINX")" 'BEGIN {
    printf "accepted and stored webhooks/s: %d\n", i
    printf "ratio ingress/bottender: %.2fx (target >= 5x)\n", i / b
    printf "ratio ingress/pgbench:   %.2fx (target >= 1.0x)\n", i / p
    printf "ratio ingress/nginx:     %.3fx (an HTTP server doing nothing)\n", i / n
    printf "ingress p99 %.2f ms: %s (target < 50 ms)\n", q, (q < 50 ? "under" : "OVER")
  }'
