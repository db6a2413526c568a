// The web UI's main flows in headless Chromium against the real binary: sign up, create an
// organisation and a project, create an API key (the secret shown once), send traces with the
// official `langfuse` SDK, find one in the traces table by filter and by search, open it (tree and
// chat rendering), its session, users and scores, the dashboard's totals against the metrics API,
// a VIEWER who cannot create keys (no button, and 403 from the server), revoking a key, and
// signing out. Screenshots of each page go to $LANGFUSE_TEST_ARTIFACTS/flows/.

import { after, before, describe, it as baseIt } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import zlib from 'node:zlib';
import { Langfuse } from 'langfuse';
import { api, basicAuth, cleanupTmp, pollUntil, rawHttp, show, withServerLogs } from '../e2e/harness.mjs';
import {
  assertNoPageErrors, launchBrowser, newPage, pageFetch, screenshot, signUpByApi, skipWithoutChromium,
  startUiServer, waitForCount, waitForPath, withFailureScreenshots,
} from './browser.mjs';

const SUITE = 'flows';
const run = crypto.randomBytes(4).toString('hex');
const owner = { name: 'Olivia Owner', email: `owner-${run}@example.com`, password: `owner-pw-${run}` };
const viewer = { name: 'Victor Viewer', email: `viewer-${run}@example.com`, password: `viewer-pw-${run}` };

// The traces the SDK sends: a chat trace with nested spans and generations, and a decoy that
// every filter below must exclude.
const chat = {
  id: `ui-trace-${run}-${crypto.randomUUID()}`,
  name: `support-chat-${run}`,
  userId: `user-${run}`,
  sessionId: `session-${run}`,
  tags: ['ui-test', `tag-${run}`],
  system: 'You are a concise support assistant.',
  user: `My parcel ${run} never arrived, what can I do?`,
  answer: `Sorry about parcel ${run}. I have opened a claim for you.`,
};
const decoy = {
  id: `ui-decoy-${run}-${crypto.randomUUID()}`,
  name: `batch-job-${run}`,
  userId: `other-user-${run}`,
  sessionId: `other-session-${run}`,
};
// Observations of the chat trace (name -> parent name), and the costs sent with the generations.
const OBSERVATIONS = { retrieve: null, rank: 'retrieve', 'chat-completion': 'retrieve', summarize: null };
const COSTS = { 'chat-completion': 0.0006, summarize: 0.0004 };
const TOTAL_OBSERVATIONS = Object.keys(OBSERVATIONS).length + 1; // + the decoy's span

let srv;
let browser;
let page;          // the owner's page
let viewerPage;
let projectId;
let orgId;
let key;           // {publicKey, secretKey} created in the UI
const it = withFailureScreenshots(withServerLogs(baseIt, () => [srv]), SUITE, () => [page, viewerPage]);

async function sendTracesWithSdk() {
  const lf = new Langfuse({
    publicKey: key.publicKey, secretKey: key.secretKey, baseUrl: srv.baseUrl, flushAt: 100, fetchRetryCount: 1,
  });
  const t0 = Date.now() - 5_000;
  const at = (ms) => new Date(t0 + ms);
  const messages = [
    { role: 'system', content: chat.system },
    { role: 'user', content: chat.user },
  ];
  const trace = lf.trace({
    id: chat.id, name: chat.name, userId: chat.userId, sessionId: chat.sessionId, tags: chat.tags,
    input: messages, output: { role: 'assistant', content: chat.answer }, metadata: { channel: 'web', run },
    timestamp: at(0),
  });
  const retrieve = trace.span({ name: 'retrieve', startTime: at(10), endTime: at(950), input: { query: chat.user } });
  retrieve.span({ name: 'rank', startTime: at(20), endTime: at(120), output: { kept: 3 } });
  retrieve.generation({
    name: 'chat-completion', model: 'gpt-4o-mini', startTime: at(130), completionStartTime: at(300), endTime: at(900),
    input: messages, output: { role: 'assistant', content: chat.answer },
    modelParameters: { temperature: 0.2 },
    usageDetails: { input: 42, output: 18, total: 60 },
    costDetails: { input: 0.0004, output: 0.0002, total: COSTS['chat-completion'] },
  });
  retrieve.update({ output: { documents: 3 } });
  trace.generation({
    name: 'summarize', model: 'gpt-4o-mini', startTime: at(1000), endTime: at(1400),
    input: [{ role: 'user', content: 'Summarise the conversation.' }], output: 'Claim opened.',
    usageDetails: { input: 30, output: 5, total: 35 },
    costDetails: { input: 0.0003, output: 0.0001, total: COSTS.summarize },
  });
  trace.score({ name: 'helpfulness', value: 0.9, comment: 'resolved' });

  const other = lf.trace({ id: decoy.id, name: decoy.name, userId: decoy.userId, sessionId: decoy.sessionId, timestamp: at(50) });
  other.span({ name: 'decoy-step', startTime: at(60), endTime: at(70) });

  await lf.flushAsync();
  await lf.shutdownAsync();

  // Ingestion is asynchronous: wait until the public API reads everything back.
  const read = await pollUntil(
    async () => Promise.all([chat.id, decoy.id].map((id) =>
      api(srv, 'GET', `/api/public/traces/${id}`, { auth: basicAuth(key.publicKey, key.secretKey) }))),
    ([a, b]) => a.status === 200 && b.status === 200 && a.json.observations.length === 4
      && b.json.observations.length === 1 && a.json.scores?.length === 1,
    { timeoutMs: 30_000 },
  );
  assert.ok(Array.isArray(read), `the SDK's traces never became readable: ${show(read)}`);
  assert.equal(read[0].json.observations.length, 4, show(read[0]));
  assert.equal(read[1].json.observations.length, 1, show(read[1]));
}

/** The data rows of the traces table, by their accessible names ("Trace <name> <id>"). */
const traceRow = (p, id) => p.getByRole('table', { name: 'Traces' }).getByRole('row', { name: new RegExp(id) });
const dataRows = (p) => p.getByRole('table', { name: 'Traces' }).locator('tbody tr[tabindex]');

/** Only the chat trace is listed (the decoy is filtered out). */
async function onlyChatTraceListed(what) {
  await traceRow(page, decoy.id).waitFor({ state: 'detached' });
  await traceRow(page, chat.id).waitFor();
  await waitForCount(dataRows(page), 1, { what: `rows of the traces table filtered by ${what}` });
}

async function clearFilters() {
  // Clicked at once, while a filter field's delayed update may still be pending: clearing wins.
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await traceRow(page, decoy.id).waitFor();
  await traceRow(page, chat.id).waitFor();
}

describe('web UI flows in Chromium', { skip: skipWithoutChromium }, () => {
  before(async () => {
    srv = await startUiServer({ name: 'ui-flows' });
    browser = await launchBrowser();
    page = await newPage(browser);
  });

  after(async () => {
    await browser?.close();
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
  });

  it('serves the app: index.html for client routes (no-cache), hashed assets immutable and gzipped', async () => {
    for (const p of ['/', '/auth/sign-in', `/project/p-${run}/traces/t-${run}`]) {
      const res = await rawHttp(srv, { method: 'GET', path: p });
      assert.equal(res.status, 200, `${p}: ${res.status}`);
      assert.match(String(res.headers['content-type']), /^text\/html/, p);
      assert.match(String(res.headers['cache-control']), /no-cache/, p);
      assert.match(res.text, /<script[^>]+src="\/assets\/[^"]+\.js"/, p);
    }
    const index = await rawHttp(srv, { method: 'GET', path: '/' });
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.text)[1];
    const plain = await rawHttp(srv, { method: 'GET', path: script });
    assert.equal(plain.status, 200);
    assert.match(String(plain.headers['content-type']), /javascript/);
    assert.match(String(plain.headers['cache-control']), /max-age=31536000.*immutable|immutable.*max-age=31536000/);
    assert.equal(plain.headers['content-encoding'], undefined);
    const gz = await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: srv.port, path: script, headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString('utf8'), plain.text, 'the .gz asset is the same file');
    assert.ok(gz.body.length < Buffer.byteLength(plain.text), 'the gzip body is smaller');
    const missing = await rawHttp(srv, { method: 'GET', path: '/assets/no-such-file.js' });
    assert.notEqual(missing.status, 500);
    const unknownApi = await rawHttp(srv, { method: 'GET', path: '/api/ui/no-such-route' });
    assert.ok([401, 404].includes(unknownApi.status), `an unknown /api/ route is not the app: ${unknownApi.status}`);
    assert.doesNotMatch(unknownApi.text, /<html/i);
  });

  it('signs up from the sign-in page and lands on setup', async () => {
    await page.goto(srv.baseUrl + '/');
    await waitForPath(page, /^\/auth\/sign-in/);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await screenshot(page, SUITE, '01-sign-in');
    await page.getByRole('link', { name: 'Sign up' }).click();
    await waitForPath(page, /^\/auth\/sign-up/);
    await page.getByLabel('Name').fill(owner.name);
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(owner.password);
    await screenshot(page, SUITE, '02-sign-up');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await waitForPath(page, /^\/setup/);
    const session = await pageFetch(page, 'GET', '/api/ui/auth/session');
    assert.equal(session.status, 200, session.text);
    assert.equal(session.json.user.email, owner.email);
    assert.deepEqual(session.json.organizations, []);
    const cookies = await page.context().cookies();
    const cookie = cookies.find((c) => c.name === 'langfuse.session');
    assert.ok(cookie, `no langfuse.session cookie: ${JSON.stringify(cookies)}`);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal(await page.evaluate(() => document.cookie.includes('langfuse.session')), false, 'the session cookie is readable by scripts');
    assertNoPageErrors(page);
  });

  it('creates an organisation and a project', async () => {
    await page.getByLabel('Name').fill(`Org ${run}`);
    await screenshot(page, SUITE, '03-setup-organization');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('button', { name: 'Create project' }).waitFor();
    await page.getByLabel('Name').fill(`Project ${run}`);
    await screenshot(page, SUITE, '04-setup-project');
    await page.getByRole('button', { name: 'Create project' }).click();
    await waitForPath(page, /^\/project\/[^/]+/);
    projectId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
    const session = await pageFetch(page, 'GET', '/api/ui/auth/session');
    const org = session.json.organizations.find((o) => o.name === `Org ${run}`);
    assert.ok(org, `the new organisation is not in the session: ${session.text}`);
    assert.equal(org.role, 'OWNER');
    assert.deepEqual(org.projects.map((p) => [p.id, p.name]), [[projectId, `Project ${run}`]]);
    orgId = org.id;
    assertNoPageErrors(page);
  });

  it('creates an API key whose secret is shown once and which authenticates the public API', async () => {
    await page.goto(`${srv.baseUrl}/project/${projectId}/settings`);
    await page.getByRole('button', { name: 'Create API key' }).click();
    const publicKey = (await page.getByTestId('new-public-key').textContent()).trim();
    const secretKey = (await page.getByTestId('new-secret-key').textContent()).trim();
    assert.match(publicKey, /^pk-lf-/);
    assert.match(secretKey, /^sk-lf-/);
    key = { publicKey, secretKey };
    await screenshot(page, SUITE, '05-settings-new-key');

    // Listed in display form after a reload; the secret is nowhere on the page or in the list.
    await page.reload();
    const keys = page.getByRole('table', { name: 'API keys' });
    await keys.getByRole('row').filter({ hasText: publicKey }).waitFor();
    assert.equal((await page.content()).includes(secretKey), false, 'the secret key is shown again after a reload');
    const listed = await pageFetch(page, 'GET', `/api/ui/projects/${projectId}/api-keys`);
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.text.includes(secretKey), false, 'the key list carries the secret');
    const row = listed.json.data.find((k) => k.publicKey === publicKey);
    assert.ok(row, listed.text);
    assert.ok(await keys.getByText(row.displaySecretKey).count() > 0, `display form ${row.displaySecretKey} not shown`);
    await screenshot(page, SUITE, '06-settings');

    const projects = await api(srv, 'GET', '/api/public/projects', { auth: basicAuth(publicKey, secretKey) });
    assert.equal(projects.status, 200, show(projects));
    assert.deepEqual(projects.json.data.map((p) => p.id), [projectId]);
    assertNoPageErrors(page);
  });

  it('sends traces with the official langfuse SDK using that key', async () => {
    await sendTracesWithSdk();
  });

  it('finds the trace in the traces table by filters and by search', async () => {
    await page.goto(`${srv.baseUrl}/project/${projectId}/traces`);
    await traceRow(page, chat.id).waitFor();
    await traceRow(page, decoy.id).waitFor();
    await screenshot(page, SUITE, '07-traces');

    const filters = [
      ['Name', chat.name, 'name'],
      ['User', chat.userId, 'user'],
      ['Session', chat.sessionId, 'session'],
      ['Tags', `tag-${run}`, 'tags'],
    ];
    for (const [label, value, param] of filters) {
      const input = page.getByRole('group', { name: 'Filters' }).getByLabel(label, { exact: true });
      await input.fill(value);
      await input.press('Enter');
      await page.waitForURL((u) => u.searchParams.get(param) === value);
      await onlyChatTraceListed(label);
      if (label === 'Name') await screenshot(page, SUITE, '08-traces-filtered-by-name');
      await clearFilters();
    }

    // Metadata key and value together.
    await page.getByLabel('Metadata key').fill('channel');
    await page.getByLabel('Metadata key').press('Enter');
    await page.getByLabel('Metadata value').fill('web');
    await page.getByLabel('Metadata value').press('Enter');
    await page.waitForURL((u) => u.searchParams.get('mk') === 'channel' && u.searchParams.get('mv') === 'web');
    await onlyChatTraceListed('metadata');
    await clearFilters();

    // Search by a part of the id, then by content (a word only the chat trace's input has).
    const search = page.getByRole('searchbox', { name: 'Search traces' });
    await search.fill(chat.id.slice(0, 20));
    await page.waitForURL((u) => u.searchParams.get('q') === chat.id.slice(0, 20));
    await onlyChatTraceListed('id search');
    await search.fill('parcel');
    await page.waitForURL((u) => u.searchParams.get('q') === 'parcel');
    await waitForCount(dataRows(page), 0, { what: 'rows for a name/id search matching nothing' });
    await page.getByRole('checkbox', { name: 'Include input and output' }).check();
    await page.waitForURL((u) => u.searchParams.get('searchType') === 'content');
    await onlyChatTraceListed('content search');
    await screenshot(page, SUITE, '09-traces-searched');

    // The filtered view is in the URL: a fresh page with it shows the same rows.
    const shared = await newPage(browser);
    await shared.context().addCookies(await page.context().cookies());
    await shared.goto(page.url());
    await traceRow(shared, chat.id).waitFor();
    await waitForCount(dataRows(shared), 1, { what: 'rows of the shared filtered URL' });
    await shared.context().close();
    await clearFilters();
    assertNoPageErrors(page);
  });

  it('opens the trace: observation tree and chat messages', async () => {
    await traceRow(page, chat.id).click();
    await waitForPath(page, new RegExp(`^/project/${projectId}/traces/${chat.id}$`));
    const tree = page.getByRole('tree', { name: 'Observations' });
    const items = tree.getByRole('treeitem');
    await waitForCount(items, (n) => n >= Object.keys(OBSERVATIONS).length, { what: 'treeitems' });
    const levels = {};
    for (const name of Object.keys(OBSERVATIONS)) {
      const item = items.filter({ hasText: new RegExp(`\\b${name}(?![\\w-]*[a-z])`) });
      assert.equal(await item.count(), 1, `one treeitem for ${name} in ${JSON.stringify(await items.allTextContents())}`);
      levels[name] = Number(await item.getAttribute('aria-level'));
    }
    for (const [name, parent] of Object.entries(OBSERVATIONS)) {
      if (parent) assert.equal(levels[name], levels[parent] + 1, `${name} is nested under ${parent}: ${JSON.stringify(levels)}`);
    }
    assert.equal(levels.retrieve, levels.summarize, `retrieve and summarize are siblings: ${JSON.stringify(levels)}`);

    // The trace's chat-shaped input is shown as messages.
    const input = page.getByRole('region', { name: 'Input' });
    const messages = input.getByRole('list', { name: 'Messages' }).getByRole('article');
    await waitForCount(messages, 2, { what: 'messages of the trace input' });
    assert.match(await messages.nth(0).textContent(), new RegExp(chat.system.replace(/\./g, '\\.')));
    assert.match(await messages.nth(0).textContent(), /system/i);
    assert.match(await messages.nth(1).textContent(), new RegExp(`parcel ${run}`));
    assert.match(await messages.nth(1).textContent(), /user/i);
    await screenshot(page, SUITE, '10-trace');

    // A generation's details, fetched when its row is opened: model and its own chat input.
    await items.filter({ hasText: /chat-completion/ }).click();
    await page.getByText('gpt-4o-mini').first().waitFor();
    const genMessages = page.getByRole('region', { name: 'Input' }).getByRole('list', { name: 'Messages' }).getByRole('article');
    await waitForCount(genMessages, 2, { what: 'messages of the generation input' });
    await screenshot(page, SUITE, '11-trace-generation');

    // The public API's htmlPath opens the same page.
    const read = await api(srv, 'GET', `/api/public/traces/${chat.id}`, { auth: basicAuth(key.publicKey, key.secretKey) });
    assert.equal(read.json.htmlPath, `/project/${projectId}/traces/${chat.id}`);
    await page.goto(srv.baseUrl + read.json.htmlPath);
    await waitForCount(page.getByRole('tree', { name: 'Observations' }).getByRole('treeitem'),
      (n) => n >= Object.keys(OBSERVATIONS).length, { what: 'treeitems at htmlPath' });
    assertNoPageErrors(page);
  });

  it('opens the trace\'s session as a conversation, and the sessions, users and scores pages', async () => {
    await page.getByRole('link', { name: chat.sessionId, exact: true }).first().click();
    await waitForPath(page, new RegExp(`^/project/${projectId}/sessions/${chat.sessionId}$`));
    const turn = page.getByRole('article', { name: new RegExp(chat.name) });
    await turn.waitFor();
    await turn.getByText(new RegExp(`parcel ${run}`)).first().waitFor();
    assert.equal(await page.getByRole('article', { name: new RegExp(decoy.name) }).count(), 0, 'the decoy is not in this session');
    await screenshot(page, SUITE, '12-session');

    await page.goto(`${srv.baseUrl}/project/${projectId}/sessions`);
    const sessions = page.getByRole('table', { name: 'Sessions' });
    await sessions.getByRole('link', { name: chat.sessionId, exact: true }).waitFor();
    await sessions.getByRole('link', { name: decoy.sessionId, exact: true }).waitFor();
    await screenshot(page, SUITE, '13-sessions');

    await page.goto(`${srv.baseUrl}/project/${projectId}/users`);
    const users = page.getByRole('table', { name: 'Users' });
    await users.getByRole('row').filter({ hasText: chat.userId }).first().waitFor();
    await screenshot(page, SUITE, '14-users');

    await page.goto(`${srv.baseUrl}/project/${projectId}/scores`);
    await page.getByRole('table').getByText('helpfulness').first().waitFor();
    await screenshot(page, SUITE, '15-scores');
    assertNoPageErrors(page);
  });

  it('shows dashboard totals equal to the metrics API\'s for the same range', async () => {
    const dashboardResponse = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/ui/projects/${projectId}/dashboard`);
    await page.goto(`${srv.baseUrl}/project/${projectId}`);
    const request = new URL((await dashboardResponse).url());
    const from = request.searchParams.get('fromTimestamp');
    const to = request.searchParams.get('toTimestamp');
    assert.ok(from && to, `the dashboard asked for no range: ${request}`);
    assert.ok(Date.parse(to) - Date.parse(from) >= 6.9 * 86_400_000, `the default range is 7 days: ${from}..${to}`);

    const value = async (id) => {
      const el = page.getByTestId(id);
      await el.waitFor();
      return Number(await el.getAttribute('data-value'));
    };
    const shown = { traces: await value('total-traces'), observations: await value('total-observations'), cost: await value('total-cost') };
    await screenshot(page, SUITE, '16-dashboard');

    const auth = basicAuth(key.publicKey, key.secretKey);
    const metrics = async (query) => {
      const res = await api(srv, 'GET', `/api/public/metrics?query=${encodeURIComponent(JSON.stringify({ fromTimestamp: from, toTimestamp: to, ...query }))}`, { auth });
      assert.equal(res.status, 200, show(res));
      return res.json.data[0] ?? {};
    };
    const traces = await metrics({ view: 'traces', metrics: [{ measure: 'count', aggregation: 'count' }] });
    const observations = await metrics({ view: 'observations', metrics: [{ measure: 'count', aggregation: 'count' }, { measure: 'totalCost', aggregation: 'sum' }] });
    const fromMetrics = { traces: Number(traces.count_count), observations: Number(observations.count_count), cost: Number(observations.sum_totalCost) };

    const daily = await api(srv, 'GET', `/api/public/metrics/daily?fromTimestamp=${encodeURIComponent(from)}&toTimestamp=${encodeURIComponent(to)}`, { auth });
    assert.equal(daily.status, 200, show(daily));
    const fromDaily = daily.json.data.reduce((s, d) => ({
      traces: s.traces + d.countTraces, observations: s.observations + d.countObservations, cost: s.cost + d.totalCost,
    }), { traces: 0, observations: 0, cost: 0 });

    const expectedCost = Object.values(COSTS).reduce((a, b) => a + b, 0);
    const round = (o) => ({ ...o, cost: Math.round(o.cost * 1e9) / 1e9 });
    assert.deepEqual(round(shown), round({ traces: 2, observations: TOTAL_OBSERVATIONS, cost: expectedCost }), 'the dashboard shows what was sent');
    assert.deepEqual(round(shown), round(fromMetrics), 'dashboard vs /api/public/metrics');
    assert.deepEqual(round(shown), round(fromDaily), 'dashboard vs /api/public/metrics/daily');
    assertNoPageErrors(page);
  });

  it('adds a VIEWER member who cannot create or revoke keys (no button, and 403 from the server)', async () => {
    viewerPage = await newPage(browser);
    await signUpByApi(viewerPage, srv.baseUrl, viewer);

    await page.goto(`${srv.baseUrl}/project/${projectId}/settings`);
    const members = page.getByRole('region', { name: 'Organization members' });
    await members.getByLabel('Email').fill(viewer.email);
    await members.getByLabel('Role').selectOption('VIEWER');
    await members.getByRole('button', { name: 'Add member' }).click();
    await members.getByRole('table', { name: 'Members' }).getByRole('row').filter({ hasText: viewer.email }).waitFor();
    await screenshot(page, SUITE, '17-settings-members');

    await viewerPage.goto(`${srv.baseUrl}/project/${projectId}/settings`);
    const keys = viewerPage.getByRole('table', { name: 'API keys' });
    await keys.getByRole('row').filter({ hasText: key.publicKey }).waitFor();
    assert.equal(await viewerPage.getByRole('button', { name: 'Create API key' }).count(), 0, 'a viewer sees Create API key');
    assert.equal(await viewerPage.getByRole('button', { name: 'Revoke' }).count(), 0, 'a viewer sees Revoke');
    assert.equal(await viewerPage.getByRole('button', { name: 'Add member' }).count(), 0, 'a viewer sees Add member');
    await screenshot(viewerPage, SUITE, '18-settings-as-viewer');

    // The server refuses, with a valid CSRF token: the role decides, not the hidden button.
    const created = await pageFetch(viewerPage, 'POST', `/api/ui/projects/${projectId}/api-keys`, { body: { note: 'by viewer' }, csrf: true });
    assert.equal(created.status, 403, created.text);
    const listed = await pageFetch(viewerPage, 'GET', `/api/ui/projects/${projectId}/api-keys`);
    assert.equal(listed.status, 200, listed.text);
    const keyId = listed.json.data.find((k) => k.publicKey === key.publicKey).id;
    const revoked = await pageFetch(viewerPage, 'DELETE', `/api/ui/projects/${projectId}/api-keys/${keyId}`, { csrf: true });
    assert.equal(revoked.status, 403, revoked.text);
    const promoted = await pageFetch(viewerPage, 'POST', `/api/ui/organizations/${orgId}/members`, { body: { email: viewer.email, role: 'ADMIN' }, csrf: true });
    assert.equal(promoted.status, 403, promoted.text);
    const keysNow = await pageFetch(page, 'GET', `/api/ui/projects/${projectId}/api-keys`);
    assert.deepEqual(keysNow.json.data.map((k) => k.publicKey), [key.publicKey], 'the keys are unchanged');

    // Reading is allowed: the viewer sees the traces.
    await viewerPage.goto(`${srv.baseUrl}/project/${projectId}/traces`);
    await traceRow(viewerPage, chat.id).waitFor();
    assertNoPageErrors(viewerPage);
  });

  it('needs the CSRF token for an owner too, and revokes a key through the confirm dialog', async () => {
    const noToken = await pageFetch(page, 'POST', `/api/ui/projects/${projectId}/api-keys`, { body: { note: 'no token' } });
    assert.equal(noToken.status, 403, noToken.text);
    const wrongToken = await pageFetch(page, 'POST', `/api/ui/projects/${projectId}/api-keys`, { body: { note: 'wrong token' }, csrf: 'not-the-token' });
    assert.equal(wrongToken.status, 403, wrongToken.text);
    const created = await pageFetch(page, 'POST', `/api/ui/projects/${projectId}/api-keys`, { body: { note: 'to revoke' }, csrf: true });
    assert.equal(created.status, 201, created.text);
    const extra = created.json;
    const extraAuth = basicAuth(extra.publicKey, extra.secretKey);
    assert.equal((await api(srv, 'GET', '/api/public/projects', { auth: extraAuth })).status, 200);

    await page.goto(`${srv.baseUrl}/project/${projectId}/settings`);
    const row = page.getByRole('table', { name: 'API keys' }).getByRole('row').filter({ hasText: extra.publicKey });
    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor();
    await screenshot(page, SUITE, '19-settings-revoke-dialog');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await row.waitFor({ state: 'detached' });
    const rejected = await pollUntil(() => api(srv, 'GET', '/api/public/projects', { auth: extraAuth }), (r) => r.status === 401);
    assert.equal(rejected.status, 401, `a revoked key still authenticates: ${show(rejected)}`);
    assert.equal((await api(srv, 'GET', '/api/public/projects', { auth: basicAuth(key.publicKey, key.secretKey) })).status, 200,
      'the other key keeps working');
    assertNoPageErrors(page);
  });

  it('signs out; protected pages then redirect to sign-in and the API answers 401', async () => {
    await page.goto(`${srv.baseUrl}/project/${projectId}/traces`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await waitForPath(page, /^\/auth\/sign-in/);
    await screenshot(page, SUITE, '20-signed-out');
    for (const p of ['/setup', `/project/${projectId}/settings`, `/project/${projectId}`, `/project/${projectId}/traces/${chat.id}`, `/project/${projectId}/traces`]) {
      await page.goto(srv.baseUrl + p);
      await waitForPath(page, /^\/auth\/sign-in/);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    }
    assert.equal((await pageFetch(page, 'GET', '/api/ui/auth/session')).status, 401);
    assert.equal((await pageFetch(page, 'GET', `/api/ui/projects/${projectId}/traces`)).status, 401);

    // Signing in again works and returns to the project.
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(owner.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForPath(page, new RegExp(`^/project/${projectId}`));
    assertNoPageErrors(page);
  });
});
