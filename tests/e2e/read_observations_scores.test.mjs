// The public read API over observations and scores, and score configs (contracts §2, §4):
// GET /api/public/observations (every filter, paging), GET /api/public/scores (v1),
// GET /api/public/v2/scores, GET /scores/{id}, /v2/scores/{id}, the score-configs routes, scores
// validated against their config on POST /api/public/scores, isolation between two projects, and
// what the legacy `langfuse` SDK and `@langfuse/client` call for these.
//
// One server holds both projects (the second is initialised by a restart). The fixture is
// ingested once through POST /api/public/ingestion; reads poll until the worker wrote it.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Langfuse } from 'langfuse';
import { LangfuseClient } from '@langfuse/client';
import {
  startServer, cleanupTmp, makeProject, basicAuth, api, ev, ingestOk, uid, pollUntil, show, withServerLogs,
} from './harness.mjs';
import { expectFields, isIso, ofType } from './expect.mjs';

let srv;
const projA = makeProject('a');
const projB = makeProject('b');
let authA;
let authB;
const it = withServerLogs(baseIt, () => [srv]);

const run = uid('').slice(0, 8);
const id = (name) => `${name}-${run}`;
const base = Math.floor((Date.now() - 10 * 60_000) / 1000) * 1000; // whole second, ten minutes ago
const at = (s) => new Date(base + s * 1000).toISOString();

// Project A: two traces, four observations, four scores. Project B: one trace that reuses an id
// of project A, one observation and one score of its own.
const ids = {
  tA1: id('trace-a1'), tA2: id('trace-a2'),
  root: id('obs-root'), gen: id('obs-gen'), event: id('obs-event'), tool: id('obs-tool'),
  sNum: id('score-num'), sBool: id('score-bool'), sCat: id('score-cat'), sSess: id('score-sess'),
  session: id('sess'),
  oB: id('obs-b'), sB: id('score-b'),
};

const get = (path, auth = authA) => api(srv, 'GET', path, { auth });
const qs = (params) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, v);
  }
  return u.toString();
};
const listObs = (params = {}, auth = authA) => get(`/api/public/observations?${qs(params)}`, auth);
const listV1 = (params = {}, auth = authA) => get(`/api/public/scores?${qs(params)}`, auth);
const listV2 = (params = {}, auth = authA) => get(`/api/public/v2/scores?${qs(params)}`, auth);
const idsOf = (res) => (res.json?.data || []).map((x) => x.id);

async function expect400(res, what) {
  assert.equal(res.status, 400, `${what}: ${show(res)}`);
  assert.equal(typeof res.json?.message, 'string', `${what}: JSON error body: ${show(res)}`);
}

before(async () => {
  srv = await startServer({ name: 'read-obs-scores', project: projA });
  await srv.restart({ project: projB }); // both projects' keys exist from now on
  authA = basicAuth(projA.publicKey, projA.secretKey);
  authB = basicAuth(projB.publicKey, projB.secretKey);

  await ingestOk(srv, [
    ev('trace-create', { id: ids.tA1, name: 'a1', userId: 'user-a', tags: ['x', 'y'], environment: 'prod', timestamp: at(0), sessionId: ids.session }),
    ev('trace-create', { id: ids.tA2, name: 'a2', userId: 'user-b', tags: ['x'], environment: 'dev', timestamp: at(0) }),
    ev('span-create', { id: ids.root, traceId: ids.tA1, name: 'root', startTime: at(1), endTime: at(5), environment: 'prod', version: 'v1', input: { q: 1 } }),
    ev('generation-create', {
      id: ids.gen, traceId: ids.tA1, parentObservationId: ids.root, name: 'llm', startTime: at(2), endTime: at(3),
      completionStartTime: at(2.5), level: 'ERROR', statusMessage: 'boom', version: 'v2', environment: 'prod',
      model: 'e2e-model', modelParameters: { temperature: 0.1 }, usageDetails: { input: 10, output: 5, total: 15 },
    }),
    ev('event-create', { id: ids.event, traceId: ids.tA2, parentObservationId: 'no-such-parent', name: 'ev', startTime: at(3), level: 'WARNING', environment: 'dev' }),
    ev('tool-create', { id: ids.tool, traceId: ids.tA2, name: 'root', startTime: at(4), level: 'DEBUG', environment: 'dev' }),
    ev('score-create', { id: ids.sNum, traceId: ids.tA1, name: 'quality', value: 0.9, environment: 'prod', timestamp: at(1), comment: 'good one', metadata: { k: 'v' } }),
    ev('score-create', { id: ids.sBool, traceId: ids.tA1, observationId: ids.gen, name: 'correct', value: 1, dataType: 'BOOLEAN', environment: 'prod', timestamp: at(2), source: 'EVAL' }),
    ev('score-create', { id: ids.sCat, traceId: ids.tA2, observationId: ids.event, name: 'tone', value: 'good', environment: 'dev', timestamp: at(3) }),
    ev('score-create', { id: ids.sSess, sessionId: ids.session, name: 'session-quality', value: 2, timestamp: at(4) }),
  ], { auth: authA });
  await ingestOk(srv, [
    ev('trace-create', { id: ids.tA1, name: 'b-trace', userId: 'user-a', timestamp: at(0) }),
    ev('span-create', { id: ids.oB, traceId: ids.tA1, name: 'root', startTime: at(1) }),
    ev('score-create', { id: ids.sB, traceId: ids.tA1, name: 'quality', value: 0.1, timestamp: at(1) }),
  ], { auth: authB });

  // The worker writes asynchronously: wait for everything of both projects.
  const obs = await pollUntil(() => listObs({}, authA), (r) => r.json?.meta?.totalItems === 4);
  assert.equal(obs.json?.meta?.totalItems, 4, `project A observations: ${show(obs)}`);
  const scores = await pollUntil(() => listV2({}, authA), (r) => r.json?.meta?.totalItems === 4);
  assert.equal(scores.json?.meta?.totalItems, 4, `project A scores: ${show(scores)}`);
  const b = await pollUntil(() => listV2({}, authB), (r) => r.json?.meta?.totalItems === 1);
  assert.equal(b.json?.meta?.totalItems, 1, `project B scores: ${show(b)}`);
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

// ---------------------------------------------------------------------------------------------
describe('GET /api/public/observations', () => {
  it('lists the project\'s observations newest first with v1 paging meta', async () => {
    const res = await listObs();
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(idsOf(res), [ids.tool, ids.event, ids.gen, ids.root]);
    assert.deepEqual(res.json.meta, { page: 1, limit: 50, totalItems: 4, totalPages: 1 });
    const gen = res.json.data.find((o) => o.id === ids.gen);
    expectFields(gen, {
      id: ids.gen, traceId: ids.tA1, projectId: projA.projectId, type: 'GENERATION', name: 'llm',
      startTime: at(2), endTime: at(3), completionStartTime: at(2.5), model: 'e2e-model',
      modelParameters: { temperature: 0.1 }, level: 'ERROR', statusMessage: 'boom', version: 'v2',
      parentObservationId: ids.root, environment: 'prod', usageDetails: { input: 10, output: 5, total: 15 },
      usage: { input: 10, output: 5, total: 15, unit: 'TOKENS' }, promptTokens: 10, completionTokens: 5,
      totalTokens: 15, latency: 1, timeToFirstToken: 0.5, createdAt: isIso, updatedAt: isIso,
    }, 'generation in list');
    // The list item is the same view GET /observations/{id} returns.
    const one = await get(`/api/public/observations/${ids.gen}`);
    assert.equal(one.status, 200, show(one));
    assert.deepEqual(one.json, gen);
  });

  const cases = [
    ['name', { name: 'root' }, () => [ids.tool, ids.root]],
    ['userId (via the trace)', { userId: 'user-a' }, () => [ids.gen, ids.root]],
    ['type', { type: 'GENERATION' }, () => [ids.gen]],
    ['traceId', { traceId: ids.tA2 }, () => [ids.tool, ids.event]],
    ['parentObservationId', { parentObservationId: ids.root }, () => [ids.gen]],
    ['level', { level: 'WARNING' }, () => [ids.event]],
    ['version', { version: 'v1' }, () => [ids.root]],
    ['environment', { environment: 'prod' }, () => [ids.gen, ids.root]],
    ['environment repeated', { environment: ['prod', 'dev'] }, () => [ids.tool, ids.event, ids.gen, ids.root]],
    ['environment comma list', { environment: 'dev,nope' }, () => [ids.tool, ids.event]],
    ['fromStartTime (inclusive)', { fromStartTime: at(3) }, () => [ids.tool, ids.event]],
    ['toStartTime (exclusive)', { toStartTime: at(3) }, () => [ids.gen, ids.root]],
    ['time window with offset', { fromStartTime: at(2).replace('Z', '+00:00'), toStartTime: at(4) }, () => [ids.event, ids.gen]],
    ['combined', { traceId: ids.tA1, type: 'SPAN', name: 'root' }, () => [ids.root]],
    ['no match', { name: 'nothing' }, () => []],
    ['empty name matches only empty names', { name: '' }, () => []],
  ];
  for (const [what, params, expected] of cases) {
    it(`filter: ${what}`, async () => {
      const res = await listObs(params);
      assert.equal(res.status, 200, show(res));
      assert.deepEqual(idsOf(res), expected());
      assert.equal(res.json.meta.totalItems, expected().length);
    });
  }

  it('pages: limit/page, an empty page past the end, and the bounds', async () => {
    let res = await listObs({ limit: 3, page: 1 });
    assert.deepEqual(idsOf(res), [ids.tool, ids.event, ids.gen]);
    assert.deepEqual(res.json.meta, { page: 1, limit: 3, totalItems: 4, totalPages: 2 });
    res = await listObs({ limit: 3, page: 2 });
    assert.deepEqual(idsOf(res), [ids.root]);
    res = await listObs({ limit: 1, page: 4 });
    assert.deepEqual(idsOf(res), [ids.root]);
    res = await listObs({ limit: 100, page: 9 });
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json, { data: [], meta: { page: 9, limit: 100, totalItems: 4, totalPages: 1 } });
    res = await listObs({ limit: '', page: '' });
    assert.deepEqual(res.json.meta, { page: 1, limit: 50, totalItems: 4, totalPages: 1 });
    for (const bad of [{ limit: 0 }, { limit: 101 }, { page: 0 }, { page: -1 }, { limit: 'ten' }, { page: 1.5 }]) {
      await expect400(await listObs(bad), JSON.stringify(bad));
    }
  });

  it('rejects invalid filter values with 400', async () => {
    await expect400(await listObs({ type: 'SPANNER' }), 'type');
    await expect400(await listObs({ level: 'info' }), 'level');
    await expect400(await listObs({ fromStartTime: '2024-01-01T00:00:00' }), 'naive fromStartTime');
    await expect400(await listObs({ toStartTime: 'yesterday' }), 'toStartTime');
  });

  it('needs a project key', async () => {
    assert.equal((await listObs({}, null)).status, 401);
    assert.equal((await listObs({}, `Bearer ${projA.publicKey}`)).status, 403); // scores-only access
  });
});

// ---------------------------------------------------------------------------------------------
describe('GET /api/public/scores (v1) and /api/public/v2/scores', () => {
  it('v1 lists trace scores with their trace; v2 also session scores', async () => {
    const v1 = await listV1();
    assert.equal(v1.status, 200, show(v1));
    assert.deepEqual(idsOf(v1), [ids.sCat, ids.sBool, ids.sNum]);
    assert.deepEqual(v1.json.meta, { page: 1, limit: 50, totalItems: 3, totalPages: 1 });
    const num = v1.json.data.find((s) => s.id === ids.sNum);
    expectFields(num, {
      id: ids.sNum, projectId: projA.projectId, traceId: ids.tA1, observationId: null, name: 'quality', value: 0.9,
      stringValue: null, dataType: 'NUMERIC', source: 'API', comment: 'good one', metadata: { k: 'v' },
      environment: 'prod', timestamp: at(1), createdAt: isIso, updatedAt: isIso, authorUserId: null,
      configId: null, queueId: null, executionTraceId: null,
      trace: { userId: 'user-a', tags: ['x', 'y'], environment: 'prod' },
    }, 'v1 numeric score');
    assert.ok(!('sessionId' in num) && !('datasetRunId' in num), 'v1 items carry no session/dataset-run ids');
    const bool = v1.json.data.find((s) => s.id === ids.sBool);
    expectFields(bool, { value: 1, stringValue: 'True', dataType: 'BOOLEAN', source: 'EVAL', observationId: ids.gen }, 'boolean');
    const cat = v1.json.data.find((s) => s.id === ids.sCat);
    expectFields(cat, { stringValue: 'good', dataType: 'CATEGORICAL', trace: { userId: 'user-b', tags: ['x'], environment: 'dev' } }, 'categorical');

    const v2 = await listV2();
    assert.equal(v2.status, 200, show(v2));
    assert.deepEqual(idsOf(v2), [ids.sSess, ids.sCat, ids.sBool, ids.sNum]);
    const sess = v2.json.data.find((s) => s.id === ids.sSess);
    expectFields(sess, { sessionId: ids.session, traceId: null, datasetRunId: null, trace: null, value: 2 }, 'session score');
    const num2 = v2.json.data.find((s) => s.id === ids.sNum);
    assert.deepEqual(num2.trace, { userId: 'user-a', tags: ['x', 'y'], environment: 'prod', sessionId: ids.session });
  });

  it('v2 fields: score only drops the trace; trace filters need it', async () => {
    const res = await listV2({ fields: 'score' });
    assert.equal(res.status, 200, show(res));
    assert.ok(res.json.data.every((s) => s.trace === null), show(res));
    await expect400(await listV2({ fields: 'trace' }), 'fields without score');
    await expect400(await listV2({ fields: 'score', userId: 'user-a' }), 'userId without trace');
    await expect400(await listV2({ fields: 'score', traceTags: 'x' }), 'traceTags without trace');
  });

  const both = [
    ['name', { name: 'quality' }, [ids.sNum]],
    ['source', { source: 'EVAL' }, [ids.sBool]],
    ['dataType', { dataType: 'CATEGORICAL' }, [ids.sCat]],
    ['userId', { userId: 'user-b' }, [ids.sCat]],
    ['traceTags (all of)', { traceTags: ['x', 'y'] }, [ids.sBool, ids.sNum]],
    ['traceTags one', { traceTags: 'x' }, [ids.sCat, ids.sBool, ids.sNum]],
    ['environment', { environment: 'dev' }, [ids.sCat]],
    ['operator+value', { operator: '>=', value: '0.95' }, [ids.sBool], [ids.sSess, ids.sBool]],
    ['operator+value <', { operator: '<', value: '1' }, [ids.sCat, ids.sNum]],
    ['environment default (session score, v2 only)', { environment: 'default' }, [], [ids.sSess]],
    ['scoreIds', { scoreIds: `${ids.sNum}, ${ids.sCat}` }, [ids.sCat, ids.sNum]],
    ['fromTimestamp', { fromTimestamp: at(2) }, [ids.sCat, ids.sBool], [ids.sSess, ids.sCat, ids.sBool]],
    ['toTimestamp', { toTimestamp: at(2) }, [ids.sNum]],
    ['configId (none)', { configId: 'cfg-none' }, []],
    ['queueId (none)', { queueId: 'queue-none' }, []],
  ];
  // [what, params, v1 ids, v2 ids (default: the v1 ids)]
  for (const [what, params, expected, expectedV2 = expected] of both) {
    it(`v1 and v2 filter: ${what}`, async () => {
      const v1 = await listV1(params);
      assert.equal(v1.status, 200, show(v1));
      assert.deepEqual(idsOf(v1), expected);
      const v2 = await listV2(params);
      assert.equal(v2.status, 200, show(v2));
      assert.deepEqual(idsOf(v2), expectedV2);
    });
  }

  const v2Only = [
    ['traceId', { traceId: ids.tA1 }, [ids.sBool, ids.sNum]],
    ['observationId list', { observationId: `${ids.gen},${ids.event}` }, [ids.sCat, ids.sBool]],
    ['sessionId', { sessionId: ids.session }, [ids.sSess]],
    ['datasetRunId', { datasetRunId: 'run-none' }, []],
  ];
  for (const [what, params, expected] of v2Only) {
    it(`v2 filter: ${what}`, async () => {
      const v2 = await listV2(params);
      assert.equal(v2.status, 200, show(v2));
      assert.deepEqual(idsOf(v2), expected);
    });
  }

  it('v1 ignores the v2-only reference filters, as Langfuse does', async () => {
    const res = await listV1({ traceId: ids.tA1 });
    assert.deepEqual(idsOf(res), [ids.sCat, ids.sBool, ids.sNum]);
  });

  it('pages and validates its parameters', async () => {
    let res = await listV2({ limit: 2, page: 2 });
    assert.deepEqual(idsOf(res), [ids.sBool, ids.sNum]);
    assert.deepEqual(res.json.meta, { page: 2, limit: 2, totalItems: 4, totalPages: 2 });
    res = await listV1({ limit: 2, page: 3 });
    assert.deepEqual(res.json, { data: [], meta: { page: 3, limit: 2, totalItems: 3, totalPages: 2 } });
    for (const bad of [{ limit: 0 }, { limit: 101 }, { page: 0 }, { source: 'HUMAN' }, { dataType: 'number' },
      { operator: '=>' }, { value: 'abc', operator: '>' }, { fromTimestamp: 'not-a-date' }]) {
      await expect400(await listV1(bad), `v1 ${JSON.stringify(bad)}`);
      await expect400(await listV2(bad), `v2 ${JSON.stringify(bad)}`);
    }
  });

  it('GET /scores/{id} (v1) and /v2/scores/{id}', async () => {
    let res = await get(`/api/public/scores/${ids.sNum}`);
    assert.equal(res.status, 200, show(res));
    expectFields(res.json, { id: ids.sNum, traceId: ids.tA1, value: 0.9, dataType: 'NUMERIC', stringValue: null }, 'v1 by id');
    assert.ok(!('trace' in res.json) && !('sessionId' in res.json), show(res));
    res = await get(`/api/public/scores/${ids.sSess}`);
    assert.equal(res.status, 404, `v1 hides session scores: ${show(res)}`);
    res = await get(`/api/public/v2/scores/${ids.sSess}`);
    assert.equal(res.status, 200, show(res));
    expectFields(res.json, { id: ids.sSess, sessionId: ids.session, traceId: null, datasetRunId: null }, 'v2 by id');
    res = await get(`/api/public/v2/scores/${uid('missing-')}`);
    assert.equal(res.status, 404, show(res));
    assert.equal(res.json?.message, 'Score not found');
  });
});

// ---------------------------------------------------------------------------------------------
describe('score configs', () => {
  const cfg = {};

  it('creates NUMERIC, CATEGORICAL, BOOLEAN and TEXT configs', async () => {
    let res = await api(srv, 'POST', '/api/public/score-configs', { auth: authA, body: { name: 'accuracy', dataType: 'NUMERIC', minValue: 0, maxValue: 1, description: 'how right' } });
    assert.equal(res.status, 200, show(res));
    expectFields(res.json, {
      id: ofType('string'), projectId: projA.projectId, name: 'accuracy', dataType: 'NUMERIC',
      minValue: 0, maxValue: 1, categories: null, description: 'how right', isArchived: false, createdAt: isIso, updatedAt: isIso,
    }, 'numeric config');
    cfg.num = res.json;
    res = await api(srv, 'POST', '/api/public/score-configs', { auth: authA, body: { name: 'tone (v2)', dataType: 'CATEGORICAL', categories: [{ label: 'good', value: 1 }, { label: 'bad', value: -1 }] } });
    assert.equal(res.status, 200, show(res));
    expectFields(res.json, { categories: [{ label: 'good', value: 1 }, { label: 'bad', value: -1 }], minValue: null, maxValue: null, description: null }, 'categorical');
    cfg.cat = res.json;
    res = await api(srv, 'POST', '/api/public/score-configs', { auth: authA, body: { name: 'is_correct', dataType: 'BOOLEAN' } });
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json.categories, [{ label: 'True', value: 1 }, { label: 'False', value: 0 }]);
    cfg.bool = res.json;
    res = await api(srv, 'POST', '/api/public/score-configs', { auth: authA, body: { name: 'Feedback-ü', dataType: 'TEXT' } });
    assert.equal(res.status, 200, show(res));
    cfg.text = res.json;
  });

  it('rejects invalid configs as Langfuse does', async () => {
    const bad = [
      { dataType: 'NUMERIC' },
      { name: '', dataType: 'NUMERIC' },
      { name: 'x'.repeat(36), dataType: 'NUMERIC' },
      { name: 'bad/name', dataType: 'NUMERIC' },
      { name: 'n', dataType: 'PERCENT' },
      { name: 'n' },
      { name: 'n', dataType: 'NUMERIC', minValue: 5, maxValue: 5 },
      { name: 'n', dataType: 'NUMERIC', minValue: 'low' },
      { name: 'n', dataType: 'NUMERIC', categories: [{ label: 'a', value: 1 }] },
      { name: 'n', dataType: 'CATEGORICAL' },
      { name: 'n', dataType: 'CATEGORICAL', categories: [{ label: 'a' }] },
      { name: 'n', dataType: 'CATEGORICAL', categories: [{ label: '', value: 1 }] },
      { name: 'n', dataType: 'CATEGORICAL', categories: [{ label: 'a', value: 1 }, { label: 'a', value: 2 }] },
      { name: 'n', dataType: 'CATEGORICAL', categories: [{ label: 'a', value: 1 }, { label: 'b', value: 1 }] },
      { name: 'n', dataType: 'CATEGORICAL', categories: [{ label: 'a', value: 1 }], minValue: 0 },
      { name: 'n', dataType: 'BOOLEAN', categories: [{ label: 'True', value: 1 }, { label: 'False', value: 0 }] },
      { name: 'n', dataType: 'TEXT', maxValue: 3 },
    ];
    for (const body of bad) {
      await expect400(await api(srv, 'POST', '/api/public/score-configs', { auth: authA, body }), JSON.stringify(body));
    }
    await expect400(await api(srv, 'POST', '/api/public/score-configs', { auth: authA, body: '[1]' }), 'array body');
  });

  it('lists newest first with paging, and gets one', async () => {
    let res = await get('/api/public/score-configs');
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(idsOf(res), [cfg.text.id, cfg.bool.id, cfg.cat.id, cfg.num.id]);
    assert.deepEqual(res.json.meta, { page: 1, limit: 50, totalItems: 4, totalPages: 1 });
    res = await get('/api/public/score-configs?limit=3&page=2');
    assert.deepEqual(idsOf(res), [cfg.num.id]);
    assert.deepEqual(res.json.meta, { page: 2, limit: 3, totalItems: 4, totalPages: 2 });
    await expect400(await get('/api/public/score-configs?limit=101'), 'limit 101');
    await expect400(await get('/api/public/score-configs?page=0'), 'page 0');
    res = await get(`/api/public/score-configs/${cfg.cat.id}`);
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json, cfg.cat);
    res = await get(`/api/public/score-configs/${uid('cfg-')}`);
    assert.equal(res.status, 404, show(res));
  });

  it('PATCH updates fields and keeps the config valid', async () => {
    let res = await api(srv, 'PATCH', `/api/public/score-configs/${cfg.num.id}`, { auth: authA, body: { maxValue: 10, description: 'wider' } });
    assert.equal(res.status, 200, show(res));
    expectFields(res.json, { id: cfg.num.id, maxValue: 10, minValue: 0, description: 'wider', createdAt: cfg.num.createdAt }, 'patched');
    cfg.num = res.json;
    for (const body of [{}, { unknown: 1 }, { maxValue: -1 }, { categories: [{ label: 'a', value: 1 }] }, { name: null }, { isArchived: 'yes' }]) {
      await expect400(await api(srv, 'PATCH', `/api/public/score-configs/${cfg.num.id}`, { auth: authA, body }), `patch ${JSON.stringify(body)}`);
    }
    await expect400(await api(srv, 'PATCH', `/api/public/score-configs/${cfg.cat.id}`, { auth: authA, body: { minValue: 1 } }), 'range on categorical');
    res = await api(srv, 'PATCH', `/api/public/score-configs/${uid('cfg-')}`, { auth: authA, body: { isArchived: true } });
    assert.equal(res.status, 404, show(res));
    res = await api(srv, 'PATCH', `/api/public/score-configs/${cfg.text.id}`, { auth: authA, body: { isArchived: true } });
    assert.equal(res.status, 200, show(res));
    assert.equal(res.json.isArchived, true);
  });

  it('POST /scores validates a score against its config', async () => {
    const post = (body, auth = authA) => api(srv, 'POST', '/api/public/scores', { auth, body: { traceId: ids.tA1, ...body } });
    await expect400(await post({ name: 'x', value: 11, configId: cfg.num.id }), 'above max');
    await expect400(await post({ name: 'x', value: -1, configId: cfg.num.id }), 'below min');
    await expect400(await post({ name: 'x', value: 'high', configId: cfg.num.id }), 'string for numeric');
    await expect400(await post({ name: 'x', value: 1, dataType: 'BOOLEAN', configId: cfg.num.id }), 'data type mismatch');
    await expect400(await post({ name: 'x', value: 'meh', configId: cfg.cat.id }), 'unknown category');
    await expect400(await post({ name: 'x', value: 2, configId: cfg.bool.id }), 'boolean 2');
    await expect400(await post({ name: 'x', value: 'hi', configId: cfg.text.id }), 'archived config');
    await expect400(await post({ name: 'x', value: 1, configId: uid('cfg-') }), 'unknown config');
    await expect400(await post({ name: 'x', value: 1, source: 'ANNOTATION' }), 'annotation without config');
    await expect400(await post({ name: 'x', value: 1, source: 'EVAL' }), 'EVAL is internal');

    const numId = uid('cfg-score-');
    let res = await post({ id: numId, name: 'whatever', value: 7.5, configId: cfg.num.id, source: 'ANNOTATION' });
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json, { id: numId });
    const catId = uid('cfg-score-');
    res = await post({ id: catId, name: 'whatever', value: 'bad', configId: cfg.cat.id });
    assert.equal(res.status, 200, show(res));
    const boolId = uid('cfg-score-');
    res = await post({ id: boolId, name: 'whatever', value: 0, configId: cfg.bool.id });
    assert.equal(res.status, 200, show(res));

    const read = (sid) => pollUntil(() => get(`/api/public/v2/scores/${sid}`), (r) => r.status === 200);
    res = await read(numId);
    expectFields(res.json, { name: 'accuracy', value: 7.5, dataType: 'NUMERIC', configId: cfg.num.id, source: 'ANNOTATION' }, 'numeric config score');
    res = await read(catId);
    expectFields(res.json, { name: 'tone (v2)', stringValue: 'bad', dataType: 'CATEGORICAL', configId: cfg.cat.id }, 'categorical config score');
    res = await read(boolId);
    expectFields(res.json, { name: 'is_correct', value: 0, stringValue: 'False', dataType: 'BOOLEAN' }, 'boolean config score');
    res = await listV2({ configId: cfg.num.id });
    assert.deepEqual(idsOf(res), [numId]);
  });

  it('maps a categorical label to its numeric value', async () => {
    const sid = uid('cfg-score-');
    const res = await api(srv, 'POST', '/api/public/scores', { auth: authA, body: { id: sid, traceId: ids.tA1, name: 'x', value: 'bad', configId: cfg.cat.id } });
    assert.equal(res.status, 200, show(res));
    const read = await pollUntil(() => get(`/api/public/v2/scores/${sid}`), (r) => r.status === 200);
    assert.equal(read.json?.value, -1, show(read));
  });

  it('configs of another project are invisible', async () => {
    assert.equal((await get(`/api/public/score-configs/${cfg.num.id}`, authB)).status, 404);
    assert.equal((await api(srv, 'PATCH', `/api/public/score-configs/${cfg.num.id}`, { auth: authB, body: { isArchived: true } })).status, 404);
    const list = await get('/api/public/score-configs', authB);
    assert.deepEqual(list.json, { data: [], meta: { page: 1, limit: 50, totalItems: 0, totalPages: 0 } });
    await expect400(await api(srv, 'POST', '/api/public/scores', { auth: authB, body: { traceId: ids.tA1, name: 'x', value: 0.5, configId: cfg.num.id } }), 'foreign config');
  });
});

// ---------------------------------------------------------------------------------------------
describe('project isolation', () => {
  it('project B sees only its own rows, even under shared ids', async () => {
    let res = await listObs({}, authB);
    assert.deepEqual(idsOf(res), [ids.oB]);
    res = await listObs({ traceId: ids.tA1 }, authB);
    assert.deepEqual(idsOf(res), [ids.oB]);
    res = await listObs({ userId: 'user-a' }, authB);
    assert.deepEqual(idsOf(res), [ids.oB]);
    res = await listV1({}, authB);
    assert.deepEqual(idsOf(res), [ids.sB]);
    assert.deepEqual(res.json.data[0].trace, { userId: 'user-a', tags: [], environment: 'default' });
    res = await listV2({ traceId: ids.tA1 }, authB);
    assert.deepEqual(idsOf(res), [ids.sB]);
  });

  it('project A\'s key gets 404 for project B\'s ids and the reverse', async () => {
    for (const [path, auth] of [
      [`/api/public/observations/${ids.oB}`, authA], [`/api/public/scores/${ids.sB}`, authA],
      [`/api/public/v2/scores/${ids.sB}`, authA], [`/api/public/observations/${ids.gen}`, authB],
      [`/api/public/scores/${ids.sNum}`, authB], [`/api/public/v2/scores/${ids.sNum}`, authB],
    ]) {
      const res = await get(path, auth);
      assert.equal(res.status, 404, `${path}: ${show(res)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('SDKs', () => {
  it('legacy langfuse: fetchObservations / fetchObservation', async () => {
    const lf = new Langfuse({ publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl, fetchRetryCount: 0 });
    const res = await lf.fetchObservations({ traceId: ids.tA1, limit: 1, page: 2 });
    assert.deepEqual(res.data.map((o) => o.id), [ids.root]);
    assert.deepEqual(res.meta, { page: 2, limit: 1, totalItems: 2, totalPages: 2 });
    const gens = await lf.fetchObservations({ type: 'GENERATION', fromStartTime: new Date(base), userId: 'user-a' });
    assert.deepEqual(gens.data.map((o) => o.id), [ids.gen]);
    const one = await lf.fetchObservation(ids.gen);
    assert.equal(one.data.id, ids.gen);
    await lf.shutdownAsync();
  });

  it('@langfuse/client: observations, scores and score configs', async () => {
    const client = new LangfuseClient({ publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl });
    const obs = await client.api.legacy.observationsV1.getMany({ traceId: ids.tA2, environment: ['dev'], limit: 10 });
    assert.deepEqual(obs.data.map((o) => o.id), [ids.tool, ids.event]);
    assert.equal(obs.meta.totalItems, 2);
    const one = await client.api.legacy.observationsV1.get(ids.event);
    assert.equal(one.level, 'WARNING');

    const scores = await client.api.scores.getMany({ traceTags: ['x', 'y'], dataType: 'BOOLEAN', source: 'EVAL' });
    assert.deepEqual(scores.data.map((s) => s.id), [ids.sBool]);
    assert.equal(scores.data[0].trace.userId, 'user-a');
    const score = await client.api.scores.getById(ids.sSess);
    assert.equal(score.sessionId, ids.session);

    const created = await client.api.scoreConfigs.create({ name: 'sdk-config', dataType: 'NUMERIC', minValue: 1 });
    assert.equal(created.name, 'sdk-config');
    const fetched = await client.api.scoreConfigs.getById(created.id);
    assert.deepEqual(fetched, created);
    const page = await client.api.scoreConfigs.get({ page: 1, limit: 1 });
    assert.deepEqual(page.data.map((c) => c.id), [created.id]);
    const updated = await client.api.scoreConfigs.update(created.id, { isArchived: true });
    assert.equal(updated.isArchived, true);

    const posted = await client.api.legacy.scoreV1.create({ traceId: ids.tA2, name: 'sdk-score', value: 0.25 });
    assert.equal(typeof posted.id, 'string');
    const read = await pollUntil(() => get(`/api/public/scores/${posted.id}`), (r) => r.status === 200);
    expectFields(read.json, { name: 'sdk-score', value: 0.25, traceId: ids.tA2 }, 'sdk score');
  });
});
