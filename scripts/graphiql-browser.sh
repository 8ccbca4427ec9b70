#!/usr/bin/env bash
# GraphiQL in a real browser, offline: headless Chromium (Debian's, installed if missing) loads
# the landing page and GraphiQL from a freshly started demo server with every request outside
# it refused, runs a query, then a subscription that must show an event after a write. It also
# checks the browser's own HTTP cache: an answer it keeps is revalidated (a 304 from the server)
# and never shown after a write replaced it. It fails on a request that leaves the server, a
# violation of the content-security policy, a script error, a failed schema load, a wrong or
# stale answer.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  else
    echo "chromium is not installed and cannot be: browser check skipped"
    exit 0
  fi
fi

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund playwright-core@1 >/dev/null)

port=$(free_port)
cargo build --quiet --locked --bin stroom
DATABASE_URL="sqlite://$work/browser.db?mode=rwc" RUST_LOG=warn ./target/debug/stroom serve \
  --demo --listen "127.0.0.1:$port" &
server=$!
for _ in $(seq 1 50); do
  ./target/debug/stroom ready --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  sleep 0.2
done
key=$(DATABASE_URL="sqlite://$work/browser.db?mode=rwc" ./target/debug/stroom keys create \
  --name "browser check" --role admin | tail -n 1)

cat > "$work/check.cjs" <<'JS'
const { chromium } = require('playwright-core');
const origin = process.argv[2];
const key = process.argv[4];
// A write made outside the browser, as another member of staff would.
async function write(code) {
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: `mutation { createTheme(input: {code: "${code}", label: [{locale: "en", text: "Browser ${code}"}]}) { userErrors { message } } }` }),
  });
  const body = await response.json();
  if (body.errors || body.data.createTheme.userErrors.length) throw new Error(JSON.stringify(body));
}
async function notModifiedCount() {
  const text = await (await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith('stroom_response_cache_total{') && l.includes('outcome="not_modified"'));
  return line ? Number(line.split(' ').pop()) : 0;
}
(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  const page = await browser.newPage();
  // Offline: anything not from this server is refused (and is a failure).
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
    problems.push(`request outside the server: ${url}`);
    return route.abort();
  });
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

  await page.goto(`${origin}/`);
  if (!(await page.title()).includes('Stroom API')) problems.push('landing page without its title');
  for (const href of ['/graphql', '/schema.graphql', '/open-data/', '/healthz']) {
    if (!(await page.$(`a[href="${href}"]`))) problems.push(`landing page without a link to ${href}`);
  }

  const introspection = page.waitForResponse((r) =>
    r.url().endsWith('/graphql') && (r.request().postData() || '').includes('__schema'));
  const query = encodeURIComponent('{ themes { totalCount } }');
  await page.goto(`${origin}/graphql?query=${query}`);
  await page.waitForSelector('.graphiql-container', { timeout: 20000 });
  const schema = await (await introspection).json();
  if (!schema.data || !schema.data.__schema || schema.errors) {
    problems.push(`the schema did not load: ${JSON.stringify(schema).slice(0, 300)}`);
  }
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(() => {
    const result = document.querySelector('.result-window');
    return result && result.textContent.includes('totalCount');
  }, null, { timeout: 20000 });
  const result = await page.textContent('.result-window');
  if (!/"totalCount":\s*19/.test(result)) problems.push(`unexpected answer: ${result.slice(0, 200)}`);

  // The browser's HTTP cache: a kept answer is revalidated on reuse and never outlives a write.
  // (A page with routes has no HTTP cache, hence a page of its own.)
  const plain = await (await browser.newContext()).newPage();
  await plain.goto(`${origin}/`);
  const count = `${origin}/graphql?query=${encodeURIComponent('{ themes { totalCount } }')}`;
  const total = () => plain.evaluate(async (url) => {
    const response = await fetch(url, { headers: { accept: 'application/graphql-response+json' } });
    return { total: (await response.json()).data.themes.totalCount, cacheControl: response.headers.get('cache-control') };
  }, count);
  const before = await total();
  if (before.cacheControl !== 'public, no-cache') problems.push(`cache-control of a shared answer: ${before.cacheControl}`);
  const revalidated = await notModifiedCount();
  const again = await total();
  if (again.total !== before.total) problems.push(`unchanged data, another answer: ${again.total}`);
  if ((await notModifiedCount()) !== revalidated + 1) problems.push('the browser reused its copy without revalidating it');
  await write('browser_cache');
  const after = await total();
  if (after.total !== before.total + 1) problems.push(`stale answer after a write: ${after.total} themes, expected ${before.total + 1}`);

  // A subscription in GraphiQL over graphql-ws: an event shows after a write.
  const subscription = encodeURIComponent('subscription { changes(types: [THEME]) { operation objectType } }');
  await page.goto(`${origin}/graphql?query=${subscription}`);
  await page.waitForSelector('.graphiql-container', { timeout: 20000 });
  await page.click('.graphiql-execute-button');
  await page.waitForTimeout(1500);
  await write('browser_live');
  try {
    await page.waitForFunction(() => {
      const result = document.querySelector('.result-window');
      return result && result.textContent.includes('"objectType": "Theme"');
    }, null, { timeout: 20000 });
  } catch (e) {
    problems.push(`no event in GraphiQL's subscription: ${(await page.textContent('.result-window')).slice(0, 300)}`);
  }
  await page.screenshot({ path: process.argv[3] });

  const violations = await page.evaluate(() => window.__violations);
  for (const v of violations) problems.push(`content-security-policy violation: ${v}`);
  await browser.close();
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log('GraphiQL loads offline under its content-security policy, answers a query and streams a ' +
    'subscription; the browser revalidates kept answers and never shows one a write replaced');
})().catch((e) => { console.error(e); process.exit(1); });
JS
node "$work/check.cjs" "http://127.0.0.1:$port" "${GRAPHIQL_SCREENSHOT:-$work/graphiql.png}" "$key"
