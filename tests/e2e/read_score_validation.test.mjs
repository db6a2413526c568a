// Scores checked against their score config before they are queued, on both write paths:
// POST /api/public/ingestion (a per-event 400 in the 207, nothing stored for that event) and
// POST /api/public/scores (a 400). Passing scores take the config's name and data type, a
// categorical one its label's numeric value, a boolean one "True"/"False". Config changes
// (archiving) apply to the next score. CORRECTION scores are accepted and read back as
// Langfuse returns them (v2 only, the text as stringValue), and their rules are enforced.
//
// One server, two projects (B by a restart).

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import {
  startServer, cleanupTmp, makeProject, basicAuth, api, ev, ingest, ingestOk, uid, pollUntil, show, withServerLogs,
} from './harness.mjs';
import { validate, responseSchema } from './openapi-validate.mjs';

let srv;
const projA = makeProject('a');
const projB = makeProject('b');
const authA = basicAuth(projA.publicKey, projA.secretKey);
const authB = basicAuth(projB.publicKey, projB.secretKey);
const it = withServerLogs(baseIt, () => [srv]);

const TRACE = 'sv-trace';
const cfg = {};
const get = (p, auth = authA) => api(srv, 'GET', p, { auth });
const readScore = (id) => pollUntil(() => get(`/api/public/v2/scores/${id}`), (r) => r.status === 200);

async function createConfig(body, auth = authA) {
  const res = await api(srv, 'POST', '/api/public/score-configs', { auth, body });
  assert.equal(res.status, 200, show(res));
  return res.json;
}

before(async () => {
  srv = await startServer({ name: 'score-validation', project: projA });
  await srv.restart({ project: projB });
  await ingestOk(srv, [ev('trace-create', { id: TRACE, name: 'scored' })], { auth: authA });
  cfg.num = await createConfig({ name: 'accuracy', dataType: 'NUMERIC', minValue: 0, maxValue: 1 });
  cfg.cat = await createConfig({ name: 'tone', dataType: 'CATEGORICAL', categories: [{ label: 'good', value: 1 }, { label: 'bad', value: -1 }] });
  cfg.bool = await createConfig({ name: 'is_correct', dataType: 'BOOLEAN' });
  cfg.text = await createConfig({ name: 'feedback', dataType: 'TEXT' });
  cfg.foreign = await createConfig({ name: 'theirs', dataType: 'NUMERIC' }, authB);
});

after(async () => {
  if (srv) {
    await srv.stop();
    cleanupTmp(srv, it.failed);
  }
});

// ---------------------------------------------------------------------------------------------
describe('POST /api/public/ingestion: score-create events against their config', () => {
  it('answers a per-event 400 for each failing score and stores only the passing ones', async () => {
    const s = (name) => uid(`sv-${name}-`);
    const ids = {
      num: s('num'), cat: s('cat'), bool: s('bool'), text: s('text'),
      tooBig: s('big'), badLabel: s('label'), wrongType: s('type'), missing: s('missing'), foreign: s('foreign'),
      annotation: s('annotation'), spoof: s('spoof'),
    };
    const score = (id, body) => ev('score-create', { id, traceId: TRACE, name: 'from-client', ...body }, { id: `ev-${id}` });
    const batch = [
      ev('span-create', { id: uid('sv-span-'), traceId: TRACE, name: 'unrelated' }),
      score(ids.num, { value: 0.75, configId: cfg.num.id }),
      score(ids.cat, { value: 'bad', configId: cfg.cat.id }),
      score(ids.bool, { value: 1, configId: cfg.bool.id }),
      score(ids.text, { value: 'fine', configId: cfg.text.id }),
      score(ids.tooBig, { value: 1.5, configId: cfg.num.id }),
      score(ids.badLabel, { value: 'meh', configId: cfg.cat.id }),
      score(ids.wrongType, { value: 1, dataType: 'BOOLEAN', configId: cfg.num.id }),
      score(ids.missing, { value: 1, configId: uid('no-config-') }),
      score(ids.foreign, { value: 1, configId: cfg.foreign.id }),
      score(ids.annotation, { value: 1, source: 'ANNOTATION' }),
      score(ids.spoof, { value: 'x', dataType: 'CATEGORICAL', _configCategoryValue: 42 }),
    ];
    const res = await ingest(srv, batch, { auth: authA });
    assert.equal(res.status, 207, show(res));
    const failed = Object.fromEntries(res.json.errors.map((e) => [e.id, e]));
    assert.deepEqual(Object.keys(failed).sort(),
      [ids.tooBig, ids.badLabel, ids.wrongType, ids.missing, ids.foreign, ids.annotation].map((i) => `ev-${i}`).sort(), show(res));
    for (const e of Object.values(failed)) {
      assert.equal(e.status, 400, JSON.stringify(e));
      assert.equal(e.message, 'Invalid request data', JSON.stringify(e));
    }
    assert.match(failed[`ev-${ids.tooBig}`].error, /Value exceeds maximum value of 1 defined in config/);
    assert.match(failed[`ev-${ids.badLabel}`].error, /Value meh does not map to a valid category/);
    assert.equal(failed[`ev-${ids.wrongType}`].error, 'Data type mismatch based on config: expected NUMERIC, got BOOLEAN');
    assert.equal(failed[`ev-${ids.missing}`].error, 'The configId you provided does not match a valid config in this project');
    assert.equal(failed[`ev-${ids.foreign}`].error, 'The configId you provided does not match a valid config in this project');
    assert.equal(failed[`ev-${ids.annotation}`].error, 'configId is required when source is ANNOTATION (except for CORRECTION scores).');
    assert.equal(res.json.successes.length, 6, show(res));
    assert.ok(res.json.successes.every((x) => x.status === 201));

    // Passing scores, inflated from their config.
    let read = await readScore(ids.num);
    assert.equal(read.status, 200, show(read));
    assert.deepEqual([read.json.name, read.json.value, read.json.dataType, read.json.stringValue, read.json.configId],
      ['accuracy', 0.75, 'NUMERIC', null, cfg.num.id]);
    read = await readScore(ids.cat);
    assert.deepEqual([read.json.name, read.json.value, read.json.dataType, read.json.stringValue], ['tone', -1, 'CATEGORICAL', 'bad']);
    read = await readScore(ids.bool);
    assert.deepEqual([read.json.name, read.json.value, read.json.dataType, read.json.stringValue], ['is_correct', 1, 'BOOLEAN', 'True']);
    read = await readScore(ids.text);
    assert.deepEqual([read.json.name, read.json.dataType, read.json.stringValue], ['feedback', 'TEXT', 'fine']);
    // Only a config check may set a category value.
    read = await readScore(ids.spoof);
    assert.deepEqual([read.json.value, read.json.stringValue], [0, 'x']);
    // Nothing was stored for the failing ones (the passing ones of the same batch are readable).
    for (const id of [ids.tooBig, ids.badLabel, ids.wrongType, ids.missing, ids.foreign, ids.annotation]) {
      assert.equal((await get(`/api/public/v2/scores/${id}`)).status, 404, id);
    }
  });

  it('applies a config change to the next score at once', async () => {
    const patched = await api(srv, 'PATCH', `/api/public/score-configs/${cfg.text.id}`, { auth: authA, body: { isArchived: true } });
    assert.equal(patched.status, 200, show(patched));
    const id = uid('sv-archived-');
    const res = await ingest(srv, [ev('score-create', { id, traceId: TRACE, name: 'x', value: 'late', configId: cfg.text.id }, { id: `ev-${id}` })], { auth: authA });
    assert.equal(res.status, 207, show(res));
    assert.deepEqual(res.json.errors, [{
      id: `ev-${id}`, status: 400, message: 'Invalid request data',
      error: 'Config is archived and cannot be used to create new scores. Please restore the config first.',
    }]);
    const narrowed = await api(srv, 'PATCH', `/api/public/score-configs/${cfg.num.id}`, { auth: authA, body: { maxValue: 0.5 } });
    assert.equal(narrowed.status, 200, show(narrowed));
    const post = await api(srv, 'POST', '/api/public/scores', { auth: authA, body: { traceId: TRACE, name: 'x', value: 0.75, configId: cfg.num.id } });
    assert.equal(post.status, 400, show(post));
    assert.match(post.json.message, /maximum value of 0.5/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('POST /api/public/scores against the config', () => {
  it('maps a categorical label to its value and refuses what the config does not allow', async () => {
    const id = uid('sv-post-cat-');
    let res = await api(srv, 'POST', '/api/public/scores', { auth: authA, body: { id, traceId: TRACE, name: 'ignored', value: 'good', configId: cfg.cat.id } });
    assert.equal(res.status, 200, show(res));
    const read = await readScore(id);
    assert.deepEqual([read.json.name, read.json.value, read.json.stringValue, read.json.dataType], ['tone', 1, 'good', 'CATEGORICAL']);
    res = await api(srv, 'POST', '/api/public/scores', { auth: authA, body: { traceId: TRACE, name: 'x', value: 0, configId: cfg.cat.id } });
    assert.equal(res.status, 400, show(res));
    assert.deepEqual(res.json.error, 'InvalidRequestError');
    res = await api(srv, 'POST', '/api/public/scores', { auth: authB, body: { traceId: TRACE, name: 'x', value: 'good', configId: cfg.cat.id } });
    assert.equal(res.status, 400, show(res));
    assert.equal(res.json.message, 'The configId you provided does not match a valid config in this project');
  });
});

// ---------------------------------------------------------------------------------------------
describe('CORRECTION scores', () => {
  it('are accepted on both write paths and read back as Langfuse returns them', async () => {
    const posted = uid('sv-corr-post-');
    let res = await api(srv, 'POST', '/api/public/scores', {
      auth: authA, body: { id: posted, traceId: TRACE, name: 'ignored', value: 'The corrected output.', dataType: 'CORRECTION', source: 'ANNOTATION' },
    });
    assert.equal(res.status, 200, show(res));
    assert.deepEqual(res.json, { id: posted });
    const ingested = uid('sv-corr-ing-');
    await ingestOk(srv, [ev('score-create', { id: ingested, traceId: TRACE, observationId: 'o', name: 'x', value: 'Fixed.', dataType: 'CORRECTION' })], { auth: authA });

    let read = await readScore(posted);
    assert.equal(read.status, 200, show(read));
    assert.deepEqual(
      [read.json.name, read.json.value, read.json.dataType, read.json.stringValue, read.json.source, read.json.configId],
      ['output', 0, 'CORRECTION', 'The corrected output.', 'ANNOTATION', null]);
    const spec = '/work/shared/reference/langfuse-openapi-v3.225.4.yml';
    const docs = [path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/openapi.yml')];
    if (fs.existsSync(process.env.LANGFUSE_OPENAPI_SPEC || spec)) docs.push(process.env.LANGFUSE_OPENAPI_SPEC || spec);
    for (const file of docs) {
      const doc = YAML.parse(fs.readFileSync(file, 'utf8'), { maxAliasCount: -1 });
      const { schema } = responseSchema(doc, '/api/public/v2/scores/{scoreId}', 'GET', 200);
      assert.deepEqual(validate(doc, schema, read.json), [], `${file}: ${show(read)}`);
    }
    read = await readScore(ingested);
    assert.deepEqual([read.json.name, read.json.stringValue, read.json.observationId], ['output', 'Fixed.', 'o']);
    res = await get(`/api/public/v2/scores?${new URLSearchParams({ dataType: 'CORRECTION' })}`);
    assert.deepEqual(res.json.data.map((x) => x.id).sort(), [posted, ingested].sort());

    // Not a listable type: the v1 routes and the trace do not show it.
    assert.equal((await get(`/api/public/scores/${posted}`)).status, 404);
    res = await get(`/api/public/scores?${new URLSearchParams({ dataType: 'CORRECTION' })}`);
    assert.deepEqual(res.json.data, []);
    res = await get(`/api/public/traces/${TRACE}`);
    assert.equal(res.status, 200, show(res));
    assert.ok(!res.json.scores.some((x) => x.id === posted), show(res));
  });

  it('name no config and belong to a trace or observation only', async () => {
    const post = (body) => api(srv, 'POST', '/api/public/scores', { auth: authA, body: { traceId: TRACE, name: 'x', value: 'text', dataType: 'CORRECTION', ...body } });
    let res = await post({ configId: cfg.num.id });
    assert.equal(res.status, 400, show(res));
    res = await post({ traceId: undefined, sessionId: 'sess' });
    assert.equal(res.status, 400, show(res));
    assert.equal(res.json.message, 'CORRECTION scores cannot be associated with sessions. Please associate with a trace or observation instead.');
    res = await post({ value: 3 });
    assert.equal(res.status, 400, show(res));
    const id = uid('sv-corr-run-');
    res = await ingest(srv, [ev('score-create', { id, datasetRunId: 'run', name: 'x', value: 't', dataType: 'CORRECTION' }, { id: `ev-${id}` })], { auth: authA });
    assert.equal(res.status, 207, show(res));
    assert.equal(res.json.errors.length, 1, show(res));
    assert.equal(res.json.errors[0].error,
      'CORRECTION scores cannot be associated with dataset runs. Please associate with a trace or observation instead.');
  });
});
