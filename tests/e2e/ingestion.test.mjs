// Batch ingestion (POST /api/public/ingestion) with Langfuse v3 semantics (contracts §3-5):
// the legacy `langfuse` SDK round trip, the 207 response shape and per-event validation, the
// worker's merge rules, the scores API and project isolation. Reads are asynchronous, so every
// read polls (READ_TIMEOUT_MS, default 5 s) and then asserts on what it read last.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Langfuse, LangfuseWeb } from 'langfuse';
import { LangfuseClient } from '@langfuse/client';
import {
  startServer, cleanupTmp, makeProject, basicAuth, api, ev, ingest, ingestOk, uid, sleep,
  pollUntil, pollTrace, pollObservation, show, normMeta, isJsonContentType, withServerLogs,
} from './harness.mjs';
import {
  expectFields, expectAll, isIso, isoBetween, near, meta, containing, ofType,
} from './expect.mjs';

let srv;
const projA = makeProject('a');
const projB = makeProject('b');
let authA;
let authB;
const it = withServerLogs(baseIt, () => [srv]);

const iso = (ms) => new Date(ms).toISOString();
const byId = (arr) => Object.fromEntries((arr || []).map((o) => [o.id, o]));
const sortById = (arr) => [...(arr || [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** A trace with observations/scores sorted by id, for order-independent comparison. */
function canonTrace(t) {
  return { ...t, observations: sortById(t.observations), scores: sortById(t.scores) };
}

async function listTraces(query, auth) {
  const qs = new URLSearchParams({ limit: '100', ...query }).toString();
  return api(srv, 'GET', `/api/public/traces?${qs}`, { auth });
}

async function listObservations(query, auth) {
  const qs = new URLSearchParams({ limit: '100', ...query }).toString();
  return api(srv, 'GET', `/api/public/observations?${qs}`, { auth });
}

function legacySdk(extra = {}) {
  return new Langfuse({
    publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl,
    flushAt: 1000, flushInterval: 0, fetchRetryCount: 0, requestTimeout: 10_000, ...extra,
  });
}

/** Records every /api/public/ingestion answer the SDK receives. */
function recordIngestion(sdk) {
  const seen = [];
  const orig = sdk.fetch.bind(sdk);
  sdk.fetch = async (url, options) => {
    const res = await orig(url, options);
    if (String(url).endsWith('/api/public/ingestion')) {
      const body = await res.clone().json().catch(() => null);
      seen.push({ status: res.status, body, sent: JSON.parse(options.body) });
    }
    return res;
  };
  return seen;
}

before(async () => {
  srv = await startServer({ name: 'ingestion', project: projA });
  authA = basicAuth(projA.publicKey, projA.secretKey);
  authB = basicAuth(projB.publicKey, projB.secretKey);
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

// ---------------------------------------------------------------------------------------------
describe('legacy langfuse SDK round trip', () => {
  const base = Math.floor((Date.now() - 60_000) / 1000) * 1000; // whole second, one minute ago
  const t = (s) => new Date(base + s * 1000);
  const ids = {
    trace: uid('sdk-trace-'), session: uid('sess-'),
    root: uid('span-root-'), child: uid('span-child-'),
    gen1: uid('gen1-'), gen2: uid('gen2-'), gen3: uid('gen3-'),
    evDebug: uid('ev-debug-'), evWarn: uid('ev-warn-'), evErr: uid('ev-err-'),
    sNum: uid('score-num-'), sCat: uid('score-cat-'), sCatInf: uid('score-catinf-'),
    sBool: uid('score-bool-'), sNumObs: uid('score-numobs-'),
  };
  const chat = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Capital of France?' }];
  const modelParameters = { temperature: 0.2, maxTokens: 256, stream: false, stop: ['\n\n'] };
  let endWindow; // [lo, hi] epoch ms around root.end() / gen1.end()
  let sent;
  let trace; // last GET /traces/{id} response json
  let traceRes;

  it('ingests a full trace via the SDK: both flushes answer 207 without errors', async () => {
    const lf = legacySdk();
    sent = recordIngestion(lf);
    const tr = lf.trace({
      id: ids.trace, name: 'sdk-e2e', userId: 'user-42', sessionId: ids.session, tags: ['beta', 'alpha'],
      metadata: { app: { region: 'eu', shards: 2 }, flag: true, note: 'n1' },
      release: 'rel-1.2.3', version: 'tv-1', input: 'What is the capital of France?', timestamp: t(0),
    });
    const root = tr.span({ id: ids.root, name: 'root-span', startTime: t(0), input: { query: 'capital of France' }, metadata: { step: 'root' }, version: 'sv-1' });
    const child = root.span({ id: ids.child, name: 'retrieve', startTime: t(1), input: ['doc1', 'doc2'], metadata: { retriever: { k: 3 } } });
    child.event({ id: ids.evDebug, name: 'cache-lookup', startTime: t(1.5), level: 'DEBUG', input: { key: 'k1' } });
    const gen1 = child.generation({
      id: ids.gen1, name: 'llm-call', startTime: t(2), completionStartTime: t(3), model: 'gpt-4o-mini',
      modelParameters, input: chat, metadata: { attempt: 1 }, version: 'gv-1',
    });
    root.event({ id: ids.evWarn, name: 'retry', startTime: t(4), level: 'WARNING', statusMessage: 'retrying once' });
    const gen2 = root.generation({
      id: ids.gen2, name: 'llm-cached', startTime: t(5), endTime: t(7), model: 'e2e-unpriced-model',
      input: 'plain prompt', output: 'plain answer', usageDetails: { input: 100, output: 20, input_cached_tokens: 30 },
      level: 'WARNING', statusMessage: 'slow upstream',
    });
    tr.event({ id: ids.evErr, name: 'guardrail', startTime: t(6), level: 'ERROR', statusMessage: 'blocked content', output: { blocked: true } });
    root.generation({
      id: ids.gen3, name: 'llm-openai-usage', startTime: t(8), endTime: t(9), model: 'e2e-unpriced-model',
      usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 },
    });
    await lf.flushAsync();

    // Second batch: updates after creation, scores.
    child.update({ endTime: t(4.5), output: { docs: 2 } });
    gen1.update({ metadata: { cached: false } });
    gen2.update({ level: 'ERROR', statusMessage: 'failed after retry' });
    tr.update({ output: { answer: 'Paris' }, tags: ['gamma', 'alpha'], metadata: { app: { tier: 'gold' }, extra: 'yes' } });
    tr.score({ id: ids.sNum, name: 'quality', value: 0.87, comment: 'looks right' });
    tr.score({ id: ids.sCat, name: 'sentiment', value: 'positive', dataType: 'CATEGORICAL' });
    tr.score({ id: ids.sCatInf, name: 'tone', value: 'formal' });
    gen1.score({ id: ids.sBool, name: 'correct', value: 1, dataType: 'BOOLEAN' });
    gen2.score({ id: ids.sNumObs, name: 'latency-ok', value: 0, dataType: 'NUMERIC' });
    const lo = Date.now();
    gen1.end({ output: { role: 'assistant', content: 'Paris.' }, usage: { input: 12, output: 34, total: 46, unit: 'TOKENS' } });
    root.end({ output: { answer: 'Paris' } });
    const hi = Date.now();
    endWindow = [lo, hi];
    await lf.flushAsync();
    await lf.shutdownAsync();

    assert.equal(sent.length, 2, `expected two ingestion requests, saw ${sent.length}`);
    for (const [i, s] of sent.entries()) {
      assert.equal(s.status, 207, `flush #${i + 1}: HTTP ${s.status} ${JSON.stringify(s.body)}`);
      assert.deepEqual(s.body?.errors, [], `flush #${i + 1}: per-event errors ${JSON.stringify(s.body?.errors)}`);
      const want = s.sent.batch.map((e) => e.id).sort();
      const got = (s.body?.successes || []).map((x) => x.id).sort();
      assert.deepEqual(got, want, `flush #${i + 1}: successes must list every event id`);
      assert.ok(s.body.successes.every((x) => x.status === 201), `flush #${i + 1}: every success has status 201`);
    }
  });

  it('GET /api/public/traces/{id}: trace fields', async () => {
    traceRes = await pollTrace(srv, ids.trace, (tj) =>
      tj.observations?.length === 8 && tj.scores?.length === 5 && tj.output != null &&
      byId(tj.observations)[ids.root]?.endTime != null && byId(tj.observations)[ids.gen2]?.level === 'ERROR' &&
      byId(tj.observations)[ids.gen1]?.output != null && normMeta(tj.metadata)?.extra === 'yes');
    assert.equal(traceRes.status, 200, show(traceRes));
    trace = traceRes.json;
    const obs = trace.observations || [];
    const starts = obs.map((o) => Date.parse(o.startTime)).filter(Number.isFinite);
    const ends = obs.flatMap((o) => [Date.parse(o.startTime), o.endTime ? Date.parse(o.endTime) : NaN]).filter(Number.isFinite);
    const expectedLatency = (Math.max(...ends) - Math.min(...starts)) / 1000;
    expectFields(trace, {
      id: ids.trace,
      name: 'sdk-e2e',
      timestamp: iso(base), // the first write's timestamp; trace.update() sent a later one
      userId: 'user-42',
      sessionId: ids.session,
      release: 'rel-1.2.3',
      version: 'tv-1',
      input: 'What is the capital of France?',
      output: { answer: 'Paris' },
      tags: ['alpha', 'beta', 'gamma'],
      metadata: meta({ app: { region: 'eu', shards: 2, tier: 'gold' }, flag: true, note: 'n1', extra: 'yes' }),
      public: false,
      environment: 'default',
      htmlPath: `/project/${projA.projectId}/traces/${ids.trace}`,
      latency: near(expectedLatency),
      observations: ofType('object'),
      scores: ofType('object'),
    }, 'trace');
    assert.equal(obs.length, 8, `trace.observations: expected 8, got ${obs.length}: ${JSON.stringify(obs.map((o) => o.id))}`);
    assert.deepEqual(obs.map((o) => o.id).sort(), [ids.root, ids.child, ids.gen1, ids.gen2, ids.gen3, ids.evDebug, ids.evWarn, ids.evErr].sort());
  });

  function observationExpectations() {
    const [lo, hi] = endWindow;
    return {
      [ids.root]: {
        id: ids.root, traceId: ids.trace, type: 'SPAN', name: 'root-span', parentObservationId: null,
        startTime: iso(base), endTime: isoBetween(lo, hi), completionStartTime: null,
        input: { query: 'capital of France' }, output: { answer: 'Paris' }, metadata: meta({ step: 'root' }),
        level: 'DEFAULT', statusMessage: null, version: 'sv-1', environment: 'default', model: null,
      },
      [ids.child]: {
        id: ids.child, traceId: ids.trace, type: 'SPAN', name: 'retrieve', parentObservationId: ids.root,
        startTime: iso(base + 1000), endTime: iso(base + 4500), input: ['doc1', 'doc2'], output: { docs: 2 },
        metadata: meta({ retriever: { k: 3 } }), level: 'DEFAULT', statusMessage: null, environment: 'default',
        latency: near(3.5),
      },
      [ids.gen1]: {
        id: ids.gen1, traceId: ids.trace, type: 'GENERATION', name: 'llm-call', parentObservationId: ids.child,
        startTime: iso(base + 2000), completionStartTime: iso(base + 3000), endTime: isoBetween(lo, hi),
        model: 'gpt-4o-mini', modelParameters, input: chat, output: { role: 'assistant', content: 'Paris.' },
        metadata: meta({ attempt: 1, cached: false }), version: 'gv-1', level: 'DEFAULT', statusMessage: null,
        usageDetails: { input: 12, output: 34, total: 46 },
        usage: containing({ input: 12, output: 34, total: 46, unit: 'TOKENS' }),
        promptTokens: 12, completionTokens: 34, totalTokens: 46,
        timeToFirstToken: near(1), environment: 'default', promptId: null,
      },
      [ids.gen2]: {
        id: ids.gen2, type: 'GENERATION', parentObservationId: ids.root, name: 'llm-cached',
        startTime: iso(base + 5000), endTime: iso(base + 7000), model: 'e2e-unpriced-model',
        input: 'plain prompt', output: 'plain answer', level: 'ERROR', statusMessage: 'failed after retry',
        // no total given -> synthesized as the sum; usage.input sums every key starting with "input"
        usageDetails: { input: 100, output: 20, input_cached_tokens: 30, total: 150 },
        usage: containing({ input: 130, output: 20, total: 150 }),
        promptTokens: 130, completionTokens: 20, totalTokens: 150,
        latency: near(2),
      },
      [ids.gen3]: {
        id: ids.gen3, type: 'GENERATION', parentObservationId: ids.root, name: 'llm-openai-usage',
        startTime: iso(base + 8000), endTime: iso(base + 9000),
        usageDetails: { input: 7, output: 3, total: 10 }, usage: containing({ input: 7, output: 3, total: 10 }),
        promptTokens: 7, completionTokens: 3, totalTokens: 10, input: null, output: null,
      },
      [ids.evDebug]: {
        id: ids.evDebug, type: 'EVENT', parentObservationId: ids.child, name: 'cache-lookup',
        startTime: iso(base + 1500), endTime: null, level: 'DEBUG', statusMessage: null, input: { key: 'k1' },
      },
      [ids.evWarn]: {
        id: ids.evWarn, type: 'EVENT', parentObservationId: ids.root, name: 'retry',
        startTime: iso(base + 4000), level: 'WARNING', statusMessage: 'retrying once',
      },
      [ids.evErr]: {
        id: ids.evErr, type: 'EVENT', parentObservationId: null, name: 'guardrail',
        startTime: iso(base + 6000), level: 'ERROR', statusMessage: 'blocked content', output: { blocked: true },
      },
    };
  }

  it('trace.observations: every field of spans, generations and events', () => {
    assert.ok(trace, 'previous test must have read the trace');
    const obs = byId(trace.observations);
    const checks = Object.entries(observationExpectations()).map(([id, exp]) => [obs[id], exp, `observation ${exp.name}`]);
    expectAll(checks);
  });

  it('trace.scores: numeric, categorical (explicit and inferred) and boolean', () => {
    assert.ok(trace, 'previous test must have read the trace');
    const s = byId(trace.scores);
    const common = { traceId: ids.trace, source: 'API', environment: 'default', timestamp: isIso };
    expectAll([
      [s[ids.sNum], { ...common, id: ids.sNum, name: 'quality', value: 0.87, dataType: 'NUMERIC', comment: 'looks right', observationId: null }, 'score quality'],
      [s[ids.sCat], { ...common, id: ids.sCat, name: 'sentiment', value: 0, stringValue: 'positive', dataType: 'CATEGORICAL', observationId: null }, 'score sentiment'],
      [s[ids.sCatInf], { ...common, id: ids.sCatInf, name: 'tone', value: 0, stringValue: 'formal', dataType: 'CATEGORICAL' }, 'score tone (inferred CATEGORICAL)'],
      [s[ids.sBool], { ...common, id: ids.sBool, name: 'correct', value: 1, stringValue: 'True', dataType: 'BOOLEAN', observationId: ids.gen1 }, 'score correct (BOOLEAN)'],
      [s[ids.sNumObs], { ...common, id: ids.sNumObs, name: 'latency-ok', value: 0, dataType: 'NUMERIC', observationId: ids.gen2 }, 'score latency-ok'],
    ]);
  });

  it('GET /api/public/observations/{id} returns the same observation fields', async () => {
    const exp = observationExpectations();
    const checks = [];
    for (const id of [ids.root, ids.gen1, ids.gen2, ids.evErr]) {
      const res = await pollObservation(srv, id);
      assert.equal(res.status, 200, `GET /observations/${id}: ${show(res)}`);
      checks.push([res.json, exp[id], `GET /observations/${exp[id].name}`]);
      const inTrace = byId(trace.observations)[id];
      for (const k of ['id', 'traceId', 'type', 'name', 'startTime', 'endTime', 'completionStartTime', 'model', 'modelParameters',
        'input', 'output', 'metadata', 'level', 'statusMessage', 'parentObservationId', 'usageDetails', 'usage', 'version', 'environment']) {
        checks.push([res.json, { [k]: inTrace?.[k] }, `GET /observations/${exp[id].name} vs trace.observations`]);
      }
    }
    expectAll(checks);
  });

  it('legacy SDK fetchTrace / fetchObservation return exactly what the raw routes return', async () => {
    const lf = legacySdk();
    const raw = await api(srv, 'GET', `/api/public/traces/${ids.trace}`);
    const viaSdk = await lf.fetchTrace(ids.trace);
    assert.deepEqual(canonTrace(viaSdk.data), canonTrace(raw.json));
    const rawObs = await api(srv, 'GET', `/api/public/observations/${ids.gen1}`);
    const sdkObs = await lf.fetchObservation(ids.gen1);
    assert.deepEqual(sdkObs.data, rawObs.json);
    assert.equal(sdkObs.data.model, 'gpt-4o-mini');
  });

  it('@langfuse/client api.trace.get / api.legacy.observationsV1.get agree with the raw routes', async () => {
    const client = new LangfuseClient({ publicKey: projA.publicKey, secretKey: projA.secretKey, baseUrl: srv.baseUrl });
    const raw = await api(srv, 'GET', `/api/public/traces/${ids.trace}`);
    const got = await client.api.trace.get(ids.trace);
    assert.deepEqual(canonTrace(got), canonTrace(raw.json));
    const obs = await client.api.legacy.observationsV1.get(ids.gen2);
    assert.equal(obs.id, ids.gen2);
    assert.equal(obs.type, 'GENERATION');
    assert.deepEqual(obs.usageDetails, { input: 100, output: 20, input_cached_tokens: 30, total: 150 });
    await assert.rejects(client.api.trace.get(uid('missing-'), {}, { maxRetries: 0 }), (e) => e.statusCode === 404);
  });

  it('legacy SDK fetchTraces (GET /api/public/traces) lists the trace with observation and score ids', async () => {
    const lf = legacySdk();
    const raw = await api(srv, 'GET', '/api/public/traces?userId=user-42&name=sdk-e2e');
    assert.equal(raw.status, 200, `list route GET /api/public/traces: ${show(raw)}`);
    const res = await lf.fetchTraces({ userId: 'user-42', name: 'sdk-e2e' });
    assert.ok(Array.isArray(res.data), `data: ${JSON.stringify(res).slice(0, 500)}`);
    assert.equal(res.data.length, 1, `one trace expected: ${JSON.stringify(res.data.map((x) => x.id))}`);
    const item = res.data[0];
    expectFields(item, {
      id: ids.trace, name: 'sdk-e2e', userId: 'user-42', sessionId: ids.session, tags: ['alpha', 'beta', 'gamma'],
      environment: 'default', htmlPath: `/project/${projA.projectId}/traces/${ids.trace}`, timestamp: iso(base),
    }, 'list item');
    assert.deepEqual([...(item.observations || [])].sort(), [ids.root, ids.child, ids.gen1, ids.gen2, ids.gen3, ids.evDebug, ids.evWarn, ids.evErr].sort());
    assert.deepEqual([...(item.scores || [])].sort(), [ids.sNum, ids.sCat, ids.sCatInf, ids.sBool, ids.sNumObs].sort());
    expectFields(res.meta, { page: 1, totalItems: 1, totalPages: 1 }, 'list meta');
  });
});

// ---------------------------------------------------------------------------------------------
describe('ingestion response shape and validation', () => {
  it('a valid batch answers 207 {successes:[{id,status:201}], errors:[]}', async () => {
    const T = uid('shape-');
    const batch = [
      ev('trace-create', { id: T, name: 'shape' }),
      ev('span-create', { id: uid('s-'), traceId: T, name: 's' }),
      ev('generation-create', { id: uid('g-'), traceId: T, name: 'g' }),
      ev('event-create', { id: uid('e-'), traceId: T, name: 'e' }),
      ev('score-create', { id: uid('sc-'), traceId: T, name: 'n', value: 1 }),
    ];
    const res = await ingest(srv, batch);
    assert.equal(res.status, 207, show(res));
    assert.ok(isJsonContentType(res));
    assert.deepEqual(res.json.errors, []);
    assert.deepEqual(sortById(res.json.successes), sortById(batch.map((e) => ({ id: e.id, status: 201 }))));
  });

  it('mixed batch: invalid events get {id,status:400,message,error}, valid ones 201; sdk-log nowhere; no body.id -> 201 but not stored', async () => {
    const T = uid('mixed-trace-');
    const S = uid('mixed-span-');
    const noIdName = uid('no-body-id-');
    const now = new Date().toISOString();
    const valid = [
      ev('trace-create', { id: T, name: 'mixed-valid' }, { id: uid('ok-trace-') }),
      ev('span-create', { id: S, traceId: T, name: 'valid-span', level: 'WARNING' }, { id: uid('ok-span-') }),
      ev('trace-create', { name: noIdName }, { id: uid('ok-no-body-id-') }),
    ];
    const sdkLog = ev('sdk-log', { log: { msg: 'hello from the sdk' } }, { id: uid('sdk-log-') });
    const invalid = [
      ['naive envelope timestamp', { id: uid('bad-'), type: 'trace-create', timestamp: '2024-05-01T10:00:00', body: { id: uid() } }],
      ['naive body timestamp', ev('trace-create', { id: uid(), timestamp: '2024-05-01T10:00:00.000' }, { id: uid('bad-') })],
      ['naive startTime', ev('span-create', { id: uid(), traceId: T, startTime: '2024-05-01 10:00:00' }, { id: uid('bad-') })],
      ['unknown type', ev('foo-create', { id: uid() }, { id: uid('bad-') })],
      ['name: 5', ev('trace-create', { id: uid(), name: 5 }, { id: uid('bad-') })],
      ['tags not an array', ev('trace-create', { id: uid(), tags: 'a' }, { id: uid('bad-') })],
      ['level bogus', ev('span-create', { id: uid(), traceId: T, level: 'bogus' }, { id: uid('bad-') })],
      ['level lower-case error', ev('span-create', { id: uid(), traceId: T, level: 'error' }, { id: uid('bad-') })],
      ['observation without body.id', ev('span-create', { traceId: T, name: 'no id' }, { id: uid('bad-') })],
      ['score with empty name', ev('score-create', { id: uid(), traceId: T, name: '', value: 1 }, { id: uid('bad-') })],
      ['BOOLEAN score value 2', ev('score-create', { id: uid(), traceId: T, name: 'b', value: 2, dataType: 'BOOLEAN' }, { id: uid('bad-') })],
      ['promptName without promptVersion', ev('generation-create', { id: uid(), traceId: T, promptName: 'p' }, { id: uid('bad-') })],
      ['id with \\r', ev('trace-create', { id: 'a\rb' }, { id: uid('bad-') })],
      ['id longer than 800', ev('trace-create', { id: 'x'.repeat(801) }, { id: uid('bad-') })],
    ];
    const publicOnlyInternal = ev('dataset-run-item-create', { id: uid(), traceId: T, datasetItemId: 'x' }, { id: uid('bad-drun-') });
    const missingEnvelopeId = { type: 'trace-create', timestamp: now, body: { id: uid() } };
    const batch = [valid[0], invalid[0][1], sdkLog, invalid[1][1], valid[1], ...invalid.slice(2).map((x) => x[1]), valid[2], publicOnlyInternal, missingEnvelopeId];

    const res = await ingest(srv, batch);
    assert.equal(res.status, 207, show(res));
    const { successes, errors } = res.json;
    assert.deepEqual(sortById(successes), sortById(valid.map((e) => ({ id: e.id, status: 201 }))),
      `successes must be exactly the three valid events; got ${JSON.stringify(successes)}`);
    const errById = byId(errors);
    const problems = [];
    for (const [what, e] of invalid) {
      const err = errById[e.id];
      if (!err) { problems.push(`${what} (${e.id.slice(0, 60)}): not in errors`); continue; }
      if (err.status !== 400) problems.push(`${what}: status ${err.status}, want 400`);
      if (err.message !== 'Invalid request data') problems.push(`${what}: message ${JSON.stringify(err.message)}, want "Invalid request data"`);
      if (typeof err.error !== 'string' || !err.error) problems.push(`${what}: error must be a non-empty string, got ${JSON.stringify(err.error)}`);
    }
    if (!errById[publicOnlyInternal.id] || errById[publicOnlyInternal.id].status !== 400) {
      problems.push(`dataset-run-item-create via the public API: want error status 400, got ${JSON.stringify(errById[publicOnlyInternal.id])}`);
    }
    const unknown = errors.filter((x) => x.id === 'unknown');
    if (unknown.length !== 1 || unknown[0].status !== 400) problems.push(`missing envelope id: want one error with id "unknown" and status 400, got ${JSON.stringify(unknown)}`);
    if (errors.length !== invalid.length + 2) problems.push(`errors: want ${invalid.length + 2} entries, got ${errors.length}`);
    if ([...successes, ...errors].some((x) => x.id === sdkLog.id)) problems.push('sdk-log event must appear in neither successes nor errors');
    assert.deepEqual(problems, [], 'per-event results:\n  ' + problems.join('\n  '));

    // The valid events are stored; the event without body.id is not.
    const tr = await pollTrace(srv, T, (x) => x.observations?.length === 1);
    assert.equal(tr.status, 200, show(tr));
    expectFields(tr.json.observations[0], { id: S, name: 'valid-span', level: 'WARNING', type: 'SPAN' }, 'valid span');
    await sleep(1000);
    const l = await listTraces({ name: noIdName });
    assert.equal(l.status, 200, `GET /api/public/traces?name=...: ${show(l)}`);
    assert.equal(l.json.data.length, 0, `a trace-create without body.id must not be stored: ${l.text.slice(0, 500)}`);
  });

  it('malformed envelopes answer 400 JSON', async () => {
    const cases = [
      ['truncated JSON', '{"batch": ['],
      ['not JSON at all', 'hello'],
      ['empty body', ''],
      ['top-level array', '[]'],
      ['batch is an object', JSON.stringify({ batch: {} })],
      ['batch missing', JSON.stringify({})],
      ['batch is a string', JSON.stringify({ batch: 'x' })],
    ];
    const problems = [];
    for (const [what, body] of cases) {
      const res = await api(srv, 'POST', '/api/public/ingestion', { body });
      if (res.status !== 400) problems.push(`${what}: want 400, got ${show(res)}`);
      else if (!res.json || typeof res.json.message !== 'string') problems.push(`${what}: body must be JSON with message, got ${res.text.slice(0, 200)}`);
    }
    assert.deepEqual(problems, [], problems.join('\n'));

    const res = await api(srv, 'POST', '/api/public/ingestion', { body: { batch: {} } });
    assert.equal(res.json?.message, 'Invalid request data', show(res));
    assert.ok(Array.isArray(res.json?.errors), `{batch:{}} -> 400 {message:"Invalid request data", errors:[...]}: ${show(res)}`);
  });

  it('{batch: []} -> 207 with empty lists; non-object events -> per-event 400', async () => {
    let res = await ingest(srv, []);
    assert.equal(res.status, 207, show(res));
    assert.deepEqual(res.json, { successes: [], errors: [] });
    res = await ingest(srv, [1, 'x', null]);
    assert.equal(res.status, 207, show(res));
    assert.equal(res.json.successes.length, 0);
    assert.equal(res.json.errors.length, 3, show(res));
    assert.ok(res.json.errors.every((e) => e.status === 400), show(res));
  });

  for (const depth of [10_000, 500_000]) {
    it(`${depth}-deep nested JSON in body.input -> clear 400, server alive after`, async () => {
      const T = uid('deep-');
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      const body = `{"batch":[{"id":"${uid('deep-ev-')}","type":"trace-create","timestamp":"${new Date().toISOString()}","body":{"id":"${T}","input":${deep}}}]}`;
      const res = await api(srv, 'POST', '/api/public/ingestion', { body, timeoutMs: 30_000 });
      const envelope400 = res.status === 400 && res.json && typeof res.json.message === 'string';
      const event400 = res.status === 207 && res.json?.errors?.length === 1 && res.json.errors[0].status === 400 && res.json.successes.length === 0;
      assert.ok(envelope400 || event400, `want 400 JSON or 207 with one 400 event error, got ${show(res)}`);
      const h = await api(srv, 'GET', '/api/public/health', { auth: null });
      assert.equal(h.status, 200, `server must stay alive: ${show(h)}`);
      const tr = await api(srv, 'GET', `/api/public/traces/${T}`);
      assert.equal(tr.status, 404, `the rejected trace must not be stored: ${show(tr)}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
describe('merge rules', () => {
  const base = Date.now() - 10 * 60_000;

  it('update before create: span-update in an earlier batch than span-create -> one observation with both', async () => {
    const T = uid('ubc-trace-');
    const S = uid('ubc-span-');
    // The create happened first (earlier envelope timestamp) but is delivered after the update.
    await ingestOk(srv, [
      ev('trace-create', { id: T, name: 'ubc', timestamp: iso(base) }),
      ev('span-update', { id: S, traceId: T, endTime: iso(base + 5000), output: { done: true }, metadata: { phase: 'update' } }, { timestamp: iso(base + 2000) }),
    ]);
    await pollObservation(srv, S); // let the update-only row land first (not asserted)
    await ingestOk(srv, [
      ev('span-create', { id: S, traceId: T, name: 'created-late', startTime: iso(base + 1000), input: { q: 1 }, metadata: { phase2: 'create' } }, { timestamp: iso(base + 1000) }),
    ]);
    const tr = await pollTrace(srv, T, (x) => byId(x.observations)[S]?.name === 'created-late' && byId(x.observations)[S]?.output != null);
    assert.equal(tr.status, 200, show(tr));
    const mine = tr.json.observations.filter((o) => o.id === S);
    assert.equal(mine.length, 1, `one observation ${S} expected, got ${mine.length}`);
    // startTime is not asserted: Langfuse keeps the stored row's start_time (from the update's
    // envelope timestamp) when the update landed first.
    expectFields(mine[0], {
      type: 'SPAN', traceId: T, name: 'created-late', input: { q: 1 }, output: { done: true }, endTime: iso(base + 5000),
      metadata: meta({ phase: 'update', phase2: 'create' }), startTime: isIso,
    }, 'merged span');
    const l = await listObservations({ traceId: T });
    assert.equal(l.status, 200, `list route GET /api/public/observations?traceId=: ${show(l)}`);
    assert.equal(l.json.data.length, 1, `GET /observations?traceId: ${l.text.slice(0, 800)}`);
  });

  it('the same batch delivered three times -> exactly one trace, one of each observation, one score', async () => {
    const T = uid('dup-trace-');
    const name = uid('dup-name-');
    const S = uid('dup-span-'); const G = uid('dup-gen-'); const E = uid('dup-ev-'); const SC = uid('dup-score-');
    const batch = [
      ev('trace-create', { id: T, name, timestamp: iso(base), input: { x: 1 }, tags: ['t1'] }),
      ev('span-create', { id: S, traceId: T, name: 'span', startTime: iso(base), endTime: iso(base + 1000) }),
      ev('generation-create', { id: G, traceId: T, parentObservationId: S, name: 'gen', startTime: iso(base + 100), usage: { input: 10, output: 5, total: 15 } }),
      ev('event-create', { id: E, traceId: T, name: 'ev', startTime: iso(base + 200) }),
      ev('score-create', { id: SC, traceId: T, name: 'dup-score', value: 3 }),
    ];
    for (let i = 0; i < 3; i++) await ingestOk(srv, batch);
    let tr = await pollTrace(srv, T, (x) => x.observations?.length >= 3 && x.scores?.length >= 1);
    assert.equal(tr.status, 200, show(tr));
    await sleep(1500); // give any duplicate row time to land
    tr = await api(srv, 'GET', `/api/public/traces/${T}`);
    const o = tr.json.observations;
    assert.deepEqual(o.map((x) => x.id).sort(), [S, G, E].sort(), `observations: ${JSON.stringify(o.map((x) => x.id))}`);
    assert.deepEqual(tr.json.scores.map((x) => x.id), [SC]);
    expectFields(tr.json, { tags: ['t1'], input: { x: 1 }, name }, 'trace');
    expectFields(byId(o)[G], { usageDetails: { input: 10, output: 5, total: 15 } }, 'generation (usage must not add up)');
    const lt = await listTraces({ name });
    assert.equal(lt.status, 200, `list route GET /api/public/traces?name=: ${show(lt)}`);
    assert.equal(lt.json.data.length, 1, `traces named ${name}: ${lt.text.slice(0, 500)}`);
    assert.equal(lt.json.meta?.totalItems, 1, `meta.totalItems: ${JSON.stringify(lt.json.meta)}`);
    const lo = await listObservations({ traceId: T });
    assert.equal(lo.status, 200, `list route GET /api/public/observations?traceId=: ${show(lo)}`);
    assert.equal(lo.json.data.length, 3, `observations of ${T}: ${JSON.stringify(lo.json.data?.map((x) => x.id))}`);
  });

  it('an update a few seconds after the create still merges into one row', async () => {
    const T = uid('late-trace-');
    const S = uid('late-span-');
    await ingestOk(srv, [
      ev('trace-create', { id: T, name: 'late', timestamp: iso(base), input: 'q' }),
      ev('span-create', { id: S, traceId: T, name: 'late-span', startTime: iso(base), input: { a: 1 } }),
    ]);
    const first = await pollTrace(srv, T, (x) => x.observations?.length === 1);
    assert.equal(first.status, 200, show(first));
    await sleep(2500);
    await ingestOk(srv, [
      ev('span-update', { id: S, traceId: T, endTime: iso(base + 3000), output: { b: 2 }, statusMessage: 'done' }),
      ev('trace-create', { id: T, output: 'answer' }),
    ]);
    const tr = await pollTrace(srv, T, (x) => x.output === 'answer' && x.observations?.[0]?.output != null);
    assert.equal(tr.status, 200, show(tr));
    assert.equal(tr.json.observations.length, 1, `observations: ${JSON.stringify(tr.json.observations.map((x) => x.id))}`);
    expectFields(tr.json, { name: 'late', input: 'q', output: 'answer', timestamp: iso(base) }, 'trace');
    expectFields(tr.json.observations[0], { id: S, name: 'late-span', input: { a: 1 }, output: { b: 2 }, statusMessage: 'done', startTime: iso(base), endTime: iso(base + 3000) }, 'span');
    const lo = await listObservations({ traceId: T });
    assert.equal(lo.json?.data?.length, 1, `list route GET /api/public/observations?traceId=: ${show(lo)}`);
  });

  // Langfuse stores metadata top-level keys as strings (non-strings JSON-encoded) and re-parses
  // JSON on read; `meta()` compares after re-parsing top-level string values, so both shapes pass.
  it('metadata deep merge across batches and within one batch ({a:{x:1}} + {a:{y:2},b:3})', async () => {
    const T1 = uid('meta-sep-'); const S1 = uid('meta-span-'); const T2 = uid('meta-same-');
    await ingestOk(srv, [
      ev('trace-create', { id: T1, name: 'meta', timestamp: iso(base), metadata: { a: { x: 1 } } }),
      ev('span-create', { id: S1, traceId: T1, startTime: iso(base), metadata: { a: { x: 1 } } }),
    ]);
    await pollTrace(srv, T1, (x) => x.observations?.length === 1);
    await ingestOk(srv, [
      ev('trace-create', { id: T1, metadata: { a: { y: 2 }, b: 3 } }),
      ev('span-update', { id: S1, traceId: T1, metadata: { a: { y: 2 }, b: 3 } }),
    ]);
    await ingestOk(srv, [
      ev('trace-create', { id: T2, name: 'meta-same', timestamp: iso(base), metadata: { a: { x: 1 } } }, { timestamp: iso(base) }),
      ev('trace-create', { id: T2, metadata: { a: { y: 2 }, b: 3 } }, { timestamp: iso(base + 1000) }),
    ]);
    const want = { a: { x: 1, y: 2 }, b: 3 };
    const r1 = await pollTrace(srv, T1, (x) => normMeta(x.metadata)?.b === 3 && normMeta(x.observations?.[0]?.metadata)?.b === 3);
    const r2 = await pollTrace(srv, T2, (x) => normMeta(x.metadata)?.b === 3);
    assert.equal(r1.status, 200, show(r1));
    assert.equal(r2.status, 200, show(r2));
    expectAll([
      [r1.json, { metadata: meta(want) }, 'trace (separate batches)'],
      [r1.json.observations[0], { metadata: meta(want) }, 'span (separate batches)'],
      [r2.json, { metadata: meta(want) }, 'trace (one batch)'],
    ]);
  });

  it('tags are the sorted union (["b","a"] then ["c","a"] -> ["a","b","c"])', async () => {
    const T1 = uid('tags-sep-'); const T2 = uid('tags-same-');
    await ingestOk(srv, [ev('trace-create', { id: T1, name: 'tags', tags: ['b', 'a'] })]);
    await pollTrace(srv, T1);
    await ingestOk(srv, [ev('trace-create', { id: T1, tags: ['c', 'a'] })]);
    await ingestOk(srv, [
      ev('trace-create', { id: T2, name: 'tags', tags: ['b', 'a'] }, { timestamp: iso(base) }),
      ev('trace-create', { id: T2, tags: ['c', 'a'] }, { timestamp: iso(base + 1) }),
    ]);
    const r1 = await pollTrace(srv, T1, (x) => x.tags?.length === 3);
    const r2 = await pollTrace(srv, T2, (x) => x.tags?.length === 3);
    expectAll([
      [r1.json, { tags: ['a', 'b', 'c'] }, `trace (separate batches) ${show(r1).slice(0, 80)}`],
      [r2.json, { tags: ['a', 'b', 'c'] }, `trace (one batch) ${show(r2).slice(0, 80)}`],
    ]);
  });

  it('explicit null overwrites (userId: "u" then null), omitted fields keep their value, input keeps the last non-empty', async () => {
    const T = uid('null-');
    const S = uid('null-span-');
    await ingestOk(srv, [
      ev('trace-create', { id: T, name: 'nulls', userId: 'u', sessionId: 's-keep', release: 'r1', version: 'v1', input: 'in', metadata: { k: 'v' } }),
      ev('span-create', { id: S, traceId: T, name: 'span-name', input: { keep: true }, startTime: iso(base) }),
    ]);
    await pollTrace(srv, T, (x) => x.userId === 'u' && x.observations?.length === 1);
    await ingestOk(srv, [
      ev('trace-create', { id: T, userId: null, input: null }),
      ev('span-update', { id: S, traceId: T, name: null, input: null, output: 'out' }),
    ]);
    const r = await pollTrace(srv, T, (x) => x.userId === null && x.observations?.[0]?.output === 'out');
    assert.equal(r.status, 200, show(r));
    expectAll([
      [r.json, { userId: null, name: 'nulls', sessionId: 's-keep', release: 'r1', version: 'v1', input: 'in', metadata: meta({ k: 'v' }) }, 'trace'],
      [r.json.observations[0], { name: null, input: { keep: true }, output: 'out' }, 'span'],
    ]);
  });

  for (const [label, shift] of [['same day, +5 s', 5000], ['next day, +25 h (partition key changes)', 25 * 3600_000]]) {
    it(`trace timestamp, observation startTime and environment never change after the first write (${label})`, async () => {
      const b0 = Date.now() - 3 * 24 * 3600_000; // three days ago
      const T = uid('immut-'); const S = uid('immut-span-'); const name = uid('immut-name-');
      await ingestOk(srv, [
        ev('trace-create', { id: T, name, timestamp: iso(b0), environment: 'staging' }, { timestamp: iso(b0) }),
        ev('span-create', { id: S, traceId: T, name: 'first', startTime: iso(b0 + 100), environment: 'staging' }, { timestamp: iso(b0 + 100) }),
      ]);
      await pollTrace(srv, T, (x) => x.observations?.length === 1);
      await ingestOk(srv, [
        ev('trace-create', { id: T, timestamp: iso(b0 + shift), environment: 'production', release: 'later' }, { timestamp: iso(b0 + shift) }),
        ev('span-update', { id: S, traceId: T, name: 'renamed', startTime: iso(b0 + shift + 100), environment: 'production' }, { timestamp: iso(b0 + shift + 100) }),
      ]);
      const r = await pollTrace(srv, T, (x) => x.release === 'later' && x.observations?.some((o) => o.name === 'renamed'));
      assert.equal(r.status, 200, show(r));
      await sleep(1000);
      const again = await api(srv, 'GET', `/api/public/traces/${T}`);
      expectAll([
        [again.json, { timestamp: iso(b0), environment: 'staging', release: 'later', name }, 'trace'],
        [again.json.observations?.[0], { startTime: iso(b0 + 100), environment: 'staging', name: 'renamed' }, 'span'],
      ]);
      assert.equal(again.json.observations.length, 1, `observations: ${JSON.stringify(again.json.observations)}`);
      const lt = await listTraces({ name });
      assert.equal(lt.status, 200, `list route GET /api/public/traces?name=: ${show(lt)}`);
      assert.equal(lt.json.data.length, 1, `one trace named ${name} expected: ${JSON.stringify(lt.json.data.map((x) => [x.id, x.timestamp]))}`);
      const lo = await listObservations({ traceId: T });
      assert.equal(lo.json?.data?.length, 1, `list route GET /api/public/observations?traceId= (one observation expected): ${show(lo)}`);
    });
  }

  it('environment normalisation: lower-cased, leading langfuse[-_] stripped, invalid -> "default"', async () => {
    const cases = [
      ['Production', 'production'],
      ['Langfuse-Prod', 'prod'],
      ['langfuse_staging', 'staging'],
      ['has space', 'default'],
      ['ümlaut', 'default'],
      ['langfuse', 'default'],
      ['dev-1_a', 'dev-1_a'],
      [undefined, 'default'],
    ];
    const items = cases.map(([env, want]) => ({ env, want, T: uid('env-'), S: uid('env-span-') }));
    const batch = items.flatMap(({ env, T, S }) => [
      ev('trace-create', { id: T, name: 'env', ...(env === undefined ? {} : { environment: env }) }),
      ev('span-create', { id: S, traceId: T, ...(env === undefined ? {} : { environment: env }) }),
    ]);
    const res = await ingest(srv, batch);
    assert.equal(res.status, 207, show(res));
    assert.deepEqual(res.json.errors, [], 'environment problems are never an ingestion error');
    const checks = [];
    for (const { env, want, T, S } of items) {
      const r = await pollTrace(srv, T, (x) => x.observations?.length === 1);
      checks.push([r.json, { environment: want }, `trace environment ${JSON.stringify(env)}`]);
      checks.push([r.json?.observations?.[0], { environment: want, id: S }, `span environment ${JSON.stringify(env)}`]);
    }
    expectAll(checks);
  });
});

// ---------------------------------------------------------------------------------------------
describe('scores API', () => {
  let T;

  before(async () => {
    T = uid('scores-trace-');
    await ingestOk(srv, [ev('trace-create', { id: T, name: 'scores' })]);
    await pollTrace(srv, T);
  });

  it('POST /api/public/scores: Basic -> 200 {id}; Bearer <pk> -> 200 {id}; stored on the trace', async () => {
    const basic = await api(srv, 'POST', '/api/public/scores', { body: { traceId: T, name: 'api-basic', value: 0.5, comment: 'c1' } });
    assert.equal(basic.status, 200, show(basic));
    assert.equal(typeof basic.json?.id, 'string', show(basic));
    const myId = uid('my-score-');
    const withId = await api(srv, 'POST', '/api/public/scores', { body: { id: myId, traceId: T, name: 'api-with-id', value: 1, dataType: 'BOOLEAN' } });
    assert.equal(withId.status, 200, show(withId));
    assert.equal(withId.json.id, myId);
    const bearer = await api(srv, 'POST', '/api/public/scores', { auth: `Bearer ${projA.publicKey}`, body: { traceId: T, name: 'api-bearer', value: 'good' } });
    assert.equal(bearer.status, 200, show(bearer));
    assert.equal(typeof bearer.json?.id, 'string');

    const r = await pollTrace(srv, T, (x) => x.scores?.length >= 3);
    const s = byId(r.json?.scores);
    expectAll([
      [s[basic.json.id], { name: 'api-basic', value: 0.5, dataType: 'NUMERIC', comment: 'c1', traceId: T, source: 'API' }, 'score api-basic'],
      [s[myId], { name: 'api-with-id', value: 1, stringValue: 'True', dataType: 'BOOLEAN' }, 'score api-with-id'],
      [s[bearer.json.id], { name: 'api-bearer', value: 0, stringValue: 'good', dataType: 'CATEGORICAL' }, 'score api-bearer'],
    ]);
    const one = await api(srv, 'GET', `/api/public/scores/${basic.json.id}`);
    assert.equal(one.status, 200, `GET /scores/{id}: ${show(one)}`);
    expectFields(one.json, { id: basic.json.id, name: 'api-basic', value: 0.5, traceId: T }, 'GET /scores/{id}');
  });

  it('POST /api/public/scores rejects bad auth (401) and bad bodies (400)', async () => {
    let res = await api(srv, 'POST', '/api/public/scores', { auth: `Bearer pk-lf-${uid()}`, body: { traceId: T, name: 'x', value: 1 } });
    assert.equal(res.status, 401, show(res));
    assert.equal(typeof res.json?.message, 'string');
    res = await api(srv, 'POST', '/api/public/scores', { body: { traceId: T, value: 1 } });
    assert.equal(res.status, 400, `missing name: ${show(res)}`);
    assert.equal(typeof res.json?.message, 'string');
    res = await api(srv, 'POST', '/api/public/scores', { body: { traceId: T, name: 'b', value: 7, dataType: 'BOOLEAN' } });
    assert.equal(res.status, 400, `BOOLEAN value 7: ${show(res)}`);
  });

  it('ingestion with Bearer <pk>: score-create 201, trace-create 401 "Authentication error"/"Access Scope Denied"', async () => {
    const scoreEv = ev('score-create', { id: uid('bearer-score-'), traceId: T, name: 'bearer-ingest', value: 2 });
    const otherTrace = uid('bearer-trace-');
    const traceEv = ev('trace-create', { id: otherTrace, name: 'must-not-exist' });
    const res = await ingest(srv, [scoreEv, traceEv], { auth: `Bearer ${projA.publicKey}` });
    assert.equal(res.status, 207, show(res));
    assert.deepEqual(res.json.successes, [{ id: scoreEv.id, status: 201 }]);
    assert.equal(res.json.errors.length, 1, show(res));
    expectFields(res.json.errors[0], { id: traceEv.id, status: 401, message: 'Authentication error', error: 'Access Scope Denied' }, 'scope error');
    const r = await pollTrace(srv, T, (x) => x.scores?.some((s) => s.id === scoreEv.body.id));
    assert.ok(r.json?.scores?.some((s) => s.id === scoreEv.body.id && s.value === 2), `Bearer score stored: ${show(r)}`);
    const gone = await api(srv, 'GET', `/api/public/traces/${otherTrace}`);
    assert.equal(gone.status, 404, `trace from a Bearer batch must not be stored: ${show(gone)}`);
  });

  it('LangfuseWeb (public key only, Bearer) score() is stored', async () => {
    const web = new LangfuseWeb({ publicKey: projA.publicKey, baseUrl: srv.baseUrl, fetchRetryCount: 0 });
    const seen = recordIngestion(web);
    const id = uid('web-score-');
    await web.score({ id, traceId: T, name: 'web-feedback', value: 1, comment: 'thumbs up' });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].status, 207, JSON.stringify(seen[0].body));
    assert.deepEqual(seen[0].body.errors, []);
    const r = await pollTrace(srv, T, (x) => x.scores?.some((s) => s.id === id));
    expectFields(byId(r.json?.scores)[id], { name: 'web-feedback', value: 1, comment: 'thumbs up', dataType: 'NUMERIC' }, 'web score');
  });

  it('DELETE /api/public/scores/{id} -> 202, then the score is gone from the trace', async () => {
    const res = await api(srv, 'POST', '/api/public/scores', { body: { traceId: T, name: 'to-delete', value: 9 } });
    assert.equal(res.status, 200, show(res));
    const id = res.json.id;
    await pollTrace(srv, T, (x) => x.scores?.some((s) => s.id === id));
    const del = await api(srv, 'DELETE', `/api/public/scores/${id}`);
    assert.equal(del.status, 202, show(del));
    assert.ok(del.json && typeof del.json === 'object', `DELETE must answer JSON: ${del.text}`);
    const r = await pollTrace(srv, T, (x) => !x.scores?.some((s) => s.id === id));
    assert.ok(r.json && !r.json.scores.some((s) => s.id === id), `score ${id} still on the trace: ${show(r)}`);
    const one = await pollUntil(() => api(srv, 'GET', `/api/public/scores/${id}`), (x) => x.status === 404);
    assert.equal(one.status, 404, `GET deleted score: ${show(one)}`);
  });
});

// ---------------------------------------------------------------------------------------------
describe('project isolation', () => {
  const TA = uid('iso-trace-');
  const SA = uid('iso-span-');
  const SCA = uid('iso-score-');

  before(async () => {
    // Restart on the same data dir with project B's init env; init is additive, so both
    // projects' keys work afterwards. (Done here, last, so a restart problem only affects this suite.)
    await srv.restart({ project: projB });
    await ingestOk(srv, [
      ev('trace-create', { id: TA, name: 'a-version' }),
      ev('span-create', { id: SA, traceId: TA, name: 'a-span' }),
      ev('score-create', { id: SCA, traceId: TA, name: 'a-score', value: 1 }),
    ], { auth: authA });
    await pollTrace(srv, TA, (x) => x.observations?.length === 1 && x.scores?.length === 1, { auth: authA });
  });

  it('project B key sees only project B', async () => {
    const res = await api(srv, 'GET', '/api/public/projects', { auth: authB });
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json.data.map((p) => p.id), [projB.projectId]);
    assert.deepEqual(res.json.data[0].organization, { id: projB.orgId, name: projB.orgName });
  });

  it("project B gets 404 for project A's trace, observation and score ids", async () => {
    const t = await api(srv, 'GET', `/api/public/traces/${TA}`, { auth: authB });
    const o = await api(srv, 'GET', `/api/public/observations/${SA}`, { auth: authB });
    const s = await api(srv, 'GET', `/api/public/scores/${SCA}`, { auth: authB });
    const problems = [];
    for (const [what, r] of [['trace', t], ['observation', o], ['score', s]]) {
      if (r.status !== 404) problems.push(`${what}: want 404, got ${show(r)}`);
      else if (typeof r.json?.message !== 'string') problems.push(`${what}: 404 body must be JSON with message: ${r.text}`);
    }
    assert.deepEqual(problems, [], problems.join('\n'));
    const l = await listTraces({ name: 'a-version' }, authB);
    assert.equal(l.status, 200, `list route GET /api/public/traces?name=: ${show(l)}`);
    assert.equal(l.json.data.length, 0, `B lists A's trace: ${l.text.slice(0, 500)}`);
  });

  it('the same ids written by project B stay separate; B deleting A\'s score id does nothing to A', async () => {
    await ingestOk(srv, [
      ev('trace-create', { id: TA, name: 'b-version' }),
      ev('span-create', { id: SA, traceId: TA, name: 'b-span' }),
    ], { auth: authB });
    const rb = await pollTrace(srv, TA, (x) => x.observations?.length === 1, { auth: authB });
    assert.equal(rb.status, 200, show(rb));
    expectFields(rb.json, { name: 'b-version', htmlPath: `/project/${projB.projectId}/traces/${TA}` }, 'B trace');
    expectFields(rb.json.observations[0], { name: 'b-span' }, 'B span');
    assert.deepEqual(rb.json.scores, [], "B must not see A's score");

    await api(srv, 'DELETE', `/api/public/scores/${SCA}`, { auth: authB });
    await sleep(1000);
    const ra = await api(srv, 'GET', `/api/public/traces/${TA}`, { auth: authA });
    assert.equal(ra.status, 200, show(ra));
    expectFields(ra.json, { name: 'a-version', htmlPath: `/project/${projA.projectId}/traces/${TA}` }, 'A trace');
    assert.equal(ra.json.observations.length, 1);
    expectFields(ra.json.observations[0], { name: 'a-span' }, 'A span');
    assert.deepEqual(ra.json.scores.map((s) => s.id), [SCA], "A's score must survive B's delete");
  });
});
