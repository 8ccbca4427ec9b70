#!/usr/bin/env bash
# The browser pages, in a real browser, offline. GraphiQL: headless Chromium (Debian's, installed if missing) loads
# the landing page and GraphiQL from a freshly started demo server with every request outside
# it refused, runs a query, then a subscription that must show an event after a write. It also
# checks the browser's own HTTP cache: an answer it keeps is revalidated (a 304 from the server)
# and never shown after a write replaced it. It fails on a request that leaves the server, a
# violation of the content-security policy, a script error, a failed schema load, a wrong or
# stale answer. The programme dashboard: it loads offline in English and Dutch, every figure it
# shows equals the API's, a write through the API shows on the open page without a reload,
# and a screenshot is kept in target/dashboard.png.
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

  // The dashboard, in English: its figures are the API's.
  const DASHBOARD = `query($initiatives: InitiativeFilter, $needs: NeedFilter) {
    stages: initiativeStats(filter: $initiatives, groupBy: [STAGE], includeEmptyGroups: true) { total groups { count keys { value label } } }
    themes: initiativeStats(filter: $initiatives, groupBy: [THEME]) { groups { count keys { value label } } }
    needs: needStats(filter: $needs, groupBy: [AREA]) { total answered groups { count answered keys { value label } } } }`;
  async function api(query, variables, language, anonymous) {
    const response = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'accept-language': language || 'en',
        ...(anonymous ? {} : { authorization: `Bearer ${key}` }) },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    const body = await response.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  }
  const board = await browser.newPage();
  await board.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
    problems.push(`dashboard request outside the server: ${url}`);
    return route.abort();
  });
  await board.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  board.on('pageerror', (e) => problems.push(`dashboard script error: ${e.message}`));
  board.on('console', (m) => { if (m.type() === 'error') problems.push(`dashboard console error: ${m.text()}`); });
  await board.setViewportSize({ width: 1280, height: 1400 });
  await board.goto(`${origin}/`);
  if (!(await board.$('a[href="/dashboard"]'))) problems.push('landing page without a link to /dashboard');
  // The landing page's key figures are the API's.
  await board.waitForFunction(() => document.body.dataset.figures === 'loaded', null, { timeout: 20000 })
    .catch(() => problems.push('landing page: the key figures did not load'));
  // As the page asks: anonymously (partner-only learnings are not counted).
  const front = await api('{ initiatives { totalCount } needStats { total answered } learnings { totalCount } municipalities { totalCount } }', {}, 'en', true);
  const frontShown = await board.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-figure]')]
    .map((e) => [e.dataset.figure, Number(e.textContent)])));
  const frontWant = { initiatives: front.initiatives.totalCount, needs: front.needStats.total, answered: front.needStats.answered,
    learnings: front.learnings.totalCount, municipalities: front.municipalities.totalCount };
  if (JSON.stringify(frontShown) !== JSON.stringify(frontWant)) problems.push(`landing page figures ${JSON.stringify(frontShown)}, the API says ${JSON.stringify(frontWant)}`);
  await board.goto(`${origin}/dashboard?lang=en`);
  const loaded = (n) => board.waitForFunction((n) => Number(document.body.dataset.loads || 0) >= n, n, { timeout: 20000 });
  await loaded(1);
  async function compare(when, variables) {
    const expected = await api(DASHBOARD, variables || {}, 'en', true);
    const shown = await board.evaluate(() => {
      const rows = (id) => Object.fromEntries([...document.querySelectorAll(`#${id} tr[data-key]`)]
        .map((tr) => [tr.dataset.key, [...tr.children].slice(1).map((c) => Number(c.textContent))]));
      return {
        initiatives: Number(document.getElementById('total-initiatives').textContent),
        needs: Number(document.getElementById('total-needs').textContent),
        answered: Number(document.getElementById('answered-needs').textContent),
        stages: rows('table-stages'), themes: rows('table-themes'), coverage: rows('table-coverage'),
      };
    });
    const want = {
      initiatives: expected.stages.total, needs: expected.needs.total, answered: expected.needs.answered,
      stages: Object.fromEntries(expected.stages.groups.map((g) => [g.keys[0].value, [g.count]])),
      themes: Object.fromEntries(expected.themes.groups.filter((g) => g.keys[0].value).map((g) => [g.keys[0].value, [g.count]])),
      coverage: Object.fromEntries(expected.needs.groups.filter((g) => g.keys[0].value).map((g) => [g.keys[0].value, [g.answered, g.count - g.answered]])),
    };
    const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    for (const part of Object.keys(want)) {
      const ok = typeof want[part] === 'object' ? same(want[part], shown[part]) : want[part] === shown[part];
      if (!ok) problems.push(`dashboard ${when}: ${part} shows ${JSON.stringify(shown[part])}, the API says ${JSON.stringify(want[part])}`);
    }
    if (!Object.keys(want.stages).length || !Object.keys(want.themes).length) problems.push('dashboard: no figures to compare');
    return expected;
  }
  const onLoad = await compare("on load");
  // A write through the API shows on the open page without a reload.
  const idea = (await api('{ initiatives(first: 100) { nodes { id version stage } } }')).initiatives.nodes
    .find((i) => i.stage === 'IDEA' || i.stage === 'PILOT');
  const target = idea.stage === 'IDEA' ? 'PILOT' : 'RUNNING';
  await api(`mutation($id: ID!, $v: Int!) { changeInitiativeStage(input: {id: $id, version: $v, stage: ${target}}) { userErrors { message } } }`,
    { id: idea.id, v: idea.version });
  await board.waitForFunction(([stage, count]) => {
    const row = document.querySelector(`#table-stages tr[data-key="${stage}"]`);
    return row && Number(row.children[1].textContent) === count;
  }, [target, onLoad.stages.groups.find((g) => g.keys[0].value === target).count + 1], { timeout: 20000 })
    .catch(() => problems.push('dashboard: a write did not show on the open page'));
  await compare('after a write');
  await board.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
  await board.screenshot({ path: process.argv[5], fullPage: true });
  // The filters: a programme and an area chosen on the page give the API's figures under the
  // same filter.
  const choice = await board.evaluate(() => {
    const pick = (id) => { const s = document.getElementById(id); s.selectedIndex = 1; return s.value; };
    return { programme: pick('programme'), area: pick('area') };
  });
  const loadsBefore = await board.evaluate(() => Number(document.body.dataset.loads));
  await board.click('form.filters button[type="submit"]');
  await loaded(loadsBefore + 1);
  await compare('filtered by a programme and an area', {
    initiatives: { programmes: [choice.programme], areas: [choice.area] },
    needs: { programmes: [choice.programme], areas: [choice.area] },
  });
  // In Dutch: its own texts, and the API's labels in Dutch.
  await board.goto(`${origin}/dashboard?lang=nl`);
  await loaded(1);
  const heading = await board.textContent('h1');
  if (heading !== 'Programmadashboard') problems.push(`dashboard in Dutch has the heading ${heading}`);
  const running = await board.textContent('#table-stages tr[data-key="RUNNING"] th');
  if (running !== 'Lopend') problems.push(`dashboard in Dutch names the stage RUNNING ${running}`);
  const dutch = await api(DASHBOARD, {}, 'nl', true);
  const theme = dutch.themes.groups.find((g) => g.keys[0].value);
  const shownTheme = await board.textContent(`#table-themes tr[data-key="${theme.keys[0].value}"] th`);
  if (shownTheme !== theme.keys[0].label) problems.push(`dashboard in Dutch shows the theme ${shownTheme}, the API says ${theme.keys[0].label}`);
  const outcomeRows = await board.$$('#table-outcomes tr[data-key]');
  if (!outcomeRows.length) problems.push('dashboard: the indicator shown first has no outcomes');
  const boardViolations = await board.evaluate(() => window.__violations);
  for (const v of boardViolations) problems.push(`dashboard content-security-policy violation: ${v}`);
  await browser.close();
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log('GraphiQL loads offline under its content-security policy, answers a query and streams a ' +
    'subscription; the browser revalidates kept answers and never shows one a write replaced; the ' +
    'dashboard shows the API\'s figures in English and Dutch and follows a write live');
})().catch((e) => { console.error(e); process.exit(1); });
JS
mkdir -p target
node "$work/check.cjs" "http://127.0.0.1:$port" "${GRAPHIQL_SCREENSHOT:-$work/graphiql.png}" "$key" \
  "${DASHBOARD_SCREENSHOT:-target/dashboard.png}"
echo "dashboard screenshot: ${DASHBOARD_SCREENSHOT:-target/dashboard.png}"
