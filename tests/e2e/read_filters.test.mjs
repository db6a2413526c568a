// The `filter` query parameter of the public list routes (GET /api/public/traces, /observations,
// /scores, /v2/scores): Langfuse's JSON filter conditions over each route's columns, their
// precedence over the simple parameters, and the 400s for unreadable JSON, a wrong shape (zod
// issues), unknown columns and wrong filter types. Also through `@langfuse/client`.
//
// One server, two projects (B by a restart); the fixture is ingested through the API and polled.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LangfuseClient } from '@langfuse/client';
import {
  startServer, cleanupTmp, makeProject, basicAuth, api, ev, ingestOk, pollUntil, show, withServerLogs,
} from './harness.mjs';

let srv;
const projA = makeProject('a');
const projB = makeProject('b');
const authA = basicAuth(projA.publicKey, projA.secretKey);
const authB = basicAuth(projB.publicKey, projB.secretKey);
const it = withServerLogs(baseIt, () => [srv]);

const BASE = Date.parse('2024-05-01T10:00:00.000Z');
const MIN = 60_000;
const iso = (ms) => new Date(ms).toISOString();

// Project A: four traces one minute apart (f1 oldest).
//   id  name   user  tags    env         metadata.tier  observations                    scores
//   f1  chat   u1    [x]     default     pro            span 2.5 s + ERROR generation   quality 0.9, ok=True
//   f2  chat   u2    [x, y]  production  free           -                               quality 0.2
//   f3  agent  u1    [y]     production  pro            WARNING span 0.2 s              tone=good
//   f4  agent  -     []      staging     -              -                               -
const TRACES = [
  { id: 'f1', name: 'chat', userId: 'u1', tags: ['x'], metadata: { tier: 'pro' }, sessionId: 's1' },
  { id: 'f2', name: 'chat', userId: 'u2', tags: ['x', 'y'], environment: 'production', metadata: { tier: 'free' } },
  { id: 'f3', name: 'agent', userId: 'u1', tags: ['y'], environment: 'production', metadata: { tier: 'pro' } },
  { id: 'f4', name: 'agent', tags: [], environment: 'staging' },
].map((t, i) => ({ ...t, timestamp: iso(BASE + i * MIN) }));

const qs = (query) => new URLSearchParams(query).toString();
const listTraces = (query = {}, auth = authA) => api(srv, 'GET', `/api/public/traces?${qs(query)}`, { auth });
const withFilter = (filter, query = {}) => ({ ...query, filter: JSON.stringify(filter) });
const idsOf = (res) => (res.json?.data || []).map((x) => x.id);

async function traceIds(filter, query = {}, auth = authA) {
  const res = await listTraces(withFilter(filter, query), auth);
  assert.equal(res.status, 200, `filter ${JSON.stringify(filter)}: ${show(res)}`);
  return idsOf(res);
}

before(async () => {
  srv = await startServer({ name: 'read-filters', project: projA });
  await srv.restart({ project: projB });
  await ingestOk(srv, [
    ...TRACES.map((t) => ev('trace-create', t)),
    ev('span-create', { id: 'f1-span', traceId: 'f1', name: 'root', startTime: iso(BASE + 1000), endTime: iso(BASE + 3500) }),
    ev('generation-create', {
      id: 'f1-gen', traceId: 'f1', parentObservationId: 'f1-span', name: 'llm', level: 'ERROR', startTime: iso(BASE + 1500),
      endTime: iso(BASE + 2000), model: 'm', usageDetails: { input: 100, output: 20, total: 120 }, costDetails: { total: 0.5 },
    }),
    ev('span-create', { id: 'f3-span', traceId: 'f3', name: 'tool', level: 'WARNING', startTime: iso(BASE + 2 * MIN), endTime: iso(BASE + 2 * MIN + 200) }),
    ev('score-create', { id: 'f1-quality', traceId: 'f1', name: 'quality', value: 0.9 }),
    ev('score-create', { id: 'f1-ok', traceId: 'f1', name: 'ok', value: 1, dataType: 'BOOLEAN' }),
    ev('score-create', { id: 'f2-quality', traceId: 'f2', name: 'quality', value: 0.2, metadata: { reviewer: 'ann' } }),
    ev('score-create', { id: 'f3-tone', traceId: 'f3', observationId: 'f3-span', name: 'tone', value: 'good', dataType: 'CATEGORICAL' }),
  ], { auth: authA });
  await ingestOk(srv, [
    ev('trace-create', { id: 'f1', name: 'b-chat', userId: 'u1', tags: ['x'], timestamp: iso(BASE) }),
    ev('score-create', { id: 'b-quality', traceId: 'f1', name: 'quality', value: 0.9 }),
  ], { auth: authB });
  const ready = await pollUntil(
    async () => [await listTraces({ limit: 100 }), await api(srv, 'GET', '/api/public/v2/scores?limit=100', { auth: authA }),
      await api(srv, 'GET', '/api/public/observations', { auth: authA }), await listTraces({}, authB)],
    ([t, s, o, b]) => t.json?.meta?.totalItems === 4 && s.json?.meta?.totalItems === 4 && o.json?.meta?.totalItems === 3 &&
      b.json?.meta?.totalItems === 1,
    { timeoutMs: 15_000 },
  );
  assert.ok(Array.isArray(ready), `fixture not readable: ${ready?.pollError?.message}`);
  assert.equal(ready[0].json.meta.totalItems, 4, show(ready[0]));
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

// ---------------------------------------------------------------------------------------------
describe('GET /api/public/traces?filter=', () => {
  it('filters on trace columns with every operator family', async () => {
    let res = await listTraces(withFilter([{ type: 'string', column: 'userId', operator: '=', value: 'u1' }]));
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(idsOf(res), ['f3', 'f1']);
    assert.deepEqual(res.json.meta, { page: 1, limit: 50, totalItems: 2, totalPages: 1 });
    assert.deepEqual(await traceIds([{ type: 'string', column: 'name', operator: 'contains', value: 'gen' }]), ['f4', 'f3']);
    assert.deepEqual(await traceIds([{ type: 'stringOptions', column: 'environment', operator: 'none of', value: ['default'] }]), ['f4', 'f3', 'f2']);
    assert.deepEqual(await traceIds([{ type: 'arrayOptions', column: 'tags', operator: 'all of', value: ['x', 'y'] }]), ['f2']);
    assert.deepEqual(await traceIds([{ type: 'arrayOptions', column: 'traceTags', operator: 'none of', value: ['x'] }]), ['f4', 'f3']);
    assert.deepEqual(await traceIds([{ type: 'stringObject', column: 'metadata', key: 'tier', operator: '=', value: 'pro' }]), ['f3', 'f1']);
    assert.deepEqual(await traceIds([{ type: 'datetime', column: 'timestamp', operator: '>=', value: iso(BASE + 2 * MIN) }]), ['f4', 'f3']);
    assert.deepEqual(await traceIds([{ type: 'null', column: 'userId', operator: 'is null', value: '' }]), ['f4']);
    assert.deepEqual(await traceIds([{ type: 'boolean', column: 'bookmarked', operator: '=', value: false }]), ['f4', 'f3', 'f2', 'f1']);
    // Conditions combine with AND, and with paging.
    res = await listTraces(withFilter([
      { type: 'string', column: 'userId', operator: '=', value: 'u1' },
      { type: 'stringOptions', column: 'environment', operator: 'any of', value: ['production', 'default'] },
    ], { limit: 1, page: 2 }));
    assert.deepEqual(idsOf(res), ['f1']);
    assert.deepEqual(res.json.meta, { page: 2, limit: 1, totalItems: 2, totalPages: 2 });
    // Values are parameters, not SQL.
    assert.deepEqual(await traceIds([{ type: 'string', column: 'userId', operator: '=', value: "u1' OR '1'='1" }]), []);
  });

  it('filters on the traces\' observation and score aggregates', async () => {
    assert.deepEqual(await traceIds([{ type: 'number', column: 'latency', operator: '>', value: 2 }]), ['f1']);
    assert.deepEqual(await traceIds([{ type: 'stringOptions', column: 'level', operator: 'any of', value: ['ERROR', 'WARNING'] }]), ['f3', 'f1']);
    assert.deepEqual(await traceIds([{ type: 'number', column: 'errorCount', operator: '>=', value: 1 }]), ['f1']);
    assert.deepEqual(await traceIds([{ type: 'number', column: 'totalTokens', operator: '=', value: 120 }]), ['f1']);
    assert.deepEqual(await traceIds([{ type: 'number', column: 'totalCost', operator: '<', value: 0.1 }]), ['f4', 'f3', 'f2']);
    assert.deepEqual(await traceIds([{ type: 'numberObject', column: 'scores_avg', key: 'quality', operator: '>=', value: 0.5 }]), ['f1']);
    assert.deepEqual(await traceIds([{ type: 'numberObject', column: 'scores', key: 'quality', operator: '<', value: 0.5 }]), ['f2']);
    assert.deepEqual(await traceIds([{ type: 'categoryOptions', column: 'score_categories', key: 'tone', operator: 'any of', value: ['good'] }]), ['f3']);
    assert.deepEqual(await traceIds([{ type: 'booleanObject', column: 'score_booleans', key: 'ok', operator: '=', value: true }]), ['f1']);
  });

  it('takes precedence over the simple parameter on the same column only', async () => {
    // userId=u2 gives way to the filter's userId; name (another column) still holds.
    assert.deepEqual(await traceIds([{ type: 'string', column: 'userId', operator: '=', value: 'u1' }], { userId: 'u2' }), ['f3', 'f1']);
    assert.deepEqual(await traceIds([{ type: 'string', column: 'userId', operator: '=', value: 'u1' }], { name: 'chat' }), ['f1']);
    assert.deepEqual(await traceIds([{ type: 'datetime', column: 'timestamp', operator: '<', value: iso(BASE + MIN) }],
      { fromTimestamp: iso(BASE + 3 * MIN) }), ['f1']);
    // An empty filter is no filter.
    assert.deepEqual(idsOf(await listTraces({ filter: '' })), ['f4', 'f3', 'f2', 'f1']);
    assert.deepEqual(await traceIds([]), ['f4', 'f3', 'f2', 'f1']);
  });

  it('answers 400 for unreadable JSON, a wrong shape, unknown columns and wrong types', async () => {
    let res = await listTraces({ filter: '[{' });
    assert.equal(res.status, 400, show(res));
    assert.deepEqual(res.json, { message: 'Invalid JSON in filter parameter', error: 'InvalidRequestError' });

    res = await listTraces(withFilter([{ type: 'string', column: 'userId', operator: 'like', value: 'u1' }], { limit: 101 }));
    assert.equal(res.status, 400, show(res));
    assert.equal(res.json.message, 'Invalid request data');
    assert.deepEqual(res.json.error.map((i) => i.path), [['limit'], ['filter', 0, 'operator']], show(res));
    assert.deepEqual(res.json.error[1], {
      code: 'invalid_value', values: ['=', 'contains', 'does not contain', 'starts with', 'ends with'], path: ['filter', 0, 'operator'],
      message: 'Invalid option: expected one of "="|"contains"|"does not contain"|"starts with"|"ends with"',
    });
    res = await listTraces({ filter: JSON.stringify({ type: 'string' }) });
    assert.deepEqual(res.json, { message: 'Invalid request data', error: [{ expected: 'array', code: 'invalid_type', path: ['filter'], message: 'Invalid input: expected array, received object' }] });
    res = await listTraces(withFilter([{ type: 'regex', column: 'userId', operator: '=', value: 'u' }]));
    assert.equal(res.status, 400, show(res));
    assert.equal(res.json.error[0].code, 'invalid_union');

    res = await listTraces(withFilter([{ type: 'string', column: 'nope', operator: '=', value: 'x' }]));
    assert.equal(res.status, 400, show(res));
    assert.deepEqual(res.json, { message: 'Column nope does not match a UI / CH table mapping.', error: 'InvalidRequestError' });
    res = await listTraces(withFilter([{ type: 'number', column: 'userId', operator: '>', value: 1 }]));
    assert.equal(res.status, 400, show(res));
    assert.deepEqual(res.json, { message: "Invalid filter type 'number' for column 'userId'. Expected filter type 'string'.", error: 'InvalidRequestError' });
    res = await listTraces(withFilter([{ type: 'string', column: 'scores', operator: '=', value: 'x' }]));
    assert.equal(res.status, 400, show(res));
    assert.match(res.json.message, /legacy score column/);
  });

  it('sees only the key\'s project', async () => {
    const filter = [{ type: 'string', column: 'userId', operator: '=', value: 'u1' }];
    const res = await listTraces(withFilter(filter), authB);
    assert.deepEqual(res.json.data.map((t) => [t.id, t.name]), [['f1', 'b-chat']]);
    assert.deepEqual(await traceIds([{ type: 'numberObject', column: 'scores_avg', key: 'quality', operator: '>=', value: 0.5 }], {}, authB), ['f1']);
  });

  it('@langfuse/client api.trace.list passes the filter', async () => {
    const client = new LangfuseClient({ publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl });
    const list = await client.api.trace.list({ filter: JSON.stringify([{ type: 'arrayOptions', column: 'tags', operator: 'any of', value: ['y'] }]) });
    assert.deepEqual(list.data.map((t) => t.id), ['f3', 'f2']);
    await assert.rejects(client.api.trace.list({ filter: '[{' }), (e) => e.statusCode === 400);
  });
});

// ---------------------------------------------------------------------------------------------
describe('GET /api/public/observations?filter=', () => {
  const listObs = (query, auth = authA) => api(srv, 'GET', `/api/public/observations?${qs(query)}`, { auth });

  it('filters on observation columns and the trace\'s', async () => {
    let res = await listObs(withFilter([{ type: 'stringOptions', column: 'type', operator: 'any of', value: ['GENERATION'] }]));
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(idsOf(res), ['f1-gen']);
    res = await listObs(withFilter([{ type: 'number', column: 'latency', operator: '>=', value: 1 }]));
    assert.deepEqual(idsOf(res), ['f1-span']);
    res = await listObs(withFilter([{ type: 'string', column: 'level', operator: '=', value: 'WARNING' }]));
    assert.deepEqual(idsOf(res), ['f3-span']);
    res = await listObs(withFilter([{ type: 'number', column: 'inputTokens', operator: '>', value: 50 }]));
    assert.deepEqual(idsOf(res), ['f1-gen']);
    res = await listObs(withFilter([{ type: 'datetime', column: 'Start Time', operator: '>', value: iso(BASE + 1000) }]));
    assert.deepEqual(idsOf(res), ['f3-span', 'f1-gen']);
    // The trace's columns.
    res = await listObs(withFilter([{ type: 'arrayOptions', column: 'traceTags', operator: 'any of', value: ['y'] }]));
    assert.deepEqual(idsOf(res), ['f3-span']);
    res = await listObs(withFilter([{ type: 'string', column: 'userId', operator: '=', value: 'u1' }], { traceId: 'f1' }));
    assert.deepEqual(idsOf(res), ['f1-gen', 'f1-span']);
    assert.deepEqual(res.json.meta.totalItems, 2);
  });

  it('answers 400 for bad filters', async () => {
    let res = await listObs({ filter: 'not json' });
    assert.deepEqual([res.status, res.json], [400, { message: 'Invalid JSON in filter parameter', error: 'InvalidRequestError' }]);
    res = await listObs(withFilter([{ type: 'number', column: 'latency', operator: '>', value: '1' }]));
    assert.equal(res.status, 400, show(res));
    assert.deepEqual(res.json, { message: 'Invalid request data', error: [{ expected: 'number', code: 'invalid_type', path: ['filter', 0, 'value'], message: 'Invalid input: expected number, received string' }] });
    res = await listObs(withFilter([{ type: 'numberObject', column: 'scores_avg', key: 'q', operator: '>', value: 1 }]));
    assert.deepEqual([res.status, res.json], [400, { message: 'Column scores_avg does not match a UI / CH table mapping.', error: 'InvalidRequestError' }]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('GET /api/public/scores and /v2/scores?filter=', () => {
  const listV1 = (query, auth = authA) => api(srv, 'GET', `/api/public/scores?${qs(query)}`, { auth });
  const listV2 = (query, auth = authA) => api(srv, 'GET', `/api/public/v2/scores?${qs(query)}`, { auth });

  it('filters on score columns and the trace\'s', async () => {
    let res = await listV2(withFilter([{ type: 'number', column: 'value', operator: '>', value: 0.5 }]));
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(idsOf(res).sort(), ['f1-ok', 'f1-quality']);
    res = await listV2(withFilter([{ type: 'stringOptions', column: 'dataType', operator: 'any of', value: ['CATEGORICAL', 'BOOLEAN'] }]));
    assert.deepEqual(idsOf(res).sort(), ['f1-ok', 'f3-tone']);
    res = await listV2(withFilter([{ type: 'stringObject', column: 'metadata', key: 'reviewer', operator: '=', value: 'ann' }]));
    assert.deepEqual(idsOf(res), ['f2-quality']);
    res = await listV2(withFilter([{ type: 'stringOptions', column: 'userId', operator: 'any of', value: ['u2'] }]));
    assert.deepEqual(idsOf(res), ['f2-quality']);
    res = await listV1(withFilter([{ type: 'string', column: 'observationId', operator: '=', value: 'f3-span' }]));
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(idsOf(res), ['f3-tone']);
    // The filter's name replaces the simple name; the simple source still holds.
    res = await listV2(withFilter([{ type: 'string', column: 'name', operator: '=', value: 'tone' }], { name: 'quality' }));
    assert.deepEqual(idsOf(res), ['f3-tone']);
    res = await listV2(withFilter([{ type: 'string', column: 'name', operator: '=', value: 'tone' }], { source: 'EVAL' }));
    assert.deepEqual(idsOf(res), []);
    // Project B sees its own.
    res = await listV2(withFilter([{ type: 'string', column: 'name', operator: '=', value: 'quality' }]), authB);
    assert.deepEqual(idsOf(res), ['b-quality']);
  });

  it('answers 400 for bad filters, and @langfuse/client passes it', async () => {
    let res = await listV2({ filter: '{' });
    assert.deepEqual([res.status, res.json], [400, { message: 'Invalid JSON in filter parameter', error: 'InvalidRequestError' }]);
    res = await listV1(withFilter([{ type: 'stringOptions', column: 'name', operator: 'any of', value: [] }]));
    assert.deepEqual([res.status, res.json], [400, { message: 'Invalid request data', error: [{ code: 'custom', path: ['filter', 0, 'value'], message: 'Invalid input' }] }]);
    res = await listV2(withFilter([{ type: 'boolean', column: 'value', operator: '=', value: true }]));
    assert.deepEqual([res.status, res.json], [400, { message: "Invalid filter type 'boolean' for column 'value'. Expected filter type 'number'.", error: 'InvalidRequestError' }]);

    const client = new LangfuseClient({ publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl });
    const scores = await client.api.scores.getMany({ filter: JSON.stringify([{ type: 'string', column: 'name', operator: '=', value: 'ok' }]) });
    assert.deepEqual(scores.data.map((s) => s.id), ['f1-ok']);
  });
});
