// The web UI's tracing data routes (docs/ui-api.md, "Tracing data") end to end: a user signs up,
// creates an organisation, a project and an API key through the UI's account routes, ingests a
// fixture through the public ingestion API with that key, then reads every data route with the
// session cookie. Also: 401 without a session, 404 for another user's project, 400 for bad
// parameters, and the dashboard's totals equal the public metrics API's answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import {
  api, basicAuth, cleanupTmp, ev, ingestOk, ISO_MS_RE, pollUntil, startServer, uid,
} from './harness.mjs';

async function signUp(server, email) {
  const res = await api(server, 'POST', '/api/ui/auth/signup', {
    auth: null, body: { name: 'Data Tester', email, password: 'correct horse battery' },
  });
  assert.equal(res.status, 201, res.text);
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  assert.match(cookie, /^langfuse\.session=/);
  const session = await api(server, 'GET', '/api/ui/auth/session', { auth: null, headers: { Cookie: cookie } });
  assert.equal(session.status, 200, session.text);
  return { cookie, csrf: session.json.csrfToken };
}

function ui(server, user, method, path, body) {
  const headers = { Cookie: user.cookie };
  if (method !== 'GET') headers['X-CSRF-Token'] = user.csrf;
  return api(server, method, path, { auth: null, headers, body });
}

async function createProject(server, user, name) {
  const org = await ui(server, user, 'POST', '/api/ui/organizations', { name: `${name} org` });
  assert.equal(org.status, 201, org.text);
  const project = await ui(server, user, 'POST', `/api/ui/organizations/${org.json.id}/projects`, { name });
  assert.equal(project.status, 201, project.text);
  const key = await ui(server, user, 'POST', `/api/ui/projects/${project.json.id}/api-keys`, { note: 'e2e' });
  assert.equal(key.status, 201, key.text);
  return { id: project.json.id, auth: basicAuth(key.json.publicKey, key.json.secretKey) };
}

describe('UI data routes', () => {
  let server;
  let user;
  let project;
  let base;
  const t0 = Date.now() - 30 * 60_000;
  const iso = (ms) => new Date(ms).toISOString();
  const ids = { t1: uid('t1-'), t2: uid('t2-'), t3: uid('t3-') };
  const session = uid('session-');
  const session2 = uid('session2-');

  before(async () => {
    server = await startServer({ name: 'ui-data' });
    user = await signUp(server, `${uid('data-')}@example.com`);
    project = await createProject(server, user, 'Data project');
    base = `/api/ui/projects/${project.id}`;
    const gen = (id, traceId, start, ms, extra) => ev('generation-create', {
      id, traceId, name: 'llm-call', startTime: iso(start), endTime: iso(start + ms), model: 'gpt-4o',
      usageDetails: { input: 10, output: 5, total: 15 }, costDetails: { input: 0.2, output: 0.3, total: 0.5 }, ...extra,
    });
    await ingestOk(server, [
      ev('trace-create', {
        id: ids.t1, timestamp: iso(t0), name: 'chat', userId: 'alice', sessionId: session,
        metadata: { team: 'red' }, tags: ['prod'], input: { messages: [{ role: 'user', content: 'Hello Needle' }] },
        output: 'plain answer',
      }),
      ev('trace-create', { id: ids.t2, timestamp: iso(t0 + 60_000), name: 'Chat', userId: 'bob', sessionId: session }),
      ev('trace-create', {
        id: ids.t3, timestamp: iso(t0 + 120_000), name: 'agent', userId: 'alice', sessionId: session2, metadata: { team: 'blue' },
      }),
      gen(`${ids.t1}-g1`, ids.t1, t0, 2000, { level: 'ERROR', input: { big: 'x'.repeat(1000) } }),
      gen(`${ids.t1}-g2`, ids.t1, t0 + 100, 500),
      gen(`${ids.t2}-g1`, ids.t2, t0 + 60_000, 4000, { level: 'WARNING' }),
      ev('score-create', { id: uid('s-'), traceId: ids.t1, name: 'quality', value: 0.9, dataType: 'NUMERIC' }),
    ], { auth: project.auth });
    const listed = await pollUntil(
      () => ui(server, user, 'GET', `${base}/traces`),
      (r) => r.status === 200 && r.json.meta.totalItems === 3 && r.json.data.some((t) => t.observationCount === 2)
        && r.json.data.some((t) => t.scores.length === 1),
      { timeoutMs: 20_000 },
    );
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.meta.totalItems, 3, listed.text);
  });

  after(async () => {
    await server?.stop();
    cleanupTmp(server);
  });

  it('lists traces with aggregates, scores and paging meta', async () => {
    const res = await ui(server, user, 'GET', `${base}/traces`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.data.map((t) => t.id), [ids.t3, ids.t2, ids.t1]);
    assert.deepEqual(res.json.meta, { page: 1, limit: 50, totalItems: 3, totalPages: 1 });
    const t1 = res.json.data[2];
    assert.match(t1.timestamp, ISO_MS_RE);
    assert.equal(t1.name, 'chat');
    assert.equal(t1.userId, 'alice');
    assert.equal(t1.sessionId, session);
    assert.deepEqual(t1.tags, ['prod']);
    assert.equal(t1.environment, 'default');
    assert.equal(t1.level, 'ERROR');
    assert.equal(t1.latency, 2);
    assert.ok(Math.abs(t1.totalCost - 1.0) < 1e-9, String(t1.totalCost));
    assert.equal(t1.inputTokens, 20);
    assert.equal(t1.outputTokens, 10);
    assert.equal(t1.totalTokens, 30);
    assert.equal(t1.observationCount, 2);
    assert.deepEqual(t1.scores, [{ name: 'quality', value: 0.9, stringValue: null, dataType: 'NUMERIC' }]);
    assert.equal(res.json.data[1].level, 'WARNING');
    assert.equal(res.json.data[0].observationCount, 0);
    assert.equal('input' in t1, false);

    const page2 = await ui(server, user, 'GET', `${base}/traces?page=2&limit=2`);
    assert.deepEqual(page2.json.data.map((t) => t.id), [ids.t1]);
    assert.deepEqual(page2.json.meta, { page: 2, limit: 2, totalItems: 3, totalPages: 2 });
  });

  it('orders, searches and filters traces', async () => {
    const order = async (q) => (await ui(server, user, 'GET', `${base}/traces?${q}`)).json.data.map((t) => t.id);
    assert.deepEqual(await order('orderBy=timestamp.asc'), [ids.t1, ids.t2, ids.t3]);
    assert.deepEqual(await order('orderBy=latency.desc'), [ids.t2, ids.t1, ids.t3]);
    assert.deepEqual(await order('orderBy=totalCost.desc'), [ids.t1, ids.t2, ids.t3]);
    assert.deepEqual(await order('orderBy=totalTokens.asc'), [ids.t3, ids.t2, ids.t1]);
    assert.deepEqual(await order('orderBy=name.asc'), [ids.t2, ids.t3, ids.t1]);
    assert.deepEqual(await order('search=CHAT'), [ids.t2, ids.t1]);
    assert.deepEqual(await order('search=needle'), []);
    assert.deepEqual(await order('search=needle&searchType=content'), [ids.t1]);
    const meta = encodeURIComponent(JSON.stringify([
      { type: 'stringObject', column: 'metadata', key: 'team', operator: '=', value: 'red' }]));
    assert.deepEqual(await order(`filter=${meta}`), [ids.t1]);
    const level = encodeURIComponent(JSON.stringify([
      { type: 'stringOptions', column: 'level', operator: 'any of', value: ['WARNING'] }]));
    assert.deepEqual(await order(`filter=${level}`), [ids.t2]);
    assert.deepEqual(await order(`fromTimestamp=${iso(t0 + 30_000)}&toTimestamp=${iso(t0 + 90_000)}`), [ids.t2]);
  });

  it('answers 400 for bad parameters', async () => {
    for (const q of ['page=0', 'limit=101', 'limit=abc', 'orderBy=input.desc', 'orderBy=timestamp.up',
      'fromTimestamp=yesterday', 'filter=notjson', 'searchType=everything',
      `filter=${encodeURIComponent('[{"type":"string","column":"nope","operator":"=","value":"x"}]')}`]) {
      const res = await ui(server, user, 'GET', `${base}/traces?${q}`);
      assert.equal(res.status, 400, `${q}: ${res.text}`);
      assert.equal(typeof res.json.message, 'string');
    }
    const dash = await ui(server, user, 'GET', `${base}/dashboard`);
    assert.equal(dash.status, 400, dash.text);
    assert.match(dash.json.message, /fromTimestamp/);
  });

  it('offers filter options', async () => {
    const res = await ui(server, user, 'GET', `${base}/traces/filter-options`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { names: ['Chat', 'agent', 'chat'], tags: ['prod'], environments: ['default'], users: ['alice', 'bob'] });
  });

  it('shows a trace with light observations and one observation in full', async () => {
    const res = await ui(server, user, 'GET', `${base}/traces/${ids.t1}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.trace.input, { messages: [{ role: 'user', content: 'Hello Needle' }] });
    assert.equal(res.json.trace.output, 'plain answer');
    assert.deepEqual(res.json.trace.metadata, { team: 'red' });
    assert.equal(res.json.observations.length, 2);
    const g1 = res.json.observations[0];
    assert.deepEqual(Object.keys(g1).sort(), ['completionStartTime', 'costDetails', 'endTime', 'id', 'latency', 'level',
      'model', 'name', 'parentObservationId', 'startTime', 'statusMessage', 'totalCost', 'traceId', 'type', 'usageDetails']);
    assert.equal(g1.id, `${ids.t1}-g1`);
    assert.equal(g1.type, 'GENERATION');
    assert.equal(g1.latency, 2);
    assert.equal(g1.usageDetails.total, 15);
    assert.equal(res.json.scores.length, 1);

    const full = await ui(server, user, 'GET', `${base}/traces/${ids.t1}/observations/${ids.t1}-g1`);
    assert.equal(full.status, 200, full.text);
    assert.deepEqual(full.json.input, { big: 'x'.repeat(1000) });
    assert.equal(full.json.model, 'gpt-4o');
    assert.ok('modelParameters' in full.json && 'promptName' in full.json && 'metadata' in full.json);

    assert.equal((await ui(server, user, 'GET', `${base}/traces/nope`)).status, 404);
    assert.equal((await ui(server, user, 'GET', `${base}/traces/${ids.t2}/observations/${ids.t1}-g1`)).status, 404);
  });

  it('lists sessions and shows one', async () => {
    const res = await ui(server, user, 'GET', `${base}/sessions`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.meta.totalItems, 2);
    assert.deepEqual(res.json.data.map((x) => x.id), [session2, session]);
    const s = res.json.data[1];
    assert.equal(s.id, session);
    assert.equal(s.createdAt, iso(t0));
    assert.equal(s.lastTraceAt, iso(t0 + 60_000));
    assert.equal(s.traceCount, 2);
    assert.deepEqual(s.userIds, ['alice', 'bob']);
    assert.ok(Math.abs(s.totalCost - 1.5) < 1e-9);
    assert.equal(s.totalTokens, 45);
    const one = await ui(server, user, 'GET', `${base}/sessions/${encodeURIComponent(session)}`);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(one.json.traces.map((t) => t.id), [ids.t1, ids.t2]);
    assert.equal(one.json.traces[0].output, 'plain answer');
    assert.equal(one.json.traces[1].latency, 4);
    assert.equal((await ui(server, user, 'GET', `${base}/sessions/nope`)).status, 404);
  });

  it('orders and filters sessions on the server', async () => {
    const order = async (q) => {
      const res = await ui(server, user, 'GET', `${base}/sessions?${q}`);
      assert.equal(res.status, 200, `${q}: ${res.text}`);
      return res.json.data.map((x) => x.id);
    };
    // session: t1 (t0) and t2 (t0 + 1 min), cost 1.5; session2: t3 (t0 + 2 min) alone, no cost.
    assert.deepEqual(await order('orderBy=createdAt.asc'), [session, session2]);
    assert.deepEqual(await order('orderBy=createdAt'), [session2, session]);
    assert.deepEqual(await order('orderBy=lastTraceAt.desc'), [session2, session]);
    assert.deepEqual(await order('orderBy=traceCount.desc'), [session, session2]);
    assert.deepEqual(await order('orderBy=traceCount.asc'), [session2, session]);
    assert.deepEqual(await order('orderBy=totalCost.desc'), [session, session2]);
    assert.deepEqual(await order('orderBy=totalCost.asc'), [session2, session]);
    assert.deepEqual(await order('orderBy=totalTokens.asc'), [session2, session]);
    assert.deepEqual(await order('orderBy=id.asc'), [session, session2].sort());
    const byCost = await ui(server, user, 'GET', `${base}/sessions?orderBy=totalCost.desc&limit=1`);
    assert.deepEqual(byCost.json.meta, { page: 1, limit: 1, totalItems: 2, totalPages: 2 });
    assert.equal(byCost.json.data[0].totalTokens, 45);
    assert.deepEqual(await order(`search=${encodeURIComponent(session2.toUpperCase())}`), [session2]);
    assert.deepEqual(await order(`fromTimestamp=${iso(t0 + 30_000)}&toTimestamp=${iso(t0 + 90_000)}`), [session]);
    const windowed = await ui(server, user, 'GET', `${base}/sessions?fromTimestamp=${iso(t0 + 30_000)}`);
    assert.equal(windowed.json.data.find((x) => x.id === session).traceCount, 1);
  });

  it('orders and filters users on the server', async () => {
    const order = async (q) => {
      const res = await ui(server, user, 'GET', `${base}/users?${q}`);
      assert.equal(res.status, 200, `${q}: ${res.text}`);
      return res.json.data.map((x) => x.userId);
    };
    // alice: t1, t3 (last at t0 + 2 min), 2 observations, cost 1.0; bob: t2 (t0 + 1 min), 1, 0.5.
    assert.deepEqual(await order(''), ['alice', 'bob']);
    assert.deepEqual(await order('orderBy=lastTrace.asc'), ['bob', 'alice']);
    assert.deepEqual(await order('orderBy=firstTrace.desc'), ['bob', 'alice']);
    assert.deepEqual(await order('orderBy=traceCount.asc'), ['bob', 'alice']);
    assert.deepEqual(await order('orderBy=observationCount.desc'), ['alice', 'bob']);
    assert.deepEqual(await order('orderBy=totalTokens.asc'), ['bob', 'alice']);
    assert.deepEqual(await order('orderBy=totalCost.asc'), ['bob', 'alice']);
    assert.deepEqual(await order('orderBy=totalCost.desc'), ['alice', 'bob']);
    assert.deepEqual(await order('orderBy=userId.desc'), ['bob', 'alice']);
    assert.deepEqual(await order('search=BO'), ['bob']);
    assert.deepEqual(await order(`toTimestamp=${iso(t0 + 30_000)}`), ['alice']);
  });

  it('answers 400 naming the parameter for bad session and user list parameters', async () => {
    const cases = [
      ['sessions', 'orderBy=userIds.asc', /orderBy.*userIds/],
      ['sessions', 'orderBy=lastTrace.desc', /orderBy.*lastTraceAt/],
      ['sessions', 'orderBy=totalCost.sideways', /orderBy/],
      ['sessions', 'orderBy=totalCost.desc%3B%20DROP%20TABLE%20traces', /orderBy/],
      ['sessions', 'fromTimestamp=soon', /fromTimestamp/],
      ['sessions', `fromTimestamp=${iso(t0 + 1000)}&toTimestamp=${iso(t0)}`, /fromTimestamp/],
      ['sessions', 'limit=0', /limit/],
      ['users', 'orderBy=createdAt.asc', /orderBy.*createdAt/],
      ['users', 'orderBy=.asc', /orderBy/],
      ['users', 'toTimestamp=2024-13-45', /toTimestamp/],
      ['users', 'page=-1', /page/],
      ['users', `search=${'x'.repeat(1001)}`, /search/],
    ];
    for (const [route, q, message] of cases) {
      const res = await ui(server, user, 'GET', `${base}/${route}?${q}`);
      assert.equal(res.status, 400, `${route}?${q}: ${res.text}`);
      assert.match(res.headers.get('content-type'), /application\/json/);
      assert.match(res.json.message, message, `${route}?${q}`);
    }
  });

  it('lists users', async () => {
    const res = await ui(server, user, 'GET', `${base}/users`);
    assert.equal(res.status, 200, res.text);
    const alice = res.json.data.find((u) => u.userId === 'alice');
    assert.deepEqual(alice, {
      userId: 'alice', traceCount: 2, observationCount: 2, totalTokens: 30, totalCost: alice.totalCost,
      firstTrace: iso(t0), lastTrace: iso(t0 + 120_000),
    });
    assert.ok(Math.abs(alice.totalCost - 1.0) < 1e-9);
    assert.equal(res.json.meta.totalItems, 2);
  });

  it('lists scores with the trace name', async () => {
    const res = await ui(server, user, 'GET', `${base}/scores?name=quality`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.data.length, 1);
    assert.equal(res.json.data[0].traceName, 'chat');
    assert.equal(res.json.data[0].value, 0.9);
    assert.equal((await ui(server, user, 'GET', `${base}/scores?dataType=NOPE`)).status, 400);
  });

  it('dashboard totals equal the public metrics API', async () => {
    const from = iso(t0 - 3_600_000);
    const to = iso(t0 + 3_600_000);
    const res = await ui(server, user, 'GET', `${base}/dashboard?fromTimestamp=${from}&toTimestamp=${to}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.totals.traces, 3);
    assert.equal(res.json.totals.observations, 3);
    const metrics = async (query) => {
      const r = await api(server, 'GET', `/api/public/metrics?query=${encodeURIComponent(JSON.stringify(query))}`,
        { auth: project.auth });
      assert.equal(r.status, 200, r.text);
      return r.json.data[0];
    };
    const traces = await metrics({ view: 'traces', metrics: [{ measure: 'count', aggregation: 'count' }], dimensions: [],
      filters: [], fromTimestamp: from, toTimestamp: to });
    assert.equal(Number(traces.count_count), res.json.totals.traces);
    const obs = await metrics({ view: 'observations', dimensions: [], filters: [], fromTimestamp: from, toTimestamp: to,
      metrics: [{ measure: 'count', aggregation: 'count' }, { measure: 'totalCost', aggregation: 'sum' }] });
    assert.equal(Number(obs.count_count), res.json.totals.observations);
    assert.ok(Math.abs(Number(obs.sum_totalCost) - res.json.totals.totalCost) < 1e-9);
    assert.ok(Math.abs(res.json.totals.totalCost - 1.5) < 1e-9);
    const daily = await api(server, 'GET', `/api/public/metrics/daily?fromTimestamp=${from}&toTimestamp=${to}`,
      { auth: project.auth });
    assert.equal(daily.status, 200, daily.text);
    const sum = (k) => daily.json.data.reduce((a, d) => a + d[k], 0);
    assert.equal(sum('countTraces'), res.json.totals.traces);
    assert.equal(sum('countObservations'), res.json.totals.observations);
    // Hour buckets over a two-hour window; every bucket an ISO time.
    assert.ok(res.json.tracesOverTime.length >= 2);
    for (const b of res.json.tracesOverTime) assert.match(b.time, ISO_MS_RE);
    assert.equal(res.json.tracesOverTime.reduce((a, b) => a + b.count, 0), 3);
    assert.ok(res.json.costByModel.some((c) => c.model === 'gpt-4o'));
    assert.equal(res.json.latencyByName[0].name, 'llm-call');
    assert.equal(res.json.latencyByName[0].count, 3);
    assert.deepEqual(res.json.scores.map((s) => [s.name, s.dataType, s.avg, s.count]), [['quality', 'NUMERIC', 0.9, 1]]);
    const week = await ui(server, user, 'GET', `${base}/dashboard?fromTimestamp=${iso(t0 - 7 * 86_400_000)}&toTimestamp=${to}`);
    assert.equal(week.status, 200, week.text);
    assert.equal(week.json.granularity, 'day');
    assert.ok(week.json.tracesOverTime.every((b) => b.time.endsWith('T00:00:00.000Z')));
  });

  it('401 without a session, 404 for another user\'s project', async () => {
    for (const path of ['/traces', '/traces/filter-options', `/traces/${ids.t1}`, '/sessions', '/users', '/scores',
      `/dashboard?fromTimestamp=${iso(t0)}&toTimestamp=${iso(t0 + 1000)}`]) {
      const anonymous = await api(server, 'GET', base + path, { auth: null });
      assert.equal(anonymous.status, 401, `${path}: ${anonymous.text}`);
    }
    const other = await signUp(server, `${uid('other-')}@example.com`);
    for (const path of ['/traces', `/traces/${ids.t1}`, `/traces/${ids.t1}/observations/${ids.t1}-g1`, '/sessions',
      `/sessions/${session}`, '/users', '/scores', '/traces/filter-options',
      `/dashboard?fromTimestamp=${iso(t0)}&toTimestamp=${iso(t0 + 1000)}`]) {
      const res = await ui(server, other, 'GET', base + path);
      assert.equal(res.status, 404, `${path}: ${res.text}`);
    }
    // The other user's own empty project reads as empty, not as the first one's data.
    const own = await createProject(server, other, 'Other project');
    const res = await ui(server, other, 'GET', `/api/ui/projects/${own.id}/traces`);
    assert.equal(res.status, 200);
    assert.equal(res.json.meta.totalItems, 0);
  });
});

// The app's static files on the wire: strong ETags, If-None-Match -> 304, HEAD without a body
// (the connection stays usable after it). A private UI directory with known bytes.
describe('UI static files: ETag, 304 and HEAD', () => {
  let server;
  let uiDir;
  const index = '<!doctype html><title>etag test</title>';
  const js = `console.log(${JSON.stringify('x'.repeat(2000))});`;
  const tagOf = (bytes) => `"${crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;

  before(async () => {
    uiDir = fs.mkdtempSync(path.join(process.env.LANGFUSE_TEST_TMP || os.tmpdir(), 'lf-ui-etag-'));
    fs.mkdirSync(path.join(uiDir, 'assets'));
    fs.writeFileSync(path.join(uiDir, 'index.html'), index);
    fs.writeFileSync(path.join(uiDir, 'assets', 'app-1.js'), js);
    fs.writeFileSync(path.join(uiDir, 'assets', 'app-1.js.gz'), zlib.gzipSync(js));
    server = await startServer({ name: 'ui-static', env: { LANGFUSE_UI_DIR: uiDir } });
  });

  after(async () => {
    await server?.stop();
    cleanupTmp(server);
    if (uiDir) fs.rmSync(uiDir, { recursive: true, force: true });
  });

  const get = (p, headers = {}, method = 'GET') => fetch(server.baseUrl + p, { method, headers });

  it('answers a strong ETag and 304 to If-None-Match, per representation', async () => {
    const first = await get('/project/p1/traces', { 'Accept-Encoding': 'identity' });
    assert.equal(first.status, 200);
    assert.equal(await first.text(), index);
    const tag = first.headers.get('etag');
    assert.equal(tag, tagOf(index));
    assert.equal(first.headers.get('cache-control'), 'no-cache');

    const again = await get('/', { 'If-None-Match': tag });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    assert.equal(again.headers.get('etag'), tag);
    assert.equal(again.headers.get('cache-control'), 'no-cache');
    assert.equal((await get('/', { 'If-None-Match': `"stale", W/${tag}` })).status, 304);
    const stale = await get('/', { 'If-None-Match': '"stale"' });
    assert.equal(stale.status, 200);
    assert.equal(await stale.text(), index);

    // The gzip form has its own tag; fetch() unzips, so the bytes are checked through the tag.
    const gz = await get('/assets/app-1.js', { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    assert.equal(await gz.text(), js);
    const gzTag = gz.headers.get('etag');
    assert.equal(gzTag, tagOf(fs.readFileSync(path.join(uiDir, 'assets', 'app-1.js.gz'))));
    const plain = await get('/assets/app-1.js', { 'Accept-Encoding': 'identity' });
    assert.equal(plain.headers.get('etag'), tagOf(js));
    assert.notEqual(gzTag, tagOf(js));
    const gz304 = await get('/assets/app-1.js', { 'Accept-Encoding': 'gzip', 'If-None-Match': gzTag });
    assert.equal(gz304.status, 304);
    assert.equal(gz304.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(gz304.headers.get('vary'), /Accept-Encoding/);
    assert.equal((await get('/assets/app-1.js', { 'Accept-Encoding': 'identity', 'If-None-Match': gzTag })).status, 200);

    // Rebuilt in place: the old tag no longer matches.
    fs.writeFileSync(path.join(uiDir, 'index.html'), `${index}<!-- v2 -->`);
    const rebuilt = await get('/', { 'If-None-Match': tag });
    assert.equal(rebuilt.status, 200);
    assert.equal(rebuilt.headers.get('etag'), tagOf(`${index}<!-- v2 -->`));
    fs.writeFileSync(path.join(uiDir, 'index.html'), index);
  });

  it('answers HEAD as GET without a body, and the connection stays usable', async () => {
    // On one raw keep-alive connection: HEAD, then GET. A body after HEAD would be read as the
    // start of the GET's answer.
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => { received = Buffer.concat([received, chunk]); });
    const waitFor = async (pred) => {
      const deadline = Date.now() + 10_000;
      while (!pred(received.toString('latin1'))) {
        assert.ok(Date.now() < deadline, `no complete answer: ${received.toString('latin1').slice(0, 500)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const request = (method) => socket.write(
      `${method} /assets/app-1.js HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n`);
    try {
      request('HEAD');
      await waitFor((t) => t.includes('\r\n\r\n'));
      await new Promise((r) => setTimeout(r, 200));  // a body, if any, would arrive meanwhile
      const head = received.toString('latin1');
      const [status, ...lines] = head.split('\r\n\r\n')[0].split('\r\n');
      const rest = head.slice(head.indexOf('\r\n\r\n') + 4);
      const header = (name) => lines.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      assert.match(status, /^HTTP\/1\.1 200 /);
      assert.equal(header('content-length'), String(Buffer.byteLength(js)));
      assert.equal(header('etag'), tagOf(js));
      assert.match(header('content-type'), /^text\/javascript/);
      assert.equal(rest, '', 'HEAD answered with body bytes');

      received = Buffer.alloc(0);
      request('GET');
      await waitFor((t) => t.includes('\r\n\r\n') && t.split('\r\n\r\n')[1].length >= Buffer.byteLength(js));
      const [getHeaders, body] = received.toString('latin1').split('\r\n\r\n');
      assert.match(getHeaders, /^HTTP\/1\.1 200 /);
      assert.equal(body, js);
    } finally {
      socket.destroy();
    }
    const head304 = await get('/', { 'If-None-Match': tagOf(index) }, 'HEAD');
    assert.equal(head304.status, 304);
    const head404 = await get('/assets/missing-2.js', {}, 'HEAD');
    assert.equal(head404.status, 404);
    assert.equal(await head404.text(), '');
  });
});
