// The public read API over tracing data: GET /api/public/traces (every filter, ordering, paging,
// field groups, per-trace aggregates), GET /api/public/sessions[/{id}], DELETE /api/public/traces
// [/{id}], the two-project isolation matrix, and the SDK calls that use these routes (legacy
// `langfuse` fetchTraces/fetchSessions, `@langfuse/client` api.trace.list / api.sessions.*).
//
// One server, two projects (A initialised first, B by a restart; init is additive). The fixture
// is ingested through POST /api/public/ingestion and read back asynchronously (polled).

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Langfuse } from 'langfuse';
import { LangfuseClient } from '@langfuse/client';
import {
  startServer, cleanupTmp, makeProject, basicAuth, api, ev, ingestOk, pollUntil, show, ISO_MS_RE,
  withServerLogs,
} from './harness.mjs';

let srv;
const projA = makeProject('a');
const projB = makeProject('b');
const authA = basicAuth(projA.publicKey, projA.secretKey);
const authB = basicAuth(projB.publicKey, projB.secretKey);
const it = withServerLogs(baseIt, () => [srv]);

const BASE = Date.parse('2024-03-01T10:00:00.000Z');
const MIN = 60_000;
const iso = (ms) => new Date(ms).toISOString();

// Project A: six traces one minute apart (ta1 oldest), every filterable field varied.
//   id   name   user  session version release env         tags
//   ta1  chat   u1    sA      v1      r1      default     [x]
//   ta2  chat   u2    sA      v2      r1      production  [x, y]
//   ta3  agent  u1    sB      v1      r2      production  [y]
//   ta4  agent  -     -       -       -       staging     []
//   ta5  chat   u1    sB      v1      r1      default     [x, y, z]   + 2 observations, 2 scores
//   ta6  solo   u3    sC      v3      r3      default     [z]
const A = [
  { id: 'ta1', name: 'chat', userId: 'u1', sessionId: 'sA', version: 'v1', release: 'r1', tags: ['x'] },
  { id: 'ta2', name: 'chat', userId: 'u2', sessionId: 'sA', version: 'v2', release: 'r1', environment: 'production', tags: ['x', 'y'] },
  { id: 'ta3', name: 'agent', userId: 'u1', sessionId: 'sB', version: 'v1', release: 'r2', environment: 'production', tags: ['y'] },
  { id: 'ta4', name: 'agent', environment: 'staging', tags: [] },
  { id: 'ta5', name: 'chat', userId: 'u1', sessionId: 'sB', version: 'v1', release: 'r1', tags: ['x', 'y', 'z'] },
  { id: 'ta6', name: 'solo', userId: 'u3', sessionId: 'sC', version: 'v3', release: 'r3', tags: ['z'] },
].map((t, i) => ({ ...t, timestamp: iso(BASE + i * MIN), input: { q: `question ${i + 1}` }, output: `answer ${i + 1}`, metadata: { n: i + 1 } }));

// Project B: the same id ta1 and session id sA as project A, plus a trace of its own.
const B = [
  { id: 'ta1', name: 'chat', userId: 'u1', sessionId: 'sA', tags: ['x'], timestamp: iso(BASE), input: 'b input' },
  { id: 'tb-only', name: 'chat', userId: 'u1', sessionId: 'sB-only', tags: ['x'], timestamp: iso(BASE + MIN) },
];

const ALL_A_DESC = ['ta6', 'ta5', 'ta4', 'ta3', 'ta2', 'ta1'];

function qs(query) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.append(k, String(v));
  }
  return p.toString();
}

function listTraces(query = {}, auth = authA) {
  return api(srv, 'GET', `/api/public/traces?${qs(query)}`, { auth });
}

async function listIds(query = {}, auth = authA) {
  const res = await listTraces(query, auth);
  assert.equal(res.status, 200, `GET /traces?${qs(query)}: ${show(res)}`);
  return res.json.data.map((t) => t.id);
}

function listSessions(query = {}, auth = authA) {
  return api(srv, 'GET', `/api/public/sessions?${qs(query)}`, { auth });
}

function assertInvalidRequestData(res, what) {
  assert.equal(res.status, 400, `${what}: ${show(res)}`);
  assert.equal(res.json?.message, 'Invalid request data', `${what}: ${show(res)}`);
  assert.ok(Array.isArray(res.json.error) && res.json.error.length > 0, `${what}: error must list zod issues: ${show(res)}`);
}

before(async () => {
  srv = await startServer({ name: 'read-traces', project: projA });
  await srv.restart({ project: projB });

  const genStart = BASE + 4 * MIN;
  await ingestOk(srv, [
    ...A.map((t) => ev('trace-create', t)),
    ev('span-create', { id: 'oa5-span', traceId: 'ta5', name: 'root', startTime: iso(genStart), endTime: iso(genStart + 2500) }),
    ev('generation-create', {
      id: 'oa5-gen', traceId: 'ta5', parentObservationId: 'oa5-span', name: 'llm', startTime: iso(genStart + 500),
      endTime: iso(genStart + 3250), model: 'e2e-unpriced', costDetails: { input: 0.1, output: 0.2 },
    }),
    ev('score-create', { id: 'sa5-1', traceId: 'ta5', name: 'quality', value: 0.9 }),
    ev('score-create', { id: 'sa5-2', traceId: 'ta5', name: 'label', value: 'good', dataType: 'CATEGORICAL' }),
  ], { auth: authA });
  await ingestOk(srv, [
    ...B.map((t) => ev('trace-create', t)),
    ev('span-create', { id: 'ob-span', traceId: 'ta1', name: 'b-span', startTime: iso(BASE) }),
  ], { auth: authB });

  const ready = await pollUntil(
    async () => [await listTraces({ limit: 100 }, authA), await listTraces({ limit: 100 }, authB)],
    ([a, b]) => a.status === 200 && b.status === 200 && a.json.meta?.totalItems === 6 && b.json.meta?.totalItems === 2 &&
      a.json.data.find((t) => t.id === 'ta5')?.observations?.length === 2 &&
      a.json.data.find((t) => t.id === 'ta5')?.scores?.length === 2 &&
      b.json.data.find((t) => t.id === 'ta1')?.observations?.length === 1,
    { timeoutMs: 15_000 },
  );
  if (!Array.isArray(ready)) throw new Error(`fixture not readable: ${ready?.pollError?.message}`);
  assert.equal(ready[0].json?.meta?.totalItems, 6, `project A fixture not readable: ${show(ready[0])}`);
  assert.equal(ready[1].json?.meta?.totalItems, 2, `project B fixture not readable: ${show(ready[1])}`);
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

// ---------------------------------------------------------------------------------------------
describe('GET /api/public/traces', () => {
  it('lists every trace newest first with Langfuse\'s item shape and meta', async () => {
    const res = await listTraces();
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json.meta, { page: 1, limit: 50, totalItems: 6, totalPages: 1 });
    assert.deepEqual(res.json.data.map((t) => t.id), ALL_A_DESC);
    const t2 = res.json.data.find((t) => t.id === 'ta2');
    const expected = {
      id: 'ta2', projectId: projA.projectId, timestamp: iso(BASE + MIN), name: 'chat', input: { q: 'question 2' },
      output: 'answer 2', sessionId: 'sA', release: 'r1', version: 'v2', userId: 'u2', metadata: { n: 2 },
      tags: ['x', 'y'], public: false, bookmarked: false, environment: 'production', externalId: null,
      htmlPath: `/project/${projA.projectId}/traces/ta2`, observations: [], scores: [], latency: 0, totalCost: 0,
    };
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(t2[k], v, `field ${k} of ${JSON.stringify(t2)}`);
    assert.match(t2.createdAt, ISO_MS_RE);
    assert.match(t2.updatedAt, ISO_MS_RE);
    const t4 = res.json.data.find((t) => t.id === 'ta4');
    for (const k of ['userId', 'sessionId', 'release', 'version']) assert.equal(t4[k], null, `ta4.${k}`);
    assert.equal(res.json.data.find((t) => t.id === 'ta1').environment, 'default');
  });

  it('computes observations, scores, latency and totalCost per trace as GET /traces/{id} does', async () => {
    const [list, one] = await Promise.all([listTraces({ name: 'chat', userId: 'u1', tags: 'z' }), api(srv, 'GET', '/api/public/traces/ta5', { auth: authA })]);
    assert.equal(list.status, 200, show(list));
    assert.equal(one.status, 200, show(one));
    assert.equal(list.json.data.length, 1);
    const item = list.json.data[0];
    assert.deepEqual(item.observations, ['oa5-span', 'oa5-gen'], 'observation ids ordered by start time');
    assert.deepEqual([...item.scores].sort(), ['sa5-1', 'sa5-2']);
    assert.deepEqual([...item.observations].sort(), one.json.observations.map((o) => o.id).sort());
    assert.deepEqual([...item.scores].sort(), one.json.scores.map((s) => s.id).sort());
    assert.ok(Math.abs(item.latency - 3.25) < 1e-9, `latency ${item.latency}`);
    assert.ok(Math.abs(item.latency - one.json.latency) < 1e-9, `list ${item.latency} vs single ${one.json.latency}`);
    assert.ok(Math.abs(item.totalCost - 0.3) < 1e-9, `totalCost ${item.totalCost}`);
    assert.ok(Math.abs(item.totalCost - one.json.totalCost) < 1e-9);
  });

  it('filters on userId, name, sessionId, version and release', async () => {
    assert.deepEqual(await listIds({ userId: 'u1' }), ['ta5', 'ta3', 'ta1']);
    assert.deepEqual(await listIds({ name: 'agent' }), ['ta4', 'ta3']);
    assert.deepEqual(await listIds({ sessionId: 'sA' }), ['ta2', 'ta1']);
    assert.deepEqual(await listIds({ version: 'v1' }), ['ta5', 'ta3', 'ta1']);
    assert.deepEqual(await listIds({ release: 'r1' }), ['ta5', 'ta2', 'ta1']);
    assert.deepEqual(await listIds({ userId: 'nobody' }), []);
    const combined = await listTraces({ userId: 'u1', name: 'chat', release: 'r1', version: 'v1', sessionId: 'sB' });
    assert.deepEqual(combined.json.data.map((t) => t.id), ['ta5']);
    assert.equal(combined.json.meta.totalItems, 1);
  });

  it('tags: repeated or comma-separated, a trace must carry all of them', async () => {
    assert.deepEqual(await listIds({ tags: 'x' }), ['ta5', 'ta2', 'ta1']);
    assert.deepEqual(await listIds({ tags: ['x', 'y'] }), ['ta5', 'ta2']);
    assert.deepEqual(await listIds({ tags: 'x,y' }), ['ta5', 'ta2']);
    assert.deepEqual(await listIds({ tags: ['x', 'y', 'z'] }), ['ta5']);
    assert.deepEqual(await listIds({ tags: ['x', 'nope'] }), []);
  });

  it('environment: repeated or comma-separated, any of them', async () => {
    assert.deepEqual(await listIds({ environment: 'production' }), ['ta3', 'ta2']);
    assert.deepEqual(await listIds({ environment: ['staging', 'production'] }), ['ta4', 'ta3', 'ta2']);
    assert.deepEqual(await listIds({ environment: 'staging,default' }), ['ta6', 'ta5', 'ta4', 'ta1']);
    assert.deepEqual(await listIds({ environment: 'nope' }), []);
  });

  it('fromTimestamp is inclusive, toTimestamp exclusive; offsets are honoured', async () => {
    assert.deepEqual(await listIds({ fromTimestamp: iso(BASE + 4 * MIN) }), ['ta6', 'ta5']);
    assert.deepEqual(await listIds({ toTimestamp: iso(BASE + 2 * MIN) }), ['ta2', 'ta1']);
    assert.deepEqual(await listIds({ fromTimestamp: iso(BASE + MIN), toTimestamp: iso(BASE + 3 * MIN) }), ['ta3', 'ta2']);
    assert.deepEqual(await listIds({ fromTimestamp: '2024-03-01T11:02:00+01:00', toTimestamp: '2024-03-01T10:03:00.000001Z' }), ['ta3']);
  });

  it('invalid timestamps are 400 Invalid request data', async () => {
    for (const bad of ['yesterday', '2024-03-01T10:00:00', '2024-13-01T00:00:00Z', '']) {
      assertInvalidRequestData(await listTraces({ fromTimestamp: bad }), `fromTimestamp=${bad}`);
    }
    assertInvalidRequestData(await listTraces({ toTimestamp: '1709287200000' }), 'toTimestamp as epoch ms');
  });

  it('orderBy: every allowed column, asc/desc in any case; others are 400', async () => {
    assert.deepEqual(await listIds({ orderBy: 'timestamp.asc' }), [...ALL_A_DESC].reverse());
    assert.deepEqual(await listIds({ orderBy: 'timestamp.desc' }), ALL_A_DESC);
    assert.deepEqual(await listIds({ orderBy: 'id.DESC' }), ALL_A_DESC);
    assert.deepEqual(await listIds({ orderBy: 'name.asc' }), ['ta3', 'ta4', 'ta1', 'ta2', 'ta5', 'ta6']);
    assert.deepEqual(await listIds({ orderBy: 'userId.asc' }), ['ta1', 'ta3', 'ta5', 'ta2', 'ta6', 'ta4']);
    assert.deepEqual(await listIds({ orderBy: 'sessionId.desc' }), ['ta6', 'ta5', 'ta3', 'ta2', 'ta1', 'ta4']);
    for (const col of ['release', 'version', 'public', 'bookmarked']) {
      assert.equal((await listIds({ orderBy: `${col}.asc` })).length, 6, col);
    }
    const badColumn = await listTraces({ orderBy: 'latency.asc' });
    assert.equal(badColumn.status, 400, show(badColumn));
    assert.equal(badColumn.json.message, 'Invalid order by column: latency');
    assertInvalidRequestData(await listTraces({ orderBy: 'timestamp.sideways' }), 'bad direction');
    assertInvalidRequestData(await listTraces({ orderBy: 'timestamp' }), 'no direction');
  });

  it('pagination: pages, the last partial page, an empty page past the end', async () => {
    const pages = [];
    for (let page = 1; page <= 4; page++) {
      const res = await listTraces({ limit: 4, page });
      assert.equal(res.status, 200, show(res));
      assert.deepEqual(res.json.meta, { page, limit: 4, totalItems: 6, totalPages: 2 });
      pages.push(res.json.data.map((t) => t.id));
    }
    assert.deepEqual(pages, [['ta6', 'ta5', 'ta4', 'ta3'], ['ta2', 'ta1'], [], []]);
    const one = await listTraces({ limit: 1, page: 6 });
    assert.deepEqual(one.json.data.map((t) => t.id), ['ta1']);
    assert.deepEqual(one.json.meta, { page: 6, limit: 1, totalItems: 6, totalPages: 6 });
    const max = await listTraces({ limit: 100 });
    assert.equal(max.status, 200, show(max));
    const filteredEmpty = await listTraces({ userId: 'nobody' });
    assert.deepEqual(filteredEmpty.json.meta, { page: 1, limit: 50, totalItems: 0, totalPages: 0 });
  });

  it('pagination edges outside the allowed range are 400 Invalid request data', async () => {
    for (const [q, what] of [
      [{ limit: 0 }, 'limit 0'], [{ limit: 101 }, 'limit 101'], [{ page: 0 }, 'page 0'], [{ page: -1 }, 'page -1'],
      [{ limit: 'ten' }, 'limit NaN'], [{ limit: 2.5 }, 'limit 2.5'], [{ page: 'x' }, 'page NaN'],
    ]) {
      assertInvalidRequestData(await listTraces(q), what);
    }
    const res = await listTraces({ limit: 101, page: 0 });
    assert.equal(res.json.error.length, 2, `both issues listed: ${show(res)}`);
    assert.deepEqual(res.json.error.map((e) => e.path[0]).sort(), ['limit', 'page']);
  });

  it('fields: omitted groups come back empty (lists), -1 (metrics) or null/{} (io)', async () => {
    const core = await listTraces({ fields: 'core', userId: 'u1', tags: 'z' });
    assert.equal(core.status, 200, show(core));
    const c = core.json.data[0];
    assert.deepEqual(
      { observations: c.observations, scores: c.scores, latency: c.latency, totalCost: c.totalCost, input: c.input, output: c.output, metadata: c.metadata },
      { observations: [], scores: [], latency: -1, totalCost: -1, input: null, output: null, metadata: {} },
    );
    assert.equal(c.name, 'chat');
    assert.equal(c.htmlPath, `/project/${projA.projectId}/traces/ta5`);
    const some = await listTraces({ fields: 'core, io,scores,metrics,unknown', userId: 'u1', tags: 'z' });
    const s = some.json.data[0];
    assert.deepEqual(s.input, { q: 'question 5' });
    assert.deepEqual(s.metadata, { n: 5 });
    assert.equal(s.scores.length, 2);
    assert.deepEqual(s.observations, []);
    assert.ok(s.latency > 3);
    const all = await listTraces({ fields: 'nonsense', userId: 'u1', tags: 'z' });
    assert.equal(all.json.data[0].observations.length, 2, 'only unknown groups = every group');
    // GET /traces/{id} takes the same groups.
    const one = await api(srv, 'GET', '/api/public/traces/ta5?fields=core,scores', { auth: authA });
    assert.equal(one.status, 200, show(one));
    assert.deepEqual(
      { observations: one.json.observations, latency: one.json.latency, totalCost: one.json.totalCost, input: one.json.input, metadata: one.json.metadata },
      { observations: [], latency: -1, totalCost: -1, input: null, metadata: {} },
    );
    assert.equal(one.json.scores.length, 2);
  });

  it('answers 401 without a valid key', async () => {
    const res = await listTraces({}, basicAuth(projA.publicKey, 'sk-lf-wrong'));
    assert.equal(res.status, 401, show(res));
    assert.equal(typeof res.json?.message, 'string');
  });
});

// ---------------------------------------------------------------------------------------------
describe('GET /api/public/sessions', () => {
  it('lists the sessions derived from traces, newest first', async () => {
    const res = await listSessions();
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json, {
      data: [
        { id: 'sC', createdAt: iso(BASE + 5 * MIN), projectId: projA.projectId, environment: 'default' },
        { id: 'sB', createdAt: iso(BASE + 2 * MIN), projectId: projA.projectId, environment: 'production' },
        { id: 'sA', createdAt: iso(BASE), projectId: projA.projectId, environment: 'default' },
      ],
      meta: { page: 1, limit: 50, totalItems: 3, totalPages: 1 },
    });
  });

  it('filters on createdAt and environment, and pages', async () => {
    const ids = async (q) => {
      const r = await listSessions(q);
      assert.equal(r.status, 200, show(r));
      return r.json.data.map((s) => s.id);
    };
    assert.deepEqual(await ids({ fromTimestamp: iso(BASE + 2 * MIN) }), ['sC', 'sB']);
    assert.deepEqual(await ids({ toTimestamp: iso(BASE + 2 * MIN) }), ['sA']);
    assert.deepEqual(await ids({ environment: 'production' }), ['sB']);
    assert.deepEqual(await ids({ environment: ['default', 'staging'] }), ['sC', 'sA']);
    const p2 = await listSessions({ limit: 2, page: 2 });
    assert.deepEqual(p2.json.data.map((s) => s.id), ['sA']);
    assert.deepEqual(p2.json.meta, { page: 2, limit: 2, totalItems: 3, totalPages: 2 });
    const p3 = await listSessions({ limit: 2, page: 3 });
    assert.deepEqual(p3.json.data, []);
    assertInvalidRequestData(await listSessions({ limit: 0 }), 'sessions limit 0');
    assertInvalidRequestData(await listSessions({ limit: 101 }), 'sessions limit 101');
    assertInvalidRequestData(await listSessions({ page: 0 }), 'sessions page 0');
    assertInvalidRequestData(await listSessions({ fromTimestamp: 'soon' }), 'sessions bad timestamp');
  });

  it('GET /sessions/{id} returns the session with its traces; unknown ids are 404', async () => {
    const res = await api(srv, 'GET', '/api/public/sessions/sB', { auth: authA });
    assert.equal(res.status, 200, show(res));
    assert.equal(res.json.id, 'sB');
    assert.equal(res.json.projectId, projA.projectId);
    assert.equal(res.json.createdAt, iso(BASE + 2 * MIN));
    assert.equal(res.json.environment, 'production');
    assert.deepEqual(res.json.traces.map((t) => t.id), ['ta3', 'ta5']);
    const t = res.json.traces[1];
    assert.deepEqual(
      { name: t.name, input: t.input, output: t.output, userId: t.userId, sessionId: t.sessionId, timestamp: t.timestamp, externalId: t.externalId },
      { name: 'chat', input: { q: 'question 5' }, output: 'answer 5', userId: 'u1', sessionId: 'sB', timestamp: iso(BASE + 4 * MIN), externalId: null },
    );
    const missing = await api(srv, 'GET', '/api/public/sessions/no-such-session', { auth: authA });
    assert.equal(missing.status, 404, show(missing));
    assert.equal(missing.json.message, 'Session not found within authorized project');
  });
});

// ---------------------------------------------------------------------------------------------
describe('SDKs', () => {
  it('legacy langfuse fetchTraces / fetchSessions / fetchTrace', async () => {
    const lf = new Langfuse({ publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl, fetchRetryCount: 0 });
    try {
      // The legacy SDK sends arrays as "x,y" and Dates as ISO strings.
      const traces = await lf.fetchTraces({ userId: 'u1', tags: ['x', 'y'], fromTimestamp: new Date(BASE), limit: 10, orderBy: 'timestamp.asc' });
      assert.deepEqual(traces.data.map((t) => t.id), ['ta5']);
      assert.deepEqual(traces.meta, { page: 1, limit: 10, totalItems: 1, totalPages: 1 });
      const sessions = await lf.fetchSessions({ limit: 2 });
      assert.deepEqual(sessions.data.map((s) => s.id), ['sC', 'sB']);
      assert.equal(sessions.meta.totalItems, 3);
      const one = await lf.fetchTrace('ta3');
      assert.equal(one.data.id, 'ta3');
    } finally {
      await lf.shutdownAsync();
    }
  });

  it('@langfuse/client api.trace.list and api.sessions.list/get', async () => {
    const client = new LangfuseClient({ publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl });
    const list = await client.api.trace.list({ tags: ['x', 'y'], environment: ['default', 'production'], orderBy: 'timestamp.asc', limit: 5 });
    assert.deepEqual(list.data.map((t) => t.id), ['ta2', 'ta5']);
    assert.deepEqual(list.meta, { page: 1, limit: 5, totalItems: 2, totalPages: 1 });
    const core = await client.api.trace.list({ fields: 'core', page: 2, limit: 4 });
    assert.deepEqual(core.data.map((t) => [t.id, t.latency, t.totalCost]), [['ta2', -1, -1], ['ta1', -1, -1]]);
    const sessions = await client.api.sessions.list({ environment: ['production'] });
    assert.deepEqual(sessions.data.map((s) => s.id), ['sB']);
    const session = await client.api.sessions.get('sA');
    assert.deepEqual(session.traces.map((t) => t.id), ['ta1', 'ta2']);
    await assert.rejects(client.api.trace.list({ limit: 101 }), (e) => e.statusCode === 400);
  });
});

// ---------------------------------------------------------------------------------------------
describe('project isolation', () => {
  it('each key lists, counts and reads only its own project', async () => {
    const b = await listTraces({ limit: 100 }, authB);
    assert.deepEqual(b.json.data.map((t) => t.id), ['tb-only', 'ta1']);
    assert.equal(b.json.meta.totalItems, 2);
    const bTa1 = b.json.data.find((t) => t.id === 'ta1');
    assert.equal(bTa1.input, 'b input');
    assert.equal(bTa1.htmlPath, `/project/${projB.projectId}/traces/ta1`);
    assert.deepEqual(bTa1.observations, ['ob-span']);
    const aTa1 = (await listTraces({ userId: 'u1', tags: 'x', orderBy: 'timestamp.asc', limit: 1 })).json.data[0];
    assert.equal(aTa1.id, 'ta1');
    assert.deepEqual(aTa1.input, { q: 'question 1' });
    assert.deepEqual(aTa1.observations, []);
    assert.deepEqual(await listIds({ sessionId: 'sB-only' }, authA), []);
    assert.deepEqual(await listIds({ sessionId: 'sA' }, authB), ['ta1']);
  });

  it('404 for the other project\'s trace and session ids', async () => {
    const problems = [];
    for (const [auth, path] of [
      [authA, '/api/public/traces/tb-only'], [authB, '/api/public/traces/ta2'],
      [authA, '/api/public/sessions/sB-only'], [authB, '/api/public/sessions/sC'],
    ]) {
      const r = await api(srv, 'GET', path, { auth });
      if (r.status !== 404) problems.push(`${path} with ${auth === authA ? 'A' : 'B'}: ${show(r)}`);
    }
    assert.deepEqual(problems, []);
    const aSessions = await listSessions({}, authA);
    assert.ok(!aSessions.json.data.some((s) => s.id === 'sB-only'));
    const bSessions = await listSessions({}, authB);
    assert.deepEqual(bSessions.json.data.map((s) => [s.id, s.projectId]), [['sB-only', projB.projectId], ['sA', projB.projectId]]);
    const bSa = await api(srv, 'GET', '/api/public/sessions/sA', { auth: authB });
    assert.deepEqual(bSa.json.traces.map((t) => t.id), ['ta1']);
  });

  it('deleting with one project\'s key never touches the other project', async () => {
    const res = await api(srv, 'DELETE', '/api/public/traces/ta2', { auth: authB });
    assert.equal(res.status, 200, show(res));
    const multi = await api(srv, 'DELETE', '/api/public/traces', { auth: authB, body: { traceIds: ['ta3', 'ta5'] } });
    assert.equal(multi.status, 200, show(multi));
    for (const id of ['ta2', 'ta3', 'ta5']) {
      const r = await api(srv, 'GET', `/api/public/traces/${id}`, { auth: authA });
      assert.equal(r.status, 200, `${id} must survive B's delete: ${show(r)}`);
    }
    assert.equal((await listTraces({}, authA)).json.meta.totalItems, 6);
  });
});

// ---------------------------------------------------------------------------------------------
describe('DELETE /api/public/traces', () => {
  it('validates the body as Langfuse does', async () => {
    for (const [body, what] of [
      [{}, 'no traceIds'], [{ traceIds: [] }, 'empty list'], [{ traceIds: 'ta1' }, 'not a list'],
      [{ traceIds: [1] }, 'not strings'], [{ traceIds: ['ta1'], extra: true }, 'unknown key'],
      [{ traceIds: Array.from({ length: 1001 }, (_, i) => `t${i}`) }, '1001 ids'], ['not json', 'not JSON'],
    ]) {
      const res = await api(srv, 'DELETE', '/api/public/traces', { auth: authA, body });
      assertInvalidRequestData(res, what);
    }
    assert.equal((await listTraces()).json.meta.totalItems, 6, 'nothing deleted by invalid requests');
  });

  it('DELETE /traces/{id} removes the trace with its observations and scores; B\'s same id stays', async () => {
    const res = await api(srv, 'DELETE', '/api/public/traces/ta5', { auth: authA });
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json, { message: 'Trace deleted successfully' });
    const gone = await api(srv, 'GET', '/api/public/traces/ta5', { auth: authA });
    assert.equal(gone.status, 404, show(gone));
    for (const path of ['/api/public/observations/oa5-span', '/api/public/observations/oa5-gen', '/api/public/scores/sa5-1']) {
      const r = await api(srv, 'GET', path, { auth: authA });
      assert.equal(r.status, 404, `${path}: ${show(r)}`);
    }
    const list = await listTraces();
    assert.deepEqual(list.json.data.map((t) => t.id), ['ta6', 'ta4', 'ta3', 'ta2', 'ta1']);
    assert.equal(list.json.meta.totalItems, 5);
    // Unknown ids are not an error (Langfuse answers 200 and deletes nothing).
    const unknown = await api(srv, 'DELETE', '/api/public/traces/never-existed', { auth: authA });
    assert.equal(unknown.status, 200, show(unknown));
  });

  it('DELETE /traces {traceIds} removes several at once; a session without traces disappears', async () => {
    const res = await api(srv, 'DELETE', '/api/public/traces', { auth: authA, body: { traceIds: ['ta1', 'ta6', 'unknown-id'] } });
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json, { message: 'Traces deleted successfully' });
    assert.deepEqual(await listIds(), ['ta4', 'ta3', 'ta2']);
    const sC = await api(srv, 'GET', '/api/public/sessions/sC', { auth: authA });
    assert.equal(sC.status, 404, show(sC));
    const sessions = await listSessions();
    assert.deepEqual(sessions.json.data.map((s) => [s.id, s.createdAt]), [['sB', iso(BASE + 2 * MIN)], ['sA', iso(BASE + MIN)]]);
    // Project B's ta1 is still there.
    const b = await api(srv, 'GET', '/api/public/traces/ta1', { auth: authB });
    assert.equal(b.status, 200, show(b));
    assert.equal(b.json.input, 'b input');
  });
});
