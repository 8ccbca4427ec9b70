#!/usr/bin/env bash
# Webhooks as a receiver written with the official Standard Webhooks library sees them: a Node
# receiver verifies every delivery with `standardwebhooks` (npm), refuses its first answers,
# and holds one request while the server is killed (SIGKILL) and started again. Every change
# must arrive, verified, under its own `webhook-id`; a message may come twice only where the
# server died before it could record the receiver's answer, and then with the same ID.
#
# On SQLite by default; with WEBHOOKS_CHECK_POSTGRES=postgres://…/postgres it runs on a scratch
# database created (and dropped) on that server.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
scratch=""
cleanup() {
  kill "${server:-0}" "${receiver:-0}" 2>/dev/null || true
  if [ -n "$scratch" ]; then
    drop_database "$WEBHOOKS_CHECK_POSTGRES" "$scratch"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund standardwebhooks@1 >/dev/null)

port=$(free_port)
hook_port=$(free_port)
cargo build --quiet --locked --bin stroom
stroom=./target/debug/stroom
if [ -n "${WEBHOOKS_CHECK_POSTGRES:-}" ]; then
  scratch="stroom_webhooks_check_$$"
  DATABASE_URL=$(scratch_database "$WEBHOOKS_CHECK_POSTGRES" "$scratch")
  export DATABASE_URL
  echo "on PostgreSQL"
else
  export DATABASE_URL="sqlite://$work/webhooks.db?mode=rwc"
  echo "on SQLite"
fi
export RUST_LOG=warn
export STROOM_WEBHOOKS_ALLOW_INTERNAL=true STROOM_WEBHOOK_RETRY_BASE_MS=200 \
  STROOM_WEBHOOK_POLL_MS=100 STROOM_WEBHOOK_TIMEOUT=3

start_server() {
  "$stroom" serve --demo false --listen "127.0.0.1:$port" >>"$work/server.log" 2>&1 &
  server=$!
  wait_ready "$port" "$work/server.log"
}

"$stroom" migrate
secret=$("$stroom" webhooks add --url "http://127.0.0.1:$hook_port/hook" --events 'theme.*' \
  --description "library check" | tail -n 1)
key=$("$stroom" keys create --name "webhook check" --role admin | tail -n 1)

cat > "$work/receiver.mjs" <<'JS'
import http from 'node:http';
import fs from 'node:fs';
import { Webhook } from 'standardwebhooks';

const [port, stateFile] = process.argv.slice(2);
const webhook = new Webhook(process.env.SECRET);
const state = { requests: 0, refusedSignatures: 0, taken: {}, events: {} };
const save = () => fs.writeFileSync(stateFile, JSON.stringify(state));
http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    state.requests += 1;
    const n = state.requests;
    let payload;
    try {
      payload = webhook.verify(body, {
        'webhook-id': req.headers['webhook-id'],
        'webhook-timestamp': req.headers['webhook-timestamp'],
        'webhook-signature': req.headers['webhook-signature'],
      });
    } catch (error) {
      state.refusedSignatures += 1;
      save();
      res.writeHead(400).end();
      return;
    }
    const id = req.headers['webhook-id'];
    let gone = false;
    res.on('close', () => { if (!res.writableFinished) gone = true; });
    const answer = () => {
      if (gone || req.socket.destroyed) {
        // The server died waiting: it never learns of this answer and must send again.
        state.lostAnswers = (state.lostAnswers || 0) + 1;
        save();
        return;
      }
      state.taken[id] = (state.taken[id] || 0) + 1;
      state.events[payload.data.id] = id;
      save();
      res.writeHead(204).end();
    };
    if (n <= 3) {
      save();
      res.writeHead(503).end();
    } else if (n === 6) {
      // Held while the server is killed: its answer never reaches a live server.
      state.holding = id;
      save();
      setTimeout(answer, 4000);
    } else {
      answer();
    }
  });
}).listen(Number(port), '127.0.0.1', save);
JS
SECRET="$secret" node "$work/receiver.mjs" "$hook_port" "$work/state.json" &
receiver=$!
start_server

changes=10
for i in $(seq 1 "$changes"); do
  curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
    -H "authorization: Bearer $key" \
    -d "{\"query\":\"mutation { createTheme(input: {code: \\\"hook_$i\\\", label: [{locale: \\\"en\\\", text: \\\"Hook $i\\\"}]}) { userErrors { message } } }\"}" \
    >/dev/null
done

state() { python3 -c "import json,sys; s=json.load(open('$work/state.json')); print($1)"; }
for _ in $(seq 1 200); do
  [ -f "$work/state.json" ] && [ "$(state "'holding' in s")" = True ] && break
  sleep 0.1
done
[ "$(state "'holding' in s")" = True ] || { echo "no delivery was held"; exit 1; }
echo "killing the server in the middle of a delivery"
kill -9 "$server"
wait "$server" 2>/dev/null || true
start_server

for _ in $(seq 1 600); do
  [ "$(state "len(s['events'])")" -ge "$changes" ] && break
  sleep 0.1
done
sleep 1
python3 - "$work/state.json" "$changes" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
changes = int(sys.argv[2])
taken = state["taken"]
problems = []
if state["refusedSignatures"]:
    problems.append(f"{state['refusedSignatures']} deliveries failed the library's verification")
if len(state["events"]) != changes:
    problems.append(f"{len(state['events'])} of {changes} changes arrived")
if len(taken) != changes:
    problems.append(f"{len(taken)} message IDs for {changes} changes")
twice = [i for i, n in taken.items() if n > 1]
if len(twice) > 1 or any(taken[i] > 2 for i in twice):
    problems.append(f"messages taken more than once: {twice}")
if twice and twice != [state["holding"]]:
    problems.append(f"a message other than the held one came twice: {twice}")
if state.get("lostAnswers") != 1 or taken.get(state["holding"]) is None:
    problems.append("the message held while the server died was not delivered again")
print(f"{state['requests']} requests, {changes} changes, all verified by standardwebhooks; "
      f"the message held while the server died came again under its ID; "
      f"taken twice: {twice or 'none'}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
