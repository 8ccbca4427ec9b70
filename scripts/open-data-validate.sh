#!/usr/bin/env bash
# Validates the open-data downloads of a freshly started demo server with the Frictionless
# Framework (`frictionless validate` on each locale's datapackage.json): every file must parse and
# match the types its descriptor declares.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check 'frictionless>=5,<6'

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cargo build --quiet --locked --bin stroom
DATABASE_URL="sqlite://$work/open-data.db?mode=rwc" RUST_LOG=warn ./target/debug/stroom serve \
  --demo --listen "127.0.0.1:$port" &
server=$!
for _ in $(seq 1 50); do
  ./target/debug/stroom ready --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  sleep 0.2
done

for locale in en nl fr; do
  # Downloaded first so the descriptor's relative paths resolve against local files.
  dir="$work/$locale"
  mkdir -p "$dir"
  curl -fsS "http://127.0.0.1:$port/open-data/$locale/datapackage.json" -o "$dir/datapackage.json"
  for path in $("$work/venv/bin/python" -c 'import json,sys; print(" ".join(r["path"] for r in json.load(open(sys.argv[1]))["resources"]))' "$dir/datapackage.json"); do
    curl -fsS "http://127.0.0.1:$port/open-data/$locale/$path" -o "$dir/$path"
  done
  echo "-- $locale"
  (cd "$dir" && "$work/venv/bin/frictionless" validate datapackage.json)
done
