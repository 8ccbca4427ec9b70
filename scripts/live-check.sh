#!/usr/bin/env bash
# Live subscriptions as a web page's client sees them, across instances: two servers on one
# database; the official `graphql-ws` npm client subscribes on the first (with a key in its
# connection parameters, and anonymously), changes are made through the second, and every one
# must arrive, in order, once; anonymous subscribers must not see events of private records;
# the same subscription over server-sent events (GraphQL over SSE) must see them too; when the
# first server is stopped, its WebSocket must close with 1001 and its event stream complete.
#
# On SQLite by default (the instances learn of each other's commits by polling); with
# LIVE_CHECK_POSTGRES=postgres://…/postgres on a scratch database on that server (by
# LISTEN/NOTIFY).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
scratch=""
cleanup() {
  kill "${first:-0}" "${second:-0}" 2>/dev/null || true
  if [ -n "$scratch" ]; then
    drop_database "$LIVE_CHECK_POSTGRES" "$scratch"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$work" && npm init -y >/dev/null &&
  npm install --silent --no-audit --no-fund graphql-ws@6 ws@8 graphql@16 >/dev/null)

cargo build --quiet --locked --bin stroom
stroom=./target/debug/stroom
if [ -n "${LIVE_CHECK_POSTGRES:-}" ]; then
  scratch="stroom_live_check_$$"
  DATABASE_URL=$(scratch_database "$LIVE_CHECK_POSTGRES" "$scratch")
  export DATABASE_URL
  # Polling rarely, so that only NOTIFY can explain a prompt delivery.
  export STROOM_FEED_POLL_MS=60000
  echo "on PostgreSQL"
else
  export DATABASE_URL="sqlite://$work/live.db?mode=rwc"
  export STROOM_FEED_POLL_MS=200
  echo "on SQLite"
fi
export RUST_LOG=warn STROOM_WEBHOOKS_DELIVER=false

start() {
  local port=$1
  "$stroom" serve --demo true --listen "127.0.0.1:$port" >>"$work/server-$port.log" 2>&1 &
  echo $!
}

"$stroom" migrate
first_port=$(free_port)
first=$(start "$first_port")
wait_ready "$first_port" "$work"/server-*.log
second_port=$(free_port)
second=$(start "$second_port")
wait_ready "$second_port" "$work"/server-*.log
key=$("$stroom" keys create --name "live check" --role admin | tail -n 1)

cat > "$work/subscriber.mjs" <<'JS'
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import fs from 'node:fs';

const [first, second, key, stateFile] = process.argv.slice(2);
const state = { keyed: [], anonymous: [], sse: [], closes: [], sseCompleted: false, errors: [] };
const save = () => fs.writeFileSync(stateFile, JSON.stringify(state));
const query = `subscription { changes(types: [THEME, CONTACT_PERSON]) { id operation objectType objectId object { ... on Theme { code } } } }`;

function subscribe(list, connectionParams) {
  const client = createClient({
    url: `ws://127.0.0.1:${first}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},  // reported by `closed` above
    on: { closed: (event) => { state.closes.push(event.code); save(); } },
  });
  client.subscribe({ query }, {
    next: (result) => {
      if (result.errors) state.errors.push(result.errors);
      else list.push(result.data.changes);
      save();
    },
    // Without retries the client reports the server's going away as an error: expected here.
    error: (error) => {
      if (error && error.code === 1001) return;
      state.errors.push(String(error && (error.reason || error.message || error)));
      save();
    },
    complete: () => {},
  });
  return client;
}

subscribe(state.keyed, { authorization: `Bearer ${key}` });
subscribe(state.anonymous, {});

// The same subscription over server-sent events, as a page's fetch would read it.
const response = await fetch(`http://127.0.0.1:${first}/graphql`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
  body: JSON.stringify({ query }),
});
if (response.status !== 200) { state.errors.push(`SSE: ${response.status} ${await response.text()}`); save(); }
state.ready = true;
save();
const reader = response.body.getReader();
const decoder = new TextDecoder();
let buffered = '';
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  buffered += decoder.decode(value, { stream: true });
  let end;
  while ((end = buffered.indexOf('\n\n')) >= 0) {
    const message = buffered.slice(0, end);
    buffered = buffered.slice(end + 2);
    const event = /^event: (.*)$/m.exec(message)?.[1];
    const data = /^data: (.*)$/m.exec(message)?.[1];
    if (event === 'next') state.sse.push(JSON.parse(data).data.changes);
    if (event === 'complete') state.sseCompleted = true;
    save();
  }
}
save();
JS
node "$work/subscriber.mjs" "$first_port" "$second_port" "$key" "$work/state.json" &
subscriber=$!
state() { python3 -c "import json; s=json.load(open('$work/state.json')); print($1)" 2>/dev/null || echo 0; }
for _ in $(seq 1 100); do
  [ "$(state "s.get('ready', False)")" = True ] && break
  sleep 0.1
done
sleep 0.5

# Changes through the second instance: public themes, and contact people (personal data).
organisation=$(curl -sf "http://127.0.0.1:$second_port/graphql" -H 'content-type: application/json' \
  -d '{"query":"{ organisations(first: 1) { nodes { id } } }"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["organisations"]["nodes"][0]["id"])')
changes=12
for i in $(seq 1 "$changes"); do
  if [ $((i % 3)) -eq 0 ]; then
    mutation="mutation { createContactPerson(input: {organisation: \\\"$organisation\\\", name: \\\"Person $i\\\", email: \\\"p$i@example.org\\\"}) { userErrors { message } } }"
  else
    mutation="mutation { createTheme(input: {code: \\\"live_$i\\\", label: [{locale: \\\"en\\\", text: \\\"Live $i\\\"}]}) { userErrors { message } } }"
  fi
  curl -sf "http://127.0.0.1:$second_port/graphql" -H 'content-type: application/json' \
    -H "authorization: Bearer $key" -d "{\"query\":\"$mutation\"}" >"$work/reply.json"
  grep -q '"userErrors":\[\]' "$work/reply.json" || { echo "a change was refused:"; cat "$work/reply.json"; exit 1; }
done

for _ in $(seq 1 150); do
  [ "$(state "len(s['keyed'])")" -ge "$changes" ] && [ "$(state "len(s['sse'])")" -ge "$changes" ] && break
  sleep 0.1
done
sleep 0.5
echo "stopping the first server"
kill -TERM "$first"
wait "$first" 2>/dev/null || true
for _ in $(seq 1 50); do
  [ "$(state "len(s['closes']) >= 2 and s['sseCompleted']")" = True ] && break
  sleep 0.1
done
kill "$subscriber" 2>/dev/null || true

python3 - "$work/state.json" "$changes" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
changes = int(sys.argv[2])
private = changes // 3
problems = []
def ids(events):
    return [int(e["id"]) for e in events]
for name in ("keyed", "sse"):
    events = state[name]
    if len(events) != changes:
        problems.append(f"{name}: {len(events)} of {changes} changes arrived")
    if ids(events) != sorted(set(ids(events))):
        problems.append(f"{name}: events out of order or repeated: {ids(events)}")
anonymous = state["anonymous"]
if any(e["objectType"] == "ContactPerson" for e in anonymous):
    problems.append("an anonymous subscriber saw a change to personal data")
if len(anonymous) != changes - private:
    problems.append(f"anonymous: {len(anonymous)} of {changes - private} public changes arrived")
if any(e["objectType"] == "Theme" and not (e["object"] or {}).get("code", "").startswith("live_") for e in state["keyed"]):
    problems.append("an event's object was not read")
if state["errors"]:
    problems.append(f"errors: {state['errors']}")
if sorted(state["closes"]) != [1001, 1001]:
    problems.append(f"WebSockets closed with {state['closes']}, not 1001 (going away)")
if not state["sseCompleted"]:
    problems.append("the event stream did not complete at shutdown")
print(f"{changes} changes through the second instance; WebSocket (key): {len(state['keyed'])}, "
      f"WebSocket (anonymous): {len(anonymous)}, SSE: {len(state['sse'])}; "
      f"closes at shutdown: {state['closes']}, event stream completed: {state['sseCompleted']}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
