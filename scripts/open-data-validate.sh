#!/usr/bin/env bash
# Validates the open-data downloads of a freshly started demo server with the Frictionless
# Framework, over HTTP as a browser would (its `requests` asks for gzip): each locale's
# datapackage.json and the default one at /open-data/datapackage.json. Every file must arrive
# whole, parse and match the types its descriptor declares.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check 'frictionless>=5,<6'

port=$(free_port)
cargo build --quiet --locked --bin stroom
DATABASE_URL="sqlite://$work/open-data.db?mode=rwc" RUST_LOG=warn ./target/debug/stroom serve \
  --demo --listen "127.0.0.1:$port" &
server=$!
for _ in $(seq 1 50); do
  ./target/debug/stroom ready --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  sleep 0.2
done

base="http://127.0.0.1:$port/open-data"
# The server compresses for clients that ask, as frictionless does.
encoding=$(curl -fsS -o /dev/null -D - -H 'accept-encoding: gzip' "$base/en/initiatives.csv" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" { print $2 }')
if [ "$encoding" != "gzip" ]; then
  echo "open data is not served gzip-compressed to clients that ask (got '$encoding')" >&2
  exit 1
fi
for descriptor in "$base/datapackage.json" "$base/en/datapackage.json" "$base/nl/datapackage.json" "$base/fr/datapackage.json"; do
  echo "-- $descriptor"
  "$work/venv/bin/frictionless" validate "$descriptor"
done
