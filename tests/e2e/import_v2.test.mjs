// `langfuse import-v2`: a Langfuse v2 fixture database (tests/fixtures/langfuse_v2: transactional.sql
// then tracing.sql) built in a private database of the test PostgreSQL server
// (LANGFUSE_TEST_POSTGRES_URL), imported into a fresh instance, then read back through the public
// API and compared entity by entity with the source rows. Also: the v2 SDK key authenticates, an
// import killed half way resumes to identical results without duplicates, a second run changes
// nothing, bad input (unreachable source, a database that is not v2, a target holding another
// source's data) is refused with a clear message and no change, and the worker's background job
// (LANGFUSE_IMPORT_V2_FROM) does the same import, after which a v2 key refused before the import
// works at once (its cached refusal is dropped). With LANGFUSE_E2E_TOPOLOGY=scale the instance
// is the scale topology (Postgres, Redis, ClickHouse over HTTP) and the command runs beside it.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, cleanupTmp, api, basicAuth, normMeta, pollUntil, requireBin, withServerLogs } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, '..', 'fixtures', 'langfuse_v2');
const PG = process.env.LANGFUSE_TEST_POSTGRES_URL;
const SKIP = PG ? false : 'needs LANGFUSE_TEST_POSTGRES_URL (scripts/services starts PostgreSQL)';
const V2_AUTH = basicAuth('pk-lf-v2-fixture', 'sk-lf-v2-fixture-secret');

const servers = [];
const it = withServerLogs(baseIt, () => servers);
const databases = [];

function dbUrl(name) {
  const u = new URL(PG);
  u.pathname = '/' + name;
  return u.toString();
}

function psql(url, args, input) {
  return execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, ...args], { input, encoding: 'utf8', maxBuffer: 256 << 20 });
}

/** A fresh database with the v2 fixture; returns its URL. */
function createFixtureDb(tag) {
  const name = `lf_v2_${tag}_${crypto.randomBytes(4).toString('hex')}`;
  psql(PG, ['-c', `CREATE DATABASE ${name}`]);
  databases.push(name);
  const url = dbUrl(name);
  psql(url, ['-f', path.join(FIXTURES, 'transactional.sql')]);
  psql(url, ['-f', path.join(FIXTURES, 'tracing.sql')]);
  return url;
}

/** Rows of a query as parsed JSON objects. */
function rows(url, sql) {
  const out = psql(url, ['-At', '-c', `SELECT coalesce(json_agg(x), '[]') FROM (${sql}) x`]);
  return JSON.parse(out);
}

// The environment the command needs to reach the instance's stores.
function storeEnv(srv) {
  if (srv.scale) {
    const env = { ...srv.scale.workers[0].env };
    delete env.LANGFUSE_WORKER_PORT;
    return env;
  }
  const env = { ...process.env };
  for (const k of ['DATABASE_URL', 'CLICKHOUSE_URL', 'REDIS_CONNECTION_STRING', 'REDIS_HOST']) delete env[k];
  return { ...env, LANGFUSE_DATA_DIR: srv.dataDir, SALT: srv.salt };
}

/** Runs `langfuse import-v2`; onStderr(line, child) sees progress lines as they come. */
function runImport(env, args, { onStderr } = {}) {
  return new Promise((resolve) => {
    const child = spawn(requireBin(), ['import-v2', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      stderr += d;
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const line of lines) onStderr?.(line, child);
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The summary table printed at the end: {table: {source, imported, target}}. */
function summary(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (m) out[m[1]] = { source: Number(m[2]), imported: Number(m[3]), target: Number(m[4]) };
  }
  return out;
}

// Embedded stores belong to one process: the server stops while the command runs.
async function importInto(srv, url, args = []) {
  if (!srv.scale) await srv.stop();
  const res = await runImport(storeEnv(srv), ['--from', url, ...args]);
  if (!srv.scale) await srv.restart();
  return res;
}

async function allPages(srv, route, auth = V2_AUTH) {
  const out = [];
  for (let page = 1; ; page++) {
    const sep = route.includes('?') ? '&' : '?';
    const res = await api(srv, 'GET', `${route}${sep}limit=100&page=${page}`, { auth, timeoutMs: 60_000 });
    assert.equal(res.status, 200, `${route} page ${page}: ${res.text.slice(0, 500)}`);
    out.push(...res.json.data);
    if (page >= res.json.meta.totalPages) return { items: out, total: res.json.meta.totalItems };
  }
}

const iso = (t) => (t === null || t === undefined ? null : new Date(t + 'Z').toISOString());
const metaOf = (m) => (m === null ? {} : typeof m === 'object' && !Array.isArray(m) ? m : { metadata: m });
const orEmpty = (s) => s ?? '';

// Compares every imported entity of project proj-v2-a with its source row.
async function expectSameAsSource(srv, url) {
  const traces = rows(url, `SELECT * FROM traces WHERE project_id = 'proj-v2-a' ORDER BY id`);
  const got = await allPages(srv, '/api/public/traces');
  assert.equal(got.total, traces.length, 'trace count (deduplicated by the store)');
  const byId = new Map(got.items.map((t) => [t.id, t]));
  const diffs = [];
  for (const s of traces) {
    const t = byId.get(s.id);
    if (!t) { diffs.push(`trace ${s.id} missing`); continue; }
    const want = {
      name: orEmpty(s.name), timestamp: iso(s.timestamp), userId: s.user_id, metadata: metaOf(s.metadata),
      release: s.release, version: s.version, tags: s.tags, public: s.public, bookmarked: s.bookmarked,
      input: s.input, output: s.output, sessionId: s.session_id, environment: 'default',
    };
    const have = {
      name: orEmpty(t.name), timestamp: t.timestamp, userId: t.userId, metadata: normMeta(t.metadata),
      release: t.release, version: t.version, tags: t.tags, public: t.public, bookmarked: t.bookmarked,
      input: t.input, output: t.output, sessionId: t.sessionId, environment: t.environment,
    };
    try { assert.deepStrictEqual(have, want); } catch { diffs.push(`trace ${s.id}: ${JSON.stringify(have)} != ${JSON.stringify(want)}`); }
  }

  const observations = rows(url, `SELECT o.*, p.name AS prompt_name, p.version AS prompt_version FROM observations o
    LEFT JOIN prompts p ON p.id = o.prompt_id WHERE o.project_id = 'proj-v2-a' ORDER BY o.id`);
  const gotObs = await allPages(srv, '/api/public/observations');
  assert.equal(gotObs.total, observations.length, 'observation count (deduplicated by the store)');
  const obsById = new Map(gotObs.items.map((o) => [o.id, o]));
  for (const s of observations) {
    const o = obsById.get(s.id);
    if (!o) { diffs.push(`observation ${s.id} missing`); continue; }
    const cost = {};
    for (const k of ['input', 'output', 'total']) {
      if (s[`calculated_${k}_cost`] !== null) cost[k] = Number(s[`calculated_${k}_cost`]);
    }
    const want = {
      traceId: s.trace_id, type: s.type, name: orEmpty(s.name), parentObservationId: s.parent_observation_id,
      startTime: iso(s.start_time), endTime: iso(s.end_time), completionStartTime: iso(s.completion_start_time),
      metadata: metaOf(s.metadata), level: s.level, statusMessage: s.status_message, version: s.version,
      model: s.model, modelParameters: s.modelParameters ?? {}, input: s.input, output: s.output,
      usageDetails: { input: s.prompt_tokens, output: s.completion_tokens, total: s.total_tokens },
      costDetails: cost, promptId: s.prompt_id, promptName: s.prompt_name, promptVersion: s.prompt_version,
      environment: 'default',
    };
    const have = {
      traceId: o.traceId, type: o.type, name: orEmpty(o.name), parentObservationId: o.parentObservationId,
      startTime: o.startTime, endTime: o.endTime, completionStartTime: o.completionStartTime,
      metadata: normMeta(o.metadata), level: o.level, statusMessage: o.statusMessage, version: o.version,
      model: o.model, modelParameters: o.modelParameters, input: o.input, output: o.output,
      usageDetails: o.usageDetails, costDetails: o.costDetails, promptId: o.promptId, promptName: o.promptName,
      promptVersion: o.promptVersion, environment: o.environment,
    };
    try { assert.deepStrictEqual(have, want); } catch { diffs.push(`observation ${s.id}: ${JSON.stringify(have)} != ${JSON.stringify(want)}`); }
  }

  const scores = rows(url, `SELECT * FROM scores WHERE project_id = 'proj-v2-a' ORDER BY id`);
  const gotScores = await allPages(srv, '/api/public/v2/scores');
  assert.equal(gotScores.total, scores.length, 'score count (deduplicated by the store)');
  const scoreById = new Map(gotScores.items.map((s) => [s.id, s]));
  for (const s of scores) {
    const g = scoreById.get(s.id);
    if (!g) { diffs.push(`score ${s.id} missing`); continue; }
    const want = {
      name: s.name, value: s.value ?? 0, source: s.source, dataType: s.data_type, stringValue: s.string_value,
      configId: s.config_id, comment: s.comment, traceId: s.trace_id, observationId: s.observation_id,
      authorUserId: s.author_user_id, queueId: s.queue_id, timestamp: iso(s.timestamp),
    };
    const have = {
      name: g.name, value: g.value, source: g.source, dataType: g.dataType, stringValue: g.stringValue,
      configId: g.configId, comment: g.comment, traceId: g.traceId, observationId: g.observationId,
      authorUserId: g.authorUserId, queueId: g.queueId, timestamp: g.timestamp,
    };
    try { assert.deepStrictEqual(have, want); } catch { diffs.push(`score ${s.id}: ${JSON.stringify(have)} != ${JSON.stringify(want)}`); }
  }
  assert.deepEqual(diffs.slice(0, 5), [], `${diffs.length} entities differ from the source`);
}

const TRACING = { traces: 1000, observations: 4000, scores: 1100 };

function expectFullSummary(res) {
  const s = summary(res.stdout);
  for (const [table, n] of Object.entries(TRACING)) {
    assert.deepEqual({ source: s[table]?.source, target: s[table]?.target }, { source: n, target: n }, `${table} in\n${res.stdout}`);
  }
  return s;
}

describe('langfuse import-v2', { skip: SKIP }, () => {
  let source;
  let other;
  let main;

  before(() => {
    source = createFixtureDb('a');
    // Another v2 database: same rows plus one trace of its own.
    other = createFixtureDb('b');
    psql(other, ['-c', `INSERT INTO traces (id, project_id, name) VALUES ('trace-other-only', 'proj-v2-a', 'other')`]);
  });

  after(async () => {
    for (const s of servers) {
      await s.stop();
      cleanupTmp(s, it.failed);
    }
    for (const name of databases) {
      try { psql(PG, ['-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]); } catch { /* best effort */ }
    }
  });

  it('imports everything; the API shows every trace, observation and score as the source has it; the v2 key works', { timeout: 300_000 }, async () => {
    main = await startServer({ name: 'import-v2' });
    servers.push(main);
    const res = await importInto(main, source, ['--batch-size', '300']);
    assert.equal(res.code, 0, res.stderr);
    const s = expectFullSummary(res);
    assert.equal(s.traces.imported, 1000);
    for (const t of ['organizations', 'projects', 'api_keys', 'prompts']) assert.ok(s[t]?.target >= 1, `${t} in\n${res.stdout}`);
    assert.match(res.stderr, /observations: 4000\/4000 rows \(100\.0%\)/);
    assert.match(res.stderr, /rows\/s/);

    // The v2 SDK key (bcrypt-hashed in v2) authenticates.
    const health = await api(main, 'GET', '/api/public/projects', { auth: V2_AUTH });
    assert.equal(health.status, 200, health.text);
    assert.equal(health.json.data[0].id, 'proj-v2-a');
    await expectSameAsSource(main, source);
  });

  it('a second run changes nothing', { timeout: 120_000 }, async () => {
    const res = await importInto(main, source);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /already imported: nothing to do/);
    const s = expectFullSummary(res);
    for (const t of Object.keys(TRACING)) assert.equal(s[t].imported, 0);
    const obs = await api(main, 'GET', '/api/public/observations?limit=1', { auth: V2_AUTH });
    assert.equal(obs.json.meta.totalItems, 3600);
  });

  it('a target holding another source\'s data is refused, unchanged', { timeout: 120_000 }, async () => {
    const res = await importInto(main, other);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /already holds data imported from another Langfuse v2 database.*nothing was changed/);
    const got = await api(main, 'GET', '/api/public/traces/trace-other-only', { auth: V2_AUTH });
    assert.equal(got.status, 404);
    const traces = await api(main, 'GET', '/api/public/traces?limit=1', { auth: V2_AUTH });
    assert.equal(traces.json.meta.totalItems, 900);
  });

  it('an unreachable source and a database that is not v2 are refused before the target is touched', { timeout: 60_000 }, async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lf-e2e-import-bad-')), 'data');
    const env = { ...process.env, LANGFUSE_DATA_DIR: dir, SALT: 'x' };
    for (const k of ['DATABASE_URL', 'CLICKHOUSE_URL', 'REDIS_CONNECTION_STRING', 'REDIS_HOST']) delete env[k];
    const unreachable = await runImport(env, ['--from', 'postgresql://postgres@127.0.0.1:1/nothing']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot connect to the Langfuse v2 database at postgresql:\/\/postgres@127\.0\.0\.1:1\/nothing/);
    const notV2 = await runImport(env, ['--from', PG]);
    assert.equal(notV2.code, 2);
    assert.match(notV2.stderr, /is not a Langfuse v2 database: it has no table `projects`/);
    const noArg = await runImport(env, []);
    assert.equal(noArg.code, 2);
    assert.equal(fs.existsSync(dir), false, 'the target data directory was created');
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('killed half way (SIGKILL), the next run resumes: identical results, no duplicates', { timeout: 300_000 }, async () => {
    const srv = await startServer({ name: 'import-v2-kill' });
    servers.push(srv);
    if (!srv.scale) await srv.stop();
    let killedAt = null;
    const first = await runImport(storeEnv(srv), ['--from', source, '--batch-size', '10'], {
      onStderr(line, child) {
        const m = /^observations: (\d+)\/(\d+)/.exec(line);
        if (m && killedAt === null && Number(m[1]) > 0 && Number(m[1]) < Number(m[2])) {
          killedAt = Number(m[1]);
          child.kill('SIGKILL');
        }
      },
    });
    assert.equal(first.signal, 'SIGKILL', `the import ended before it could be killed half way:\n${first.stderr.slice(-2000)}`);
    const second = await runImport(storeEnv(srv), ['--from', source, '--batch-size', '10']);
    assert.equal(second.code, 0, second.stderr);
    const s = expectFullSummary(second);
    // Resumed: the second run copied only what the first had not.
    assert.ok(s.observations.imported < 4000 && s.observations.imported > 0, JSON.stringify(s.observations));
    assert.equal(s.traces.imported, 0);
    if (!srv.scale) await srv.restart();
    await expectSameAsSource(srv, source);
  });

  it('LANGFUSE_IMPORT_V2_FROM: the worker imports in the background', { timeout: 300_000 }, async () => {
    const srv = await startServer({ name: 'import-v2-bg', env: { LANGFUSE_IMPORT_V2_FROM: source } });
    servers.push(srv);
    const done = await pollUntil(
      () => api(srv, 'GET', '/api/public/v2/scores?limit=1', { auth: V2_AUTH }),
      (r) => r.status === 200 && r.json.meta.totalItems === 1000,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.equal(done.json?.meta?.totalItems, 1000, JSON.stringify(done.json ?? done));
    await expectSameAsSource(srv, source);
  });

  it('LANGFUSE_IMPORT_V2_FROM: a v2 key refused before the job imported it works right after', { timeout: 300_000 }, async () => {
    // The source does not exist yet, so the job waits (retrying an unreachable source) while the
    // v2 key is refused; the refusal is cached for the key-cache TTL, an hour here.
    const pending = `lf_v2_late_${crypto.randomBytes(4).toString('hex')}`;
    const late = dbUrl(pending);
    const srv = await startServer({
      name: 'import-v2-late',
      env: { LANGFUSE_IMPORT_V2_FROM: late, LANGFUSE_CACHE_API_KEY_TTL_SECONDS: '3600' },
    });
    servers.push(srv);
    for (let i = 0; i < 2; i++) {
      const refused = await api(srv, 'GET', '/api/public/projects', { auth: V2_AUTH });
      assert.equal(refused.status, 401, refused.text);
    }
    const filled = createFixtureDb('late_fill');
    const from = new URL(filled).pathname.slice(1);
    psql(PG, ['-c', `ALTER DATABASE ${from} RENAME TO ${pending}`]);
    databases[databases.indexOf(from)] = pending;
    // The import drops the cached refusal (in scale mode also in the web processes, over Redis)
    // once the keys are in: without that the key would be refused for the rest of the hour.
    const works = await pollUntil(
      () => api(srv, 'GET', '/api/public/projects', { auth: V2_AUTH }),
      (r) => r.status === 200,
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    assert.equal(works.status, 200, `the v2 key is still refused after the import: ${works.text}`);
    assert.equal(works.json.data[0].id, 'proj-v2-a');
    const scores = await pollUntil(
      () => api(srv, 'GET', '/api/public/v2/scores?limit=1', { auth: V2_AUTH }),
      (r) => r.status === 200 && r.json.meta.totalItems === 1000,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.equal(scores.json?.meta?.totalItems, 1000, JSON.stringify(scores.json ?? scores));
  });
});
