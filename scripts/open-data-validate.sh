#!/usr/bin/env bash
# Validates the open-data downloads of a freshly started demo server with the Frictionless
# Framework, over HTTP as a browser would (its `requests` asks for gzip): each locale's
# datapackage.json and the default one at /open-data/datapackage.json. Every file must arrive
# whole, parse and match the types its descriptor declares. The areas' GeoJSON is checked by
# the `geojson` library (RFC 7946 structure: positions, closed rings) in every locale. Then the
# data changes as staff change it (records of every kind archived, public learnings withdrawn
# to partners) and the package must still validate, foreign keys included, on the demo and on a
# small generated data set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; kill "${generated:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check 'frictionless>=5,<6' 'geojson>=3,<4'

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
# Areas of every kind of geometry, written through the API as staff would.
token=$(DATABASE_URL="sqlite://$work/open-data.db?mode=rwc" RUST_LOG=warn \
  ./target/debug/stroom keys create --name "Open-data check" --role admin | tail -n 1)
municipality=$(curl -fsS -H 'content-type: application/json' \
  -d '{"query":"{ municipalities(first: 1) { nodes { id } } }"}' "http://127.0.0.1:$port/graphql" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["municipalities"]["nodes"][0]["id"])')
ring='[[4.47,51.02],[4.49,51.02],[4.49,51.04],[4.47,51.04],[4.47,51.02]]'
hole='[[4.475,51.025],[4.48,51.025],[4.48,51.03],[4.475,51.025]]'
for geometry in \
  '{"type":"Point","coordinates":[4.4777,51.0297]}' \
  '{"type":"LineString","coordinates":[[4.47,51.02],[4.48,51.03],[4.49,51.03]]}' \
  "{\"type\":\"Polygon\",\"coordinates\":[$ring,$hole]}" \
  "{\"type\":\"MultiPolygon\",\"coordinates\":[[$ring],[[[4.5,51.0],[4.51,51.0],[4.51,51.01],[4.5,51.0]]]]}" \
  '{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[4.48,51.03]},{"type":"MultiPoint","coordinates":[[4.47,51.02],[4.48,51.02]]}]}'; do
  curl -fsS -H 'content-type: application/json' -H "authorization: Bearer $token" \
    -d "{\"query\":\"mutation(\$input: CreateAreaInput!) { createArea(input: \$input) { userErrors { message } } }\",\"variables\":{\"input\":{\"municipality\":\"$municipality\",\"kind\":\"SITE\",\"name\":[{\"locale\":\"en\",\"text\":\"Site\"}],\"geometry\":$geometry}}}" \
    "http://127.0.0.1:$port/graphql" | grep -q '"userErrors":\[\]' || {
      echo "the area with geometry $geometry was not created" >&2
      exit 1
    }
done
for descriptor in "$base/datapackage.json" "$base/en/datapackage.json" "$base/nl/datapackage.json" "$base/fr/datapackage.json"; do
  echo "-- $descriptor"
  "$work/venv/bin/frictionless" validate "$descriptor"
done
for locale in en nl fr; do
  echo "-- $base/$locale/areas.geojson"
  curl -fsS --compressed "$base/$locale/areas.geojson" | "$work/venv/bin/python" -c '
import json, sys, geojson
collection = geojson.loads(sys.stdin.read())
if not collection.is_valid:
    sys.exit("areas.geojson is not valid GeoJSON: %s" % json.dumps(collection.errors()))
features = collection["features"]
kinds = {f["geometry"]["type"] for f in features if f["geometry"]}
if len(kinds) < 5:
    sys.exit("areas.geojson holds too few kinds of geometry to check: %s" % sorted(kinds))
print("valid GeoJSON:", len(features), "features,", ", ".join(sorted(kinds)))
'
done

# Archive and withdraw through the API, as staff would.
cat > "$work/change.py" <<'PY'
import json, sys, urllib.request
endpoint, token = sys.argv[1], sys.argv[2]
def ask(query, variables=None, key=None):
    request = urllib.request.Request(endpoint, json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     {"content-type": "application/json", **({"authorization": f"Bearer {key}"} if key else {})})
    body = json.load(urllib.request.urlopen(request))
    if body.get("errors"):
        sys.exit(f"{query}: {body['errors']}")
    return body["data"]
changed = 0
for listing, mutation in [("initiatives", "archiveInitiative"), ("organisations", "archiveOrganisation"),
                          ("themes", "archiveTheme"), ("areas", "archiveArea"), ("programmes", "archiveProgramme"),
                          ("indicators", "archiveIndicator"), ("needs", "archiveNeed")]:
    nodes = ask(f"{{ {listing}(first: 100) {{ nodes {{ id version }} }} }}")[listing]["nodes"]
    for node in nodes[:: max(1, len(nodes) // 3)][:3]:
        data = ask(f"mutation($id: ID!, $v: Int!) {{ {mutation}(input: {{id: $id, version: $v}}) {{ userErrors {{ message }} }} }}",
                   {"id": node["id"], "v": node["version"]}, token)
        if data[mutation]["userErrors"]:
            sys.exit(f"{mutation}: {data[mutation]['userErrors']}")
        changed += 1
for node in ask("{ learnings(first: 100) { nodes { id version } } }")["learnings"]["nodes"][::3]:
    data = ask("mutation($id: ID!, $v: Int!) { updateLearning(input: {id: $id, version: $v, audience: PARTNERS}) { userErrors { message } } }",
               {"id": node["id"], "v": node["version"]}, token)
    if data["updateLearning"]["userErrors"]:
        sys.exit(f"updateLearning: {data['updateLearning']['userErrors']}")
    changed += 1
print(f"archived or withdrawn {changed} records")
PY
echo "-- after archiving and withdrawing (demo)"
"$work/venv/bin/python" "$work/change.py" "http://127.0.0.1:$port/graphql" "$token"
"$work/venv/bin/frictionless" validate "$base/en/datapackage.json"

echo "-- a generated data set, after archiving and withdrawing"
generated_url="sqlite://$work/generated.db?mode=rwc"
RUST_LOG=warn ./target/debug/stroom generate --database-url "$generated_url" --municipalities 3 \
  --organisations 40 --needs 80 --initiatives 60 --outcomes 200 --learnings 30 >/dev/null
generated_port=$(free_port)
DATABASE_URL="$generated_url" RUST_LOG=warn ./target/debug/stroom serve --listen "127.0.0.1:$generated_port" &
generated=$!
for _ in $(seq 1 50); do
  ./target/debug/stroom ready --url "http://127.0.0.1:$generated_port/readyz" 2>/dev/null && break
  sleep 0.2
done
generated_token=$(DATABASE_URL="$generated_url" RUST_LOG=warn \
  ./target/debug/stroom keys create --name "Open-data check" --role admin | tail -n 1)
"$work/venv/bin/frictionless" validate "http://127.0.0.1:$generated_port/open-data/en/datapackage.json"
"$work/venv/bin/python" "$work/change.py" "http://127.0.0.1:$generated_port/graphql" "$generated_token"
"$work/venv/bin/frictionless" validate "http://127.0.0.1:$generated_port/open-data/en/datapackage.json"
