#!/usr/bin/env bash
# Runs the GraphQL-over-HTTP compliance audit (the `graphql-http` package's auditServer) against
# a freshly started server; fails on any violation of a MUST or a SHOULD.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund graphql-http@1 graphql@16 >/dev/null)
cat > "$work/audit.mjs" <<'JS'
import { auditServer } from 'graphql-http';
const results = await auditServer({ url: process.argv[2] });
for (const r of results) {
  if (r.status !== 'ok') console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
}
const warnings = results.filter(r => r.status === 'warn').length;
const violations = results.filter(r => r.status === 'error').length;
console.log(`${results.length} checks: ${results.filter(r => r.status === 'ok').length} ok, ` +
  `${warnings} SHOULD warnings, ${violations} MUST violations`);
process.exit(violations || warnings ? 1 : 0);
JS

port=$(free_port)
cargo build --quiet --locked --bin stroom
DATABASE_URL="sqlite://$work/audit.db?mode=rwc" RUST_LOG=warn ./target/debug/stroom serve --listen "127.0.0.1:$port" &
server=$!
for _ in $(seq 1 50); do
  ./target/debug/stroom ready --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  sleep 0.2
done
node "$work/audit.mjs" "http://127.0.0.1:$port/graphql"
