#!/usr/bin/env bash
# Generates a data set, starts the server on it and runs the load benchmark; prints the table
# and writes the JSON report. Everything is configurable by environment:
#
#   BENCH_DATABASE_URL  database to fill (default: a new PostgreSQL database `stroom_bench` on
#                       127.0.0.1:5432, dropped and created afresh); an SQLite URL works too
#   BENCH_SCALE         data set size relative to the default (~100k initiatives, 1M outcomes): 1
#   BENCH_REUSE         1 = keep the data already in BENCH_DATABASE_URL (skip generation)
#   BENCH_PROFILE       cargo profile to build: release (debug for a quick smoke run)
#   BENCH_CONCURRENCY   concurrent clients: 32
#   BENCH_DURATION      seconds per operation: 10
#   BENCH_WARMUP        seconds of warm-up per operation: 2
#   BENCH_OPERATIONS    comma-separated operations (default: all of them and the mix)
#   BENCH_JSON          where the JSON report goes: target/bench.json
#   BENCH_SERVER_ARGS   extra arguments for `stroom serve`
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

profile=${BENCH_PROFILE:-release}
scale=${BENCH_SCALE:-1}
url=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/stroom_bench}
json=${BENCH_JSON:-target/bench.json}

if [ "$profile" = release ]; then
  cargo build --quiet --locked --release --bin stroom --bin stroom-bench
  bin=target/release
else
  cargo build --quiet --locked --bin stroom --bin stroom-bench
  bin=target/debug
fi

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; wait "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

if [ "${BENCH_REUSE:-0}" != 1 ]; then
  case "$url" in
    postgres://*)
      admin="${url%/*}/postgres"
      name="${url##*/}"
      psql -q "$admin" -c "DROP DATABASE IF EXISTS \"$name\"" -c "CREATE DATABASE \"$name\""
      ;;
    sqlite://*)
      file="${url#sqlite://}"
      file="${file%%\?*}"
      rm -f "$file" "$file-wal" "$file-shm"
      ;;
  esac
  echo "== generating (scale $scale)"
  "$bin/stroom" --database-url "$url" generate --scale "$scale"
fi

key=$("$bin/stroom" --database-url "$url" keys create --name "benchmark $(date +%s)" \
  --role editor --municipality Mechelen | tail -n 1)

port=$(free_port)
echo "== starting the server"
started=$(date +%s%N)
# Rate limits are lifted: the benchmark measures the service, not its throttling.
# shellcheck disable=SC2086
RUST_LOG=warn "$bin/stroom" --database-url "$url" serve --listen "127.0.0.1:$port" \
  --sql-statements-header --rate-limit-points 1000000000 \
  --rate-limit-anonymous-points 1000000000 ${BENCH_SERVER_ARGS:-} &
server=$!
for _ in $(seq 1 200); do
  "$bin/stroom" ready --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  sleep 0.02
done
ready=$(date +%s%N)
echo "ready after $(( (ready - started) / 1000000 )) ms"

echo "== benchmark"
mkdir -p "$(dirname "$json")"
"$bin/stroom-bench" --url "http://127.0.0.1:$port" --editor-key "$key" \
  --concurrency "${BENCH_CONCURRENCY:-32}" --duration "${BENCH_DURATION:-10}" \
  --warmup "${BENCH_WARMUP:-2}" \
  --operations "${BENCH_OPERATIONS:-dashboard,node,deep-paging,aggregate,search,write-mix,mix}" \
  --json "$json"
echo "report: $json"
