// Foundation: health/ready, project-key auth (raw HTTP and both SDKs), bad input answered with
// the right status and a JSON body, and a restart that keeps the project, keys and data.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Langfuse } from 'langfuse';
import { LangfuseClient } from '@langfuse/client';
import {
  startServer, cleanupTmp, api, rawHttp, basicAuth, ingestOk, ev, uid, pollTrace, show,
  isJsonContentType, withServerLogs,
} from './harness.mjs';

let srv;
const it = withServerLogs(baseIt, () => [srv]);

// Langfuse's auth failure text (apiAuth.ts): "<reason>. Confirm that you've configured the correct host."
const AUTH_HINT = /Confirm that you've configured the correct host/;

function assertJsonError(res, status, what) {
  assert.equal(res.status, status, `${what}: expected HTTP ${status}, got ${show(res)}`);
  assert.ok(isJsonContentType(res), `${what}: content-type must be JSON, got ${res.headers.get?.('content-type') ?? res.headers['content-type']}`);
  assert.ok(res.json && typeof res.json === 'object', `${what}: body must be a JSON object, got ${res.text.slice(0, 300)}`);
  assert.equal(typeof res.json.message, 'string', `${what}: body needs a string "message": ${res.text.slice(0, 300)}`);
  assert.ok(res.json.message.length > 0, `${what}: empty message`);
}

function legacySdk(server, { publicKey = server.publicKey, secretKey = server.secretKey } = {}) {
  return new Langfuse({
    publicKey, secretKey, baseUrl: server.baseUrl,
    flushAt: 1000, flushInterval: 0, fetchRetryCount: 0, requestTimeout: 10_000,
  });
}

describe('foundation', () => {
  before(async () => {
    srv = await startServer({ name: 'foundation' });
  });

  after(async () => {
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
  });

  it('GET /api/public/health answers 200 {status:"OK", version}', async () => {
    const res = await api(srv, 'GET', '/api/public/health', { auth: null });
    assert.equal(res.status, 200, show(res));
    assert.ok(isJsonContentType(res), 'health must be JSON');
    assert.equal(res.json.status, 'OK');
    assert.equal(typeof res.json.version, 'string');
    assert.ok(res.json.version.length > 0, 'version must be non-empty');
  });

  it('GET /api/public/ready answers 200 {status:"OK", version}', async () => {
    const res = await api(srv, 'GET', '/api/public/ready', { auth: null });
    assert.equal(res.status, 200, show(res));
    assert.equal(res.json?.status, 'OK', show(res));
    assert.equal(typeof res.json.version, 'string');
  });

  it('GET /api/public/projects with Basic auth returns the init project', async () => {
    const res = await api(srv, 'GET', '/api/public/projects');
    assert.equal(res.status, 200, show(res));
    assert.ok(Array.isArray(res.json?.data), `data must be an array: ${res.text}`);
    assert.equal(res.json.data.length, 1, `a project key sees exactly its project: ${res.text}`);
    const p = res.json.data[0];
    assert.equal(p.id, srv.project.projectId);
    assert.equal(p.name, srv.project.projectName);
    assert.deepEqual(p.organization, { id: srv.project.orgId, name: srv.project.orgName });
    assert.deepEqual(p.metadata, {});
  });

  it('legacy `langfuse` SDK: api.projectsGet() works with the right keys and fails 401 with a wrong secret', async () => {
    const ok = legacySdk(srv);
    const data = await ok.api.projectsGet();
    assert.equal(data.data[0].id, srv.project.projectId);

    const bad = legacySdk(srv, { secretKey: 'sk-lf-' + uid() });
    let err;
    try { await bad.api.projectsGet(); } catch (e) { err = e; }
    assert.ok(err, 'projectsGet with a wrong secret must reject');
    assert.equal(err.status, 401, `expected the SDK to see 401, got ${err.status}`);
    assert.equal(typeof err.error?.message, 'string', 'SDK must receive a JSON error body with message');
  });

  it('@langfuse/client: api.projects.get() and api.health.health() work; wrong secret -> UnauthorizedError 401', async () => {
    const client = new LangfuseClient({ publicKey: srv.publicKey, secretKey: srv.secretKey, baseUrl: srv.baseUrl });
    const projects = await client.api.projects.get();
    assert.equal(projects.data.length, 1);
    assert.equal(projects.data[0].id, srv.project.projectId);
    assert.equal(projects.data[0].name, srv.project.projectName);
    const health = await client.api.health.health();
    assert.equal(health.status, 'OK');

    const bad = new LangfuseClient({ publicKey: srv.publicKey, secretKey: 'sk-lf-' + uid(), baseUrl: srv.baseUrl });
    await assert.rejects(bad.api.projects.get({ maxRetries: 0 }), (e) => {
      assert.equal(e.statusCode, 401, `expected 401, got ${e.statusCode}: ${e.message}`);
      assert.equal(typeof e.body?.message, 'string', `error body must be JSON with message: ${JSON.stringify(e.body)}`);
      return true;
    });
  });

  it('no Authorization header -> 401 JSON', async () => {
    const res = await api(srv, 'GET', '/api/public/projects', { auth: null });
    assertJsonError(res, 401, 'no auth');
    // Langfuse's own text for this case carries no host hint (apiAuth.ts, v3.225.4).
    assert.equal(res.json.message, 'No authorization header');
  });

  it('garbled Authorization headers -> 401 JSON', async () => {
    const cases = [
      ['Basic !!!', 'Basic with non-base64 payload'],
      ['Basic ' + Buffer.from('no-colon-here').toString('base64'), 'Basic without a colon'],
      ['Basic ', 'Basic with empty payload'],
      ['Basic ' + Buffer.from(':').toString('base64'), 'Basic with empty keys'],
      ['Digest abc', 'unknown scheme'],
      ['garbage', 'no scheme'],
    ];
    for (const [header, what] of cases) {
      const res = await api(srv, 'GET', '/api/public/projects', { auth: header });
      assertJsonError(res, 401, what);
    }
  });

  it('wrong secret key -> 401 JSON; unknown key pair -> 401 JSON', async () => {
    let res = await api(srv, 'GET', '/api/public/projects', { auth: basicAuth(srv.publicKey, 'sk-lf-' + uid()) });
    assertJsonError(res, 401, 'wrong secret');
    assert.match(res.json.message, AUTH_HINT);
    res = await api(srv, 'GET', '/api/public/traces/some-id', { auth: basicAuth('pk-lf-' + uid(), 'sk-lf-' + uid()) });
    assertJsonError(res, 401, 'unknown keys on GET /traces/{id}');
  });

  it('Bearer <public key> on GET /api/public/projects -> 401 or 403 JSON (scores-only access)', async () => {
    const res = await api(srv, 'GET', '/api/public/projects', { auth: `Bearer ${srv.publicKey}` });
    assert.ok(res.status === 401 || res.status === 403, `expected 401/403, got ${show(res)}`);
    assertJsonError(res, res.status, 'Bearer pk on /projects');
    const res2 = await api(srv, 'GET', '/api/public/traces/x', { auth: `Bearer ${srv.publicKey}` });
    assert.ok(res2.status === 401 || res2.status === 403, `Bearer pk on GET /traces/{id}: expected 401/403, got ${show(res2)}`);
    assertJsonError(res2, res2.status, 'Bearer pk on /traces/{id}');
  });

  it('5 MB POST /api/public/ingestion (Content-Length) -> 413 JSON', async () => {
    const big = JSON.stringify({ batch: [ev('trace-create', { id: uid(), input: 'x'.repeat(5 * 1024 * 1024) })] });
    const res = await rawHttp(srv, {
      path: '/api/public/ingestion',
      headers: { Authorization: srv.auth, 'Content-Type': 'application/json' },
      body: big,
    });
    assertJsonError(res, 413, '5 MB ingestion body');
  });

  it('5 MB POST /api/public/ingestion (chunked, no Content-Length) -> 413 JSON', async () => {
    const big = JSON.stringify({ batch: [ev('trace-create', { id: uid(), input: 'y'.repeat(5 * 1024 * 1024) })] });
    const res = await rawHttp(srv, {
      path: '/api/public/ingestion',
      headers: { Authorization: srv.auth, 'Content-Type': 'application/json' },
      body: big,
      chunked: true,
    });
    assertJsonError(res, 413, '5 MB chunked ingestion body');
  });

  it('unknown route -> 404 JSON', async () => {
    let res = await api(srv, 'GET', '/api/public/does-not-exist');
    assertJsonError(res, 404, 'GET /api/public/does-not-exist');
    res = await api(srv, 'GET', '/api/public/does-not-exist', { auth: null });
    assert.ok(res.status === 404 || res.status === 401, `unauthenticated unknown route: expected 404 or 401, got ${show(res)}`);
    assert.ok(res.json && typeof res.json.message === 'string', `unknown route without auth must still answer JSON: ${show(res)}`);
  });

  it('wrong method -> 405 JSON', async () => {
    let res = await api(srv, 'DELETE', '/api/public/health', { auth: null });
    assertJsonError(res, 405, 'DELETE /api/public/health');
    res = await api(srv, 'GET', '/api/public/ingestion');
    assertJsonError(res, 405, 'GET /api/public/ingestion');
    res = await api(srv, 'PUT', '/api/public/ingestion', { body: { batch: [] } });
    assertJsonError(res, 405, 'PUT /api/public/ingestion');
  });

  it('CORS: OPTIONS preflight is answered and the origin reflected', async () => {
    const res = await fetch(`${srv.baseUrl}/api/public/ingestion`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.com',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });
    await res.arrayBuffer();
    assert.ok(res.status >= 200 && res.status < 300, `OPTIONS preflight: expected 2xx, got ${res.status}`);
    const allow = res.headers.get('access-control-allow-origin');
    assert.ok(allow === 'https://app.example.com' || allow === '*', `access-control-allow-origin: ${allow}`);
  });

  it('server still healthy after the bad input above', async () => {
    const res = await api(srv, 'GET', '/api/public/health', { auth: null });
    assert.equal(res.status, 200, show(res));
    const p = await api(srv, 'GET', '/api/public/projects');
    assert.equal(p.status, 200, show(p));
  });

  it('SIGTERM exits cleanly; restart keeps project, keys and data (twice)', async () => {
    const traceId = uid('restart-');
    await ingestOk(srv, [ev('trace-create', { id: traceId, name: 'before-restart', userId: 'u-restart' })]);
    const before = await pollTrace(srv, traceId);
    assert.equal(before.status, 200, `trace must be readable before restart: ${show(before)}`);

    for (let round = 1; round <= 2; round++) {
      const stopped = await srv.stop();
      const exitInfo = `exit after SIGTERM: code=${stopped.code} signal=${stopped.signal} forced=${stopped.forced}`;
      let restartError;
      try { await srv.restart(); } catch (e) { restartError = e; }
      assert.ok(!restartError, `round ${round}: restart on the same data dir failed (${exitInfo}): ${restartError?.message}`);
      assert.equal(stopped.forced, false, `round ${round}: server did not exit within 20 s of SIGTERM`);
      assert.equal(stopped.code, 0, `round ${round}: ${exitInfo}`);

      const health = await api(srv, 'GET', '/api/public/health', { auth: null });
      assert.equal(health.status, 200, show(health));
      const projects = await api(srv, 'GET', '/api/public/projects');
      assert.equal(projects.status, 200, `round ${round}: project key after restart: ${show(projects)}`);
      assert.equal(projects.json.data[0].id, srv.project.projectId);
      const bad = await api(srv, 'GET', '/api/public/projects', { auth: basicAuth(srv.publicKey, 'sk-lf-wrong') });
      assert.equal(bad.status, 401, `round ${round}: wrong secret after restart: ${show(bad)}`);

      const after = await pollTrace(srv, traceId);
      assert.equal(after.status, 200, `round ${round}: trace after restart: ${show(after)}`);
      assert.equal(after.json.name, 'before-restart');
      assert.equal(after.json.userId, 'u-restart');

      const client = new LangfuseClient({ publicKey: srv.publicKey, secretKey: srv.secretKey, baseUrl: srv.baseUrl });
      const viaSdk = await client.api.trace.get(traceId);
      assert.equal(viaSdk.id, traceId);
    }
  });
});
