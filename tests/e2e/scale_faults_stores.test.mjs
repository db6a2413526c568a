// Faults of the scale topology's stores (runs when LANGFUSE_E2E_TOPOLOGY=scale; the embedded pass
// reports it skipped): Redis restarted (SIGTERM and SIGKILL) with its append-only file, and
// PostgreSQL stopped and started again. The topology here runs on a Redis and a PostgreSQL of its
// own, started by this file on free ports (the shared test servers of scripts/services are never
// restarted). Every event that got a 207 is readable afterwards exactly once; while a store is down
// the web processes answer 503 with a JSON error, and web and worker recover without a restart.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { startServer, cleanupTmp, api, ev, uid, sleep, freePort, basicAuth, withServerLogs, tcpAccepts, waitFor } from './harness.mjs';
import { scaleTopologyRequested } from './scale_topology.mjs';

const SKIP = scaleTopologyRequested() ? false : 'needs the scale topology (LANGFUSE_E2E_TOPOLOGY=scale)';
let srv;
let redis;
let pg;
const it = withServerLogs(baseIt, () => [srv]);

// ---- private Redis and PostgreSQL --------------------------------------------------------------

// redis-server in the foreground, append-only file fsynced on every write, on a free port.
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(process.env.LANGFUSE_TEST_TMP || os.tmpdir(), 'lf-e2e-redis-'));
  const r = { dir, port: await freePort(), child: null, exited: null, starts: 0 };
  r.url = `redis://127.0.0.1:${r.port}`;
  r.start = async () => {
    r.starts += 1;
    const fd = fs.openSync(path.join(dir, 'redis.log'), 'a');
    r.child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(r.port), '--dir', dir, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    r.exited = new Promise((resolve) => r.child.on('exit', (code, signal) => resolve({ code, signal })));
    await waitFor(`redis on port ${r.port} (start #${r.starts}, log ${dir}/redis.log)`, () => tcpAccepts(r.port), 15_000);
  };
  r.stop = async (signal) => {
    r.child.kill(signal);
    const res = await Promise.race([r.exited, sleep(15_000).then(() => null)]);
    if (!res) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  };
  await r.start();
  return r;
}

// A throw-away PostgreSQL cluster as scripts/services makes one (initdb as the postgres user when
// run as root), on a free port.
async function startPostgres() {
  const bin = fs.readdirSync('/usr/lib/postgresql').sort().map((v) => `/usr/lib/postgresql/${v}/bin`)
    .filter((d) => fs.existsSync(`${d}/pg_ctl`)).pop();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-e2e-pg-'));
  fs.chmodSync(dir, 0o755);
  const asRoot = process.getuid() === 0;
  if (asRoot) {
    const uidPg = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    fs.chownSync(dir, uidPg, -1);
  }
  const run = (args) => {
    const [cmd, ...rest] = asRoot ? ['runuser', '-u', 'postgres', '--', ...args] : args;
    return execFileSync(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 }).toString();
  };
  const p = { dir, port: await freePort() };
  p.url = `postgresql://postgres@127.0.0.1:${p.port}/postgres`;
  run([`${bin}/initdb`, '-D', `${dir}/data`, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
  p.start = () => run([`${bin}/pg_ctl`, '-D', `${dir}/data`, '-l', `${dir}/pg.log`, '-w', '-t', '60', '-o',
    `-c listen_addresses=127.0.0.1 -p ${p.port} -k ${dir} -c fsync=off`, 'start']);
  p.stop = (mode = 'fast') => run([`${bin}/pg_ctl`, '-D', `${dir}/data`, '-m', mode, '-w', '-t', '60', 'stop']);
  p.cleanup = () => {
    try { p.stop('immediate'); } catch { /* not running */ }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  p.start();
  return p;
}

// ---- sending and checking --------------------------------------------------------------------

// Sends batches of trace-create events until stop() is called. A 207 acknowledges its ids; a 503
// must carry a JSON error; anything else is a failure. Ids of unanswered or refused batches may or
// may not be stored (Redis may have written them before the answer was lost).
function startSender(server, run, perBatch = 10) {
  const s = { acked: [], maybe: new Set(), unavailable: 0, unexpected: [], stopped: false };
  s.done = (async () => {
    for (let b = 0; !s.stopped; b++) {
      const ids = Array.from({ length: perBatch }, (_, i) => `${run}-${b}-${i}`);
      let res;
      try {
        res = await api(server, 'POST', '/api/public/ingestion', {
          body: { batch: ids.map((id, i) => ev('trace-create', { id, name: run, input: { b, i } })) },
          timeoutMs: 20_000,
        });
      } catch (e) {
        s.unexpected.push(`batch ${b}: ${e.message}`);
        ids.forEach((id) => s.maybe.add(id));
        continue;
      }
      if (res.status === 207 && res.json?.errors?.length === 0) {
        s.acked.push(...ids);
      } else if (res.status === 503 && typeof res.json?.message === 'string' && res.json.message.length > 0) {
        s.unavailable += 1;
        ids.forEach((id) => s.maybe.add(id));
        await sleep(50);
      } else {
        s.unexpected.push(`batch ${b}: ${res.status} ${res.text.slice(0, 300)}`);
        ids.forEach((id) => s.maybe.add(id));
      }
      await sleep(20);
    }
  })();
  s.stop = async () => {
    s.stopped = true;
    await s.done;
  };
  return s;
}

// The ids of the run's traces the store lists, and the store's own (FINAL) count of them.
async function listRun(server, run) {
  const seen = new Set();
  let totalItems = 0;
  for (let page = 1; ; page++) {
    const res = await api(server, 'GET', `/api/public/traces?name=${encodeURIComponent(run)}&limit=100&page=${page}&fields=core`);
    assert.equal(res.status, 200, res.text);
    for (const t of res.json.data) seen.add(t.id);
    if (page === 1) totalItems = res.json.meta.totalItems;
    if (page >= res.json.meta.totalPages) break;
  }
  return { seen, totalItems };
}

// Every acknowledged id listed, nothing listed twice (the FINAL count equals the distinct ids), and
// nothing listed that was never sent.
async function expectAckedOnce(server, run, sender, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let seen = new Set();
  let totalItems = 0;
  let missing = sender.acked;
  while (Date.now() < deadline) {
    ({ seen, totalItems } = await listRun(server, run));
    missing = sender.acked.filter((id) => !seen.has(id));
    if (missing.length === 0 && totalItems === seen.size) break;
    await sleep(500);
  }
  const unknown = [...seen].filter((id) => !sender.maybe.has(id) && !sender.acked.includes(id));
  assert.deepEqual(
    { missing: missing.slice(0, 10), missingCount: missing.length, duplicates: totalItems - seen.size, unknown },
    { missing: [], missingCount: 0, duplicates: 0, unknown: [] },
    `${sender.acked.length} acknowledged, ${seen.size} listed, FINAL count ${totalItems}`);
}

function assertAllRunning(server) {
  const procs = [...server.scale.webs, ...server.scale.workers];
  const gone = procs.filter((p) => p.exit !== undefined).map((p) => `${p.name}: ${JSON.stringify(p.exit)}`);
  assert.deepEqual(gone, [], 'no web or worker process may exit (they reconnect by themselves)');
  return procs.map((p) => p.child.pid);
}

async function expect503Json(res, what) {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') || '', /application\/json/, what);
  assert.equal(typeof res.json?.message, 'string', `${what}: JSON error with a message: ${res.text.slice(0, 300)}`);
}

// ---- the tests ---------------------------------------------------------------------------------

describe('scale topology: store faults', { skip: SKIP }, () => {
  before(async () => {
    redis = await startRedis();
    pg = await startPostgres();
    const schema = `e2e_${crypto.randomBytes(5).toString('hex')}`;
    srv = await startServer({
      name: 'scale-faults-stores',
      env: { DATABASE_URL: `${pg.url}?schema=${schema}`, REDIS_CONNECTION_STRING: redis.url },
    });
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
    pg?.cleanup();
  });

  for (const signal of ['SIGTERM', 'SIGKILL']) {
    it(`Redis restarted (${signal}) with its append-only file: acknowledged events kept once, 503 while down`, { timeout: 100_000 }, async () => {
      const pids = assertAllRunning(srv);
      const run = uid(`redis-${signal.toLowerCase()}-`);
      const sender = startSender(srv, run);
      try {
        await sleep(1500);
        const ackedBefore = sender.acked.length;
        assert.ok(ackedBefore > 0, 'batches acknowledged before the restart');
        await redis.stop(signal);

        // Down: events cannot be made durable, so no 207; health says why.
        const refused = await api(srv, 'POST', '/api/public/ingestion', {
          body: { batch: [ev('trace-create', { id: `${run}-probe`, name: run })] }, timeoutMs: 15_000,
        });
        sender.maybe.add(`${run}-probe`);
        await expect503Json(refused, 'ingestion while Redis is down');
        const health = await api(srv, 'GET', '/api/public/health', { auth: null });
        assert.equal(health.status, 503, `health while Redis is down: ${health.text}`);
        assert.match(health.json?.status || '', /Queue not available/);
        await waitFor('the sender meeting a 503', () => sender.unavailable > 0, 10_000);
        const ackedWhileDown = sender.acked.length;
        await sleep(1000);
        assert.equal(sender.acked.length, ackedWhileDown, 'nothing acknowledged while Redis is down');

        await redis.start();
        // Web and worker reconnect: new batches are acknowledged again.
        await waitFor('a 207 after Redis came back', () => sender.acked.length > ackedWhileDown + 50, 30_000);
        await sleep(1000);
      } finally {
        await sender.stop();
      }
      assert.deepEqual(sender.unexpected, [], 'answers other than 207 or a 503 JSON error');
      await expectAckedOnce(srv, run, sender, 60_000);
      assert.deepEqual(assertAllRunning(srv), pids, 'the same processes, none restarted');
      const health = await api(srv, 'GET', '/api/public/health', { auth: null });
      assert.equal(health.status, 200, health.text);
    });
  }

  it('PostgreSQL down: 503 JSON errors within a bound, health reports it, everything works again after', { timeout: 120_000 }, async () => {
    const pids = assertAllRunning(srv);
    const created = await api(srv, 'POST', '/api/public/score-configs', {
      body: { name: `before-${crypto.randomBytes(6).toString('hex')}`, dataType: 'NUMERIC', minValue: 0, maxValue: 1 },
    });
    assert.equal(created.status, 200, created.text);
    // Both web processes know the key (their caches answer while the database is down).
    for (let i = 0; i < 4; i++) assert.equal((await api(srv, 'GET', '/api/public/score-configs')).status, 200);

    pg.stop('fast');
    const unknownKey = basicAuth(srv.publicKey, `sk-lf-${crypto.randomUUID()}`);
    for (const [what, call] of [
      ['list score configs', () => api(srv, 'GET', '/api/public/score-configs', { timeoutMs: 30_000 })],
      ['get one score config', () => api(srv, 'GET', `/api/public/score-configs/${created.json.id}`, { timeoutMs: 30_000 })],
      ['create a score config', () => api(srv, 'POST', '/api/public/score-configs', {
        body: { name: `down-${crypto.randomBytes(6).toString('hex')}`, dataType: 'BOOLEAN' }, timeoutMs: 30_000 })],
      ['a key not cached yet', () => api(srv, 'GET', '/api/public/score-configs', { auth: unknownKey, timeoutMs: 30_000 })],
    ]) {
      // Two calls: one per web process behind the round-robin proxy.
      for (let i = 0; i < 2; i++) {
        const t0 = Date.now();
        const res = await call();
        await expect503Json(res, `${what} while PostgreSQL is down`);
        assert.ok(Date.now() - t0 < 15_000, `${what}: answered after ${Date.now() - t0} ms`);
      }
    }
    for (let i = 0; i < 2; i++) {
      const health = await api(srv, 'GET', '/api/public/health', { auth: null, timeoutMs: 30_000 });
      assert.equal(health.status, 503, `health while PostgreSQL is down: ${health.text}`);
      assert.match(health.json?.status || '', /Database not available/);
    }

    pg.start();
    // Recovery without a restart: auth, score configs and ingestion through both web processes.
    await waitFor('score configs answering 200 again', async () =>
      (await api(srv, 'GET', '/api/public/score-configs')).status === 200, 30_000);
    const run = uid('pg-back-');
    const sender = { acked: [], maybe: new Set() };
    for (let i = 0; i < 4; i++) {
      assert.equal((await api(srv, 'GET', '/api/public/score-configs')).status, 200);
      const cfg = await api(srv, 'POST', '/api/public/score-configs', { body: { name: `after-${crypto.randomBytes(6).toString('hex')}`, dataType: 'BOOLEAN' } });
      assert.equal(cfg.status, 200, cfg.text);
      const wrong = await api(srv, 'GET', '/api/public/score-configs', { auth: unknownKey });
      assert.equal(wrong.status, 401, `a wrong secret is refused again: ${wrong.text}`);
      const id = `${run}-${i}`;
      const res = await api(srv, 'POST', '/api/public/ingestion', {
        body: { batch: [ev('trace-create', { id, name: run }), ev('score-create', { traceId: id, name: 'ok', value: 1 })] },
      });
      assert.equal(res.status, 207, res.text);
      assert.deepEqual(res.json.errors, []);
      sender.acked.push(id);
    }
    await expectAckedOnce(srv, run, sender, 30_000);
    assert.deepEqual(assertAllRunning(srv), pids, 'the same processes, none restarted');
    const health = await api(srv, 'GET', '/api/public/health', { auth: null });
    assert.equal(health.status, 200, health.text);
  });
});
