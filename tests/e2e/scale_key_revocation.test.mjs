// API key revocation in the scale topology (runs when LANGFUSE_E2E_TOPOLOGY=scale; the embedded
// pass reports it skipped). Each web process caches API keys (LANGFUSE_CACHE_API_KEY_TTL_SECONDS,
// 300 s here); a key deleted through web process A must stop working on web process B at once,
// which takes the revocation going from A to B over Redis. Also when Redis restarts meanwhile: B,
// having lost its subscription, re-checks cached keys every few seconds and drops its cache when
// the subscription is back. The topology runs on a Redis of its own (restarted by the test).

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startServer, cleanupTmp, api, uid, sleep, freePort, basicAuth, show, withServerLogs, tcpAccepts, waitFor } from './harness.mjs';
import { scaleTopologyRequested } from './scale_topology.mjs';

const SKIP = scaleTopologyRequested() ? false : 'needs the scale topology (LANGFUSE_E2E_TOPOLOGY=scale)';
// How long B may go on accepting a key revoked through A while Redis is up.
const PROPAGATION_BOUND_MS = 2000;
// ...and while B's subscription is down (the web process re-checks cached keys older than 2 s).
const OUTAGE_BOUND_MS = 5000;

let srv;
let redis;
const it = withServerLogs(baseIt, () => [srv]);

// redis-server in the foreground on a free port, without persistence (the queue is empty here).
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(process.env.LANGFUSE_TEST_TMP || os.tmpdir(), 'lf-e2e-redis-rev-'));
  const r = { dir, port: await freePort(), child: null, exited: null };
  r.url = `redis://127.0.0.1:${r.port}`;
  r.start = async () => {
    const fd = fs.openSync(path.join(dir, 'redis.log'), 'a');
    r.child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(r.port), '--dir', dir, '--save', '',
      '--appendonly', 'no'], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    r.exited = new Promise((resolve) => r.child.on('exit', (code, signal) => resolve({ code, signal })));
    await waitFor(`redis on port ${r.port} (log ${dir}/redis.log)`, () => tcpAccepts(r.port), 15_000);
  };
  r.stop = async (signal = 'SIGKILL') => {
    r.child.kill(signal);
    await r.exited;
  };
  await r.start();
  return r;
}

// The topology's web process `i` (0: A, 1: B) addressed directly, not through the proxy.
function web(server, i) {
  return { ...server, baseUrl: `http://127.0.0.1:${server.scale.webPorts[i]}` };
}

// A browser-like UI session (cookie + CSRF token) against one web process.
async function uiSession(server) {
  const s = { cookie: null, csrf: null };
  s.call = async (method, urlPath, body) => {
    const headers = {};
    if (s.cookie) headers.Cookie = s.cookie;
    if (s.csrf && method !== 'GET') headers['X-CSRF-Token'] = s.csrf;
    const res = await api(server, method, urlPath, { body, auth: null, headers });
    for (const sc of res.headers.getSetCookie()) {
      const [name, value] = sc.split(';')[0].split('=');
      if (name === 'langfuse.session') s.cookie = value ? `langfuse.session=${value}` : null;
    }
    return res;
  };
  const email = `rev-${uid().slice(0, 8)}@example.com`;
  const signup = await s.call('POST', '/api/ui/auth/signup', { name: 'Rev', email, password: 'correct horse' });
  assert.equal(signup.status, 201, show(signup));
  const session = await s.call('GET', '/api/ui/auth/session');
  assert.equal(session.status, 200, show(session));
  s.csrf = session.json.csrfToken;
  const org = await s.call('POST', '/api/ui/organizations', { name: 'Revocations' });
  assert.equal(org.status, 201, show(org));
  const project = await s.call('POST', `/api/ui/organizations/${org.json.id}/projects`, { name: 'Keys' });
  assert.equal(project.status, 201, show(project));
  s.projectId = project.json.id;
  return s;
}

async function createKey(session) {
  const res = await session.call('POST', `/api/ui/projects/${session.projectId}/api-keys`, { note: 'revocation test' });
  assert.equal(res.status, 201, show(res));
  return { id: res.json.id, auth: basicAuth(res.json.publicKey, res.json.secretKey) };
}

async function revoke(session, key) {
  const res = await session.call('DELETE', `/api/ui/projects/${session.projectId}/api-keys/${key.id}`);
  assert.equal(res.status, 200, show(res));
}

// GET /api/public/projects needs only the key and the transactional store.
async function statusWith(server, key) {
  return (await api(server, 'GET', '/api/public/projects', { auth: key.auth, timeoutMs: 10_000 })).status;
}

// A value from a web process's /metrics (NaN when absent).
async function metric(server, name) {
  const res = await api(server, 'GET', '/metrics', { auth: null, timeoutMs: 10_000 });
  const line = res.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

// Polls until `server` refuses `key`; returns the milliseconds that took (or fails after `boundMs`).
async function msUntilRefused(server, key, boundMs, what) {
  const t0 = Date.now();
  let status;
  while (Date.now() - t0 < boundMs + 3000) {
    status = await statusWith(server, key);
    if (status === 401) break;
    assert.equal(status, 200, `${what}: unexpected answer`);
    await sleep(50);
  }
  const elapsed = Date.now() - t0;
  assert.equal(status, 401, `${what}: still accepted ${elapsed} ms after the revocation`);
  assert.ok(elapsed <= boundMs, `${what}: refused only after ${elapsed} ms (bound ${boundMs} ms)`);
  return elapsed;
}

describe('scale topology: API key revocation reaches every web process', { skip: SKIP }, () => {
  let a;
  let b;
  let session;

  before(async () => {
    redis = await startRedis();
    srv = await startServer({
      name: 'scale-key-revocation',
      env: {
        REDIS_CONNECTION_STRING: redis.url,
        LANGFUSE_CACHE_API_KEY_ENABLED: 'true',
        LANGFUSE_CACHE_API_KEY_TTL_SECONDS: '300',
      },
    });
    a = web(srv, 0);
    b = web(srv, 1);
    session = await uiSession(a);
  });

  after(async () => {
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
    if (redis) {
      await redis.stop('SIGKILL');
      if (!it.failed) fs.rmSync(redis.dir, { recursive: true, force: true });
    }
  });

  it('a key deleted through web A is refused by web B within 2 s, though B had it cached', { timeout: 30_000 }, async () => {
    const key = await createKey(session);
    const kept = await createKey(session);
    for (const k of [key, kept]) {
      for (let i = 0; i < 3; i++) assert.equal(await statusWith(b, k), 200, 'B accepts (and caches) the key');
    }
    assert.equal(await statusWith(a, key), 200);

    await revoke(session, key);
    assert.equal(await statusWith(a, key), 401, 'A refuses at once');
    await msUntilRefused(b, key, PROPAGATION_BOUND_MS, 'web B');
    assert.ok(await metric(b, 'langfuse_api_key_revocations_received_total') >= 1, 'B received the revocation');
    // Through the proxy, whichever process answers.
    for (let i = 0; i < 4; i++) assert.equal(await statusWith(srv, key), 401);
    // The other key of the project is not affected.
    assert.equal(await statusWith(b, kept), 200);
    assert.equal(await statusWith(a, kept), 200);
  });

  it('Redis restarted meanwhile: B still refuses a key revoked while its subscription was down, within seconds', { timeout: 90_000 }, async () => {
    const key = await createKey(session);
    const kept = await createKey(session);
    for (const k of [key, kept]) {
      for (let i = 0; i < 3; i++) assert.equal(await statusWith(b, k), 200);
    }

    await redis.stop('SIGKILL');
    try {
      // The UI's delete needs only PostgreSQL; A publishes the revocation when Redis is back.
      await revoke(session, key);
      assert.equal(await statusWith(a, key), 401);
      await msUntilRefused(b, key, OUTAGE_BOUND_MS, 'web B while Redis is down');
      assert.equal(await statusWith(b, kept), 200, 'valid keys keep working from the database');
    } finally {
      await redis.start();
    }

    // Still refused after the subscription is back, and new revocations travel again.
    const next = await createKey(session);
    await waitFor('web B subscribed again', async () => (await metric(b, 'langfuse_api_key_revocation_subscribed')) === 1, 10_000);
    for (let i = 0; i < 3; i++) assert.equal(await statusWith(b, next), 200);
    assert.equal(await statusWith(b, key), 401);
    assert.equal(await statusWith(b, kept), 200);
    for (let i = 0; i < 3; i++) assert.equal(await statusWith(b, next), 200);
    await revoke(session, next);
    await msUntilRefused(b, next, PROPAGATION_BOUND_MS, 'web B after the restart');
  });
});
