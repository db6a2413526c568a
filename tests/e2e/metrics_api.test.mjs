// GET /api/public/metrics/daily and GET /api/public/metrics (the v1 metrics query API) against
// the real binary: a fixture goes in through POST /api/public/ingestion, then the routes must
// return exactly the expected numbers, and bad input must get a 400 JSON answer and harm nothing.
//
// Fixture (UTC, 2024-03-10/11):
//   t1 10 Mar 10:00 "chat"  u1 production tags [a,b]   o1 GENERATION chat-model 2000 ms usage 10/20/30 cost 0.03
//                                                     o2 SPAN 1000 ms
//   t2 10 Mar 11:30 "chat"  u2 production tags [b]     o3 GENERATION chat-model 4000 ms usage 5/5/10 cost 0.01
//   t3 11 Mar 09:00 "embed" u1 staging                 o4 GENERATION embed-model 500 ms usage 100/-/100 cost 0.001
//   scores: quality 0.8 (t1), quality 0.4 (t2), correct BOOLEAN 1 (t1), tone CATEGORICAL friendly (t3), rude (t1)

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, cleanupTmp, makeProject, api, ev, ingestOk, pollUntil, uid, withServerLogs,
} from './harness.mjs';

let srv;
const proj = makeProject('metrics');
const it = withServerLogs(baseIt, () => [srv]);
const run = uid('m-');
const id = (x) => `${run}-${x}`;

const FROM = '2024-03-10T00:00:00.000Z';
const TO = '2024-03-12T00:00:00.000Z';

function fixture() {
  const t = (x, timestamp, name, userId, environment, tags) => ev('trace-create', {
    id: id(x), timestamp, name, userId, environment, tags, sessionId: userId === 'u2' ? 's2' : undefined,
    metadata: { team: x === 't1' ? 'alpha' : 'beta' },
  });
  const end = (start, ms) => new Date(Date.parse(start) + ms).toISOString();
  const gen = (x, trace, start, ms, model, usage, cost, extra = {}) => ev('generation-create', {
    id: id(x), traceId: id(trace), name: 'llm', startTime: start, endTime: end(start, ms), model,
    usageDetails: usage, costDetails: cost, ...extra,
  });
  const score = (x, trace, name, dataType, value, timestamp) => ev('score-create', {
    id: id(x), traceId: id(trace), name, dataType, value, timestamp,
  });
  return [
    t('t1', '2024-03-10T10:00:00.000Z', 'chat', 'u1', 'production', ['a', 'b']),
    t('t2', '2024-03-10T11:30:00.000Z', 'chat', 'u2', 'production', ['b']),
    t('t3', '2024-03-11T09:00:00.000Z', 'embed', 'u1', 'staging', []),
    gen('o1', 't1', '2024-03-10T10:00:00.000Z', 2000, 'chat-model', { input: 10, output: 20, total: 30 },
      { input: 0.01, output: 0.02, total: 0.03 }, { environment: 'production', completionStartTime: '2024-03-10T10:00:00.500Z' }),
    ev('span-create', {
      id: id('o2'), traceId: id('t1'), name: 'retrieve', startTime: '2024-03-10T10:00:00.000Z',
      endTime: '2024-03-10T10:00:01.000Z', environment: 'production',
    }),
    gen('o3', 't2', '2024-03-10T11:30:00.000Z', 4000, 'chat-model', { input: 5, output: 5, total: 10 }, { total: 0.01 },
      { environment: 'production' }),
    gen('o4', 't3', '2024-03-11T09:00:00.000Z', 500, 'embed-model', { input: 100, total: 100 }, { total: 0.001 },
      { environment: 'staging', level: 'WARNING' }),
    score('s1', 't1', 'quality', 'NUMERIC', 0.8, '2024-03-10T10:05:00.000Z'),
    score('s2', 't2', 'quality', 'NUMERIC', 0.4, '2024-03-10T11:35:00.000Z'),
    score('s3', 't1', 'correct', 'BOOLEAN', 1, '2024-03-10T10:06:00.000Z'),
    { ...score('s4', 't3', 'tone', 'CATEGORICAL', 'friendly', '2024-03-11T09:01:00.000Z') },
    { ...score('s5', 't1', 'tone', 'CATEGORICAL', 'rude', '2024-03-10T10:07:00.000Z') },
  ];
}

function metrics(query, opts) {
  const q = typeof query === 'string' ? query : JSON.stringify({ fromTimestamp: FROM, toTimestamp: TO, ...query });
  return api(srv, 'GET', `/api/public/metrics?query=${encodeURIComponent(q)}`, opts);
}

function daily(params = '') {
  return api(srv, 'GET', `/api/public/metrics/daily${params ? '?' + params : ''}`);
}

const COUNT = [{ measure: 'count', aggregation: 'count' }];

/** Rows with floating-point values rounded to 9 decimals (avg and quantiles are floats). */
const rounded = (rows) => rows.map((row) => Object.fromEntries(
  Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1e9) / 1e9 : v])));

function assertBadRequest(res, messagePart) {
  assert.equal(res.status, 400, res.text);
  assert.ok(res.json && typeof res.json.message === 'string', `not a JSON error: ${res.text}`);
  assert.equal(res.json.error, 'InvalidRequestError');
  if (messagePart) assert.ok(res.json.message.includes(messagePart), `"${res.json.message}" lacks "${messagePart}"`);
}

before(async () => {
  srv = await startServer({ name: 'metrics', project: proj });
  await ingestOk(srv, fixture());
  // Reads are asynchronous: wait until every entity is readable through the metrics API itself.
  const ready = await pollUntil(async () => {
    const [t, o, s] = await Promise.all([
      metrics({ view: 'traces', metrics: COUNT }),
      metrics({ view: 'observations', metrics: COUNT }),
      metrics({ view: 'scores-categorical', metrics: COUNT }),
    ]);
    return [t, o, s].map((r) => r.json?.data?.[0]?.count_count);
  }, (counts) => counts.join() === '3,4,2', { timeoutMs: 20_000 });
  assert.deepEqual(ready, ['3', '4', '2'], 'the fixture never became readable');
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

describe('GET /api/public/metrics/daily', () => {
  const day10 = {
    date: '2024-03-10', countTraces: 2, countObservations: 3, totalCost: 0.04,
    usage: [
      { model: null, inputUsage: 0, outputUsage: 0, totalUsage: 0, countObservations: 1, countTraces: 1, totalCost: 0 },
      { model: 'chat-model', inputUsage: 15, outputUsage: 25, totalUsage: 40, countObservations: 2, countTraces: 2, totalCost: 0.04 },
    ],
  };
  const day11 = {
    date: '2024-03-11', countTraces: 1, countObservations: 1, totalCost: 0.001,
    usage: [{ model: 'embed-model', inputUsage: 100, outputUsage: 0, totalUsage: 100, countObservations: 1, countTraces: 1, totalCost: 0.001 }],
  };

  it('returns every day, newest first, with usage per model', async () => {
    const res = await daily();
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { data: [day11, day10], meta: { page: 1, limit: 50, totalItems: 2, totalPages: 1 } });
  });

  it('filters by trace name, tags, user, environment and time, and pages', async () => {
    assert.deepEqual((await daily('traceName=chat')).json.data, [day10]);
    const ab = (await daily('tags=a&tags=b')).json.data;
    assert.equal(ab.length, 1);
    assert.equal(ab[0].countTraces, 1);
    assert.equal(ab[0].countObservations, 2);
    assert.deepEqual((await daily('tags=a,b')).json.data, ab);
    assert.deepEqual((await daily('environment=staging')).json.data, [day11]);
    const u2 = (await daily('userId=u2')).json.data;
    assert.deepEqual(u2.map((d) => [d.date, d.countTraces, d.countObservations]), [['2024-03-10', 1, 1]]);
    const window = (await daily(`fromTimestamp=${FROM}&toTimestamp=2024-03-10T11:00:00.000Z`)).json;
    assert.deepEqual(window.data.map((d) => [d.date, d.countTraces, d.countObservations]), [['2024-03-10', 1, 2]]);
    const paged = (await daily('limit=1&page=2')).json;
    assert.deepEqual(paged, { data: [day10], meta: { page: 2, limit: 1, totalItems: 2, totalPages: 2 } });
  });

  it('rejects bad parameters with 400 JSON', async () => {
    assertBadRequest(await daily('fromTimestamp=yesterday'), 'fromTimestamp');
    assertBadRequest(await daily('limit=1000'), 'limit');
    assertBadRequest(await daily('page=0'), 'page');
    const injected = await daily(`traceName=${encodeURIComponent("chat' OR '1'='1")}`);
    assert.equal(injected.status, 200);
    assert.deepEqual(injected.json.data, []);
  });
});

describe('GET /api/public/metrics', () => {
  it('counts traces per name', async () => {
    const res = await metrics({ view: 'traces', dimensions: [{ field: 'name' }], metrics: COUNT });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { data: [{ name: 'chat', count_count: '2' }, { name: 'embed', count_count: '1' }] });
  });

  it('aggregates trace measures over observations and scores', async () => {
    const res = await metrics({
      view: 'traces',
      metrics: [
        { measure: 'totalCost', aggregation: 'sum' }, { measure: 'latency', aggregation: 'p95' },
        { measure: 'latency', aggregation: 'max' }, { measure: 'observationsCount', aggregation: 'sum' },
        { measure: 'totalTokens', aggregation: 'sum' },
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(rounded(res.json.data), [{
      sum_totalCost: 0.041, p95_latency: 3800, max_latency: '4000', sum_observationsCount: '4', sum_totalTokens: '140',
    }]);
    const scored = await metrics({ view: 'traces', metrics: [{ measure: 'scoresCount', aggregation: 'sum' }] });
    assert.deepEqual(scored.json.data, [{ sum_scoresCount: '5' }]);
  });

  it('groups observations by model with filters', async () => {
    const res = await metrics({
      view: 'observations',
      dimensions: [{ field: 'providedModelName' }],
      metrics: [{ measure: 'totalCost', aggregation: 'sum' }, { measure: 'inputTokens', aggregation: 'sum' },
        { measure: 'outputTokens', aggregation: 'sum' }, { measure: 'latency', aggregation: 'avg' }],
      filters: [{ column: 'type', operator: '=', value: 'GENERATION', type: 'string' }],
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(rounded(res.json.data), [
      { providedModelName: 'chat-model', sum_totalCost: 0.04, sum_inputTokens: '15', sum_outputTokens: '25', avg_latency: 3000 },
      { providedModelName: 'embed-model', sum_totalCost: 0.001, sum_inputTokens: '100', sum_outputTokens: '0', avg_latency: 500 },
    ]);
    const chat = await metrics({
      view: 'observations', metrics: COUNT,
      filters: [{ column: 'traceName', operator: 'any of', value: ['chat'], type: 'stringOptions' },
        { column: 'tags', operator: 'all of', value: ['a'], type: 'arrayOptions' }],
    });
    assert.deepEqual(chat.json.data, [{ count_count: '2' }]);
    const ttft = await metrics({ view: 'observations', metrics: [{ measure: 'timeToFirstToken', aggregation: 'max' }] });
    assert.deepEqual(ttft.json.data, [{ max_timeToFirstToken: '500' }]);
  });

  it('buckets by day and fills empty buckets', async () => {
    const res = await metrics({ view: 'traces', metrics: COUNT, timeDimension: { granularity: 'day' } });
    assert.deepEqual(res.json.data, [
      { time_dimension: '2024-03-10', count_count: '2' }, { time_dimension: '2024-03-11', count_count: '1' },
    ]);
    const hours = await metrics({
      view: 'traces', metrics: COUNT, timeDimension: { granularity: 'hour' },
      fromTimestamp: '2024-03-10T09:00:00.000Z', toTimestamp: '2024-03-10T13:00:00.000Z',
    });
    assert.deepEqual(hours.json.data.map((r) => r.count_count), ['0', '1', '1', '0']);
  });

  it('queries the score views', async () => {
    const numeric = await metrics({
      view: 'scores-numeric', dimensions: [{ field: 'name' }], metrics: [{ measure: 'value', aggregation: 'avg' }],
      orderBy: [{ field: 'name', direction: 'asc' }],
    });
    assert.deepEqual(rounded(numeric.json.data), [{ name: 'correct', avg_value: 1 }, { name: 'quality', avg_value: 0.6 }]);
    const categorical = await metrics({
      view: 'scores-categorical', dimensions: [{ field: 'stringValue' }], metrics: COUNT,
      orderBy: [{ field: 'stringValue', direction: 'desc' }],
    });
    assert.deepEqual(categorical.json.data, [{ stringValue: 'rude', count_count: '1' }, { stringValue: 'friendly', count_count: '1' }]);
  });

  it('treats SQL-looking values as values', async () => {
    const res = await metrics({
      view: 'traces', metrics: COUNT,
      filters: [{ column: 'name', operator: '=', value: "chat' OR 1=1; DROP TABLE traces; --", type: 'string' },
        { column: 'metadata', key: "team'] OR 1=1 --", operator: '=', value: 'alpha', type: 'stringObject' }],
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.data, [{ count_count: '0' }]);
  });

  it('rejects bad queries with 400 JSON and nothing else', async () => {
    assertBadRequest(await metrics('{"view": "traces",'), 'Invalid JSON in query parameter');
    assertBadRequest(await api(srv, 'GET', '/api/public/metrics'), 'query');
    assertBadRequest(await metrics({ view: 'users', metrics: COUNT }), "view 'users'");
    assertBadRequest(await metrics({ view: 'traces', metrics: [{ measure: 'cost', aggregation: 'sum' }] }), "measure 'cost'");
    assertBadRequest(await metrics({ view: 'traces', metrics: [{ measure: 'count', aggregation: 'sum(1)); DROP TABLE traces; --' }] }),
      'aggregation');
    assertBadRequest(await metrics({ view: 'traces', dimensions: [{ field: 'name) FROM system.tables --' }], metrics: COUNT }),
      'dimension');
    assertBadRequest(await metrics({
      view: 'traces', metrics: COUNT,
      filters: [{ column: 'name = name OR 1', operator: '=', value: 'x', type: 'string' }],
    }), 'filter column');
    assertBadRequest(await metrics({
      view: 'traces', metrics: COUNT, filters: [{ column: 'name', operator: '; DROP', value: 'x', type: 'string' }],
    }), 'operator');
    assertBadRequest(await metrics({
      view: 'traces', metrics: COUNT, orderBy: [{ field: 'count_count desc; DROP TABLE traces', direction: 'asc' }],
    }), 'orderBy');
    assertBadRequest(await metrics({ view: 'traces', metrics: COUNT, fromTimestamp: TO, toTimestamp: FROM }),
      'fromTimestamp must be before toTimestamp');
    assertBadRequest(await metrics({ view: 'traces', metrics: COUNT, timeDimension: { granularity: 'year' } }), 'granularity');
    assertBadRequest(await metrics({ view: 'traces', metrics: COUNT, config: { row_limit: 5000 } }), 'row_limit');

    const unauthenticated = await metrics({ view: 'traces', metrics: COUNT }, { auth: null });
    assert.equal(unauthenticated.status, 401);

    // Nothing was harmed: the data and the server are as before.
    const again = await metrics({ view: 'traces', metrics: COUNT });
    assert.deepEqual(again.json.data, [{ count_count: '3' }]);
    assert.equal((await api(srv, 'GET', '/api/public/health')).status, 200);
  });
});
