# Sourced by the bench/run_*.sh scripts: logging, free ports, the Release build, a throwaway
# PostgreSQL, stopping what a script started, and pgbench's reference insert. Each script sets
# ROOT, BUILD_DIR and TMP (a fresh directory) before sourcing this file.

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

log() { printf '[bench] %s\n' "$*" >&2; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Processes the script started (append their pids); stopped, with PostgreSQL, on exit.
PIDS=()
bench_cleanup() {
  # (a stopped server exits 143: not the script's status)
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && { wait "$pid" 2>/dev/null || true; }; done
  as_postgres "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap bench_cleanup EXIT

# bench_apt_install PACKAGE...: installs Debian packages (the benchmarks' tools).
bench_apt_install() {
  [ $# -gt 0 ] || return 0
  log "installing $* (apt-get)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "$@" >/dev/null
}

# bench_build TARGET...: an optimised build of those targets in BUILD_DIR, unless SKIP_BUILD=1.
# bench/CMakeLists.txt needs Google Benchmark (ingress_path_bench), which ./dev does not install.
bench_build() {
  [ "${SKIP_BUILD:-0}" = 1 ] && return
  [ -e /usr/include/benchmark/benchmark.h ] || bench_apt_install libbenchmark-dev
  log "building (Release) in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLEY_BUILD_TESTS=OFF \
    -DPARLEY_BUILD_BENCH=ON >/dev/null
  ninja -C "$BUILD_DIR" "$@" >/dev/null
}

# bench_pg_start: a PostgreSQL with default durability (fsync, synchronous_commit) in $TMP/pg
# and a database "parley"; sets PG_PORT and PG_URI.
bench_pg_start() {
  PG_PORT=$(free_port)
  [ "$(id -u)" = 0 ] && chown postgres: "$TMP"
  chmod 755 "$TMP"
  as_postgres "$PGBIN/initdb" -D "$TMP/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    >/dev/null
  as_postgres "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
    -o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE parley"
  PG_URI="postgresql://postgres@127.0.0.1:$PG_PORT/parley"
}

# bench_pgbench_insert CLIENTS SECONDS: the machine's own PostgreSQL limit for what Parley
# does per message: one autocommit single-row insert of a message-like row (uuid key, a
# unique dedup key, text) per transaction, CLIENTS clients driven by 2 threads. Sets PG_TPS
# (rounded), PG_P50 and PG_P99 (ms).
bench_pgbench_insert() {
  "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d parley -qc "
    CREATE TABLE bench_messages (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(), conversation_id uuid NOT NULL,
      dedup_key text NOT NULL UNIQUE, body text NOT NULL, created_at timestamptz DEFAULT now())"
  cat >"$TMP/insert.sql" <<'SQL'
INSERT INTO bench_messages (conversation_id, dedup_key, body)
VALUES (gen_random_uuid(), md5(random()::text || clock_timestamp()::text),
        'Hello, my order has not arrived yet, can you check the shipping status?');
SQL
  (cd "$TMP" && "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c "$1" -j 2 \
    -T "$2" -f insert.sql -l --log-prefix=pgb parley >"$TMP/pgbench.out" 2>&1)
  PG_TPS=$(printf "%.0f" "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench.out" | tail -n 1)")
  read -r PG_P50 PG_P99 < <(cat "$TMP"/pgb.* | awk '{print $3/1000}' | sort -n |
    awk '{a[NR]=$1} END {i50=int(NR*0.5); i99=int(NR*0.99); if(i50<1)i50=1; if(i99<1)i99=1;
         printf "%.2f %.2f\n", a[i50], a[i99]}')
}
