#!/usr/bin/env bash
# Null propagation checked against graphql-js, the reference implementation, as the oracle: many
# documents generated from the served schema (lists, nested objects and connections to depth
# four, fields refused to anonymous callers at every depth, objects whose every selected field
# is refused, root fields that all fail) are sent anonymously to a demo server. graphql-js then
# executes each document over the same SDL, its resolvers returning the values the server
# returned and failing exactly where the server reported an error, and propagates the nulls as
# the specification says: `data` (keys in order) and the error paths must be the same. (The
# refused fields are nullable, so no value the resolvers need is lost to propagation.)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund graphql@16 >/dev/null)
cat > "$work/oracle.mjs" <<'JS'
import { buildSchema, parse, execute, getNamedType, isObjectType, isLeafType, isNonNullType,
  isListType, responsePathAsArray } from 'graphql';
const [endpoint, count] = [process.argv[2], Number(process.argv[3] || 300)];
const schema = buildSchema(await (await fetch(endpoint.replace(/graphql$/, 'schema.graphql'))).text());

// A small deterministic generator, so a failure can be replayed.
let seed = 20261203;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (items) => items[Math.floor(random() * items.length)];

function args(field) {
  const parts = [];
  for (const arg of field.args) {
    if (arg.name === 'first') parts.push('first: 2');
    else if (isNonNullType(arg.type) && arg.defaultValue === undefined) return null;
  }
  return parts.length ? `(${parts.join(', ')})` : '';
}

// A selection of an object type: some of its fields, refused ones often, objects to `depth`.
function selection(type, depth) {
  const fields = Object.values(type.getFields()).filter((f) => args(f) !== null);
  const chosen = [];
  const wanted = 1 + Math.floor(random() * 4);
  for (let tries = 0; chosen.length < wanted && tries < 20; tries++) {
    const field = pick(fields);
    if (chosen.includes(field)) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) chosen.push(field);
    else if (isObjectType(named) && depth > 0) chosen.push(field);
  }
  // The fields refused to anonymous callers, often alone (an object whose every field fails).
  for (const refused of ['history', 'contacts', 'email', 'phone']) {
    if (type.getFields()[refused] && random() < 0.35) {
      if (random() < 0.3) chosen.length = 0;
      if (!chosen.includes(type.getFields()[refused])) chosen.push(type.getFields()[refused]);
    }
  }
  if (!chosen.length) chosen.push(fields.find((f) => isLeafType(getNamedType(f.type))) || fields[0]);
  return chosen.map((field) => {
    const named = getNamedType(field.type);
    const inner = isLeafType(named) ? '' : ` { ${selection(named, depth - 1)} }`;
    return `${field.name}${args(field)}${inner}`;
  }).join(' ');
}

const query = schema.getQueryType();
const roots = Object.values(query.getFields()).filter((f) =>
  args(f) !== null && isObjectType(getNamedType(f.type)) && f.name !== 'viewer' && f.name !== 'rateLimit');
function document() {
  const shape = random();
  if (shape < 0.1) return `{ a: node(id: "garbage") { id } b: ${pick(['auditEntries', 'apiKeys', 'webhookEndpoints'])}(first: 1) { totalCount } }`;
  if (shape < 0.15) return `{ ${pick(['auditEntries', 'apiKeys', 'webhookEndpoints'])}(first: 1) { totalCount } }`;
  const parts = [];
  const n = 1 + Math.floor(random() * 3);
  for (let i = 0; i < n; i++) {
    const root = pick(roots);
    parts.push(`r${i}: ${root.name}${args(root)} { ${selection(getNamedType(root.type), 3)} }`);
  }
  return `{ ${parts.join(' ')} }`;
}

async function ask(text) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: text }),
  });
  return response.json();
}

const pathKey = (path) => JSON.stringify(path);
let compared = 0, withErrors = 0;
for (let i = 0; i < count; i++) {
  const text = document();
  const anonymous = await ask(text);
  const failing = new Set((anonymous.errors || []).filter((e) => e.path).map((e) => pathKey(e.path)));
  const result = await execute({
    schema,
    document: parse(text),
    rootValue: anonymous.data || {},
    fieldResolver: (source, _args, _context, info) => {
      const path = responsePathAsArray(info.path);
      if (failing.has(pathKey(path))) throw new Error('refused');
      return source == null ? null : source[info.path.key];
    },
  });
  const expected = JSON.stringify(result.data === undefined ? null : result.data);
  const actual = JSON.stringify(anonymous.data === undefined ? null : anonymous.data);
  const expectedPaths = (result.errors || []).map((e) => pathKey(e.path)).sort();
  const actualPaths = [...failing].sort();
  if (expected !== actual || JSON.stringify(expectedPaths) !== JSON.stringify(actualPaths)) {
    console.error(`document ${i}: ${text}\n  graphql-js: ${expected}\n  errors at ${expectedPaths}\n  server:     ${actual}\n  errors at ${actualPaths}`);
    process.exit(1);
  }
  compared++;
  if (failing.size) withErrors++;
}
console.log(`${compared} documents answered as graphql-js answers them (${withErrors} with refused fields)`);
if (withErrors < count / 4) { console.error('too few documents with refused fields to judge'); process.exit(1); }
JS

port=$(free_port)
cargo build --quiet --locked --bin stroom
DATABASE_URL="sqlite://$work/oracle.db?mode=rwc" RUST_LOG=warn ./target/debug/stroom serve \
  --demo --listen "127.0.0.1:$port" &
server=$!
wait_ready "$port"
node "$work/oracle.mjs" "http://127.0.0.1:$port/graphql" "${ORACLE_DOCUMENTS:-300}"
