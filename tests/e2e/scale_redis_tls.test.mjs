// Redis over TLS in the scale topology (runs when LANGFUSE_E2E_TOPOLOGY=scale; the embedded pass
// reports it skipped). The topology's web and worker processes reach a TLS-only redis-server of
// this file's own (`--port 0 --tls-port`, client certificates required, a password) through a
// `rediss://` connection string and Langfuse's REDIS_TLS_* variables, with a certificate
// authority, server and client certificates made by `openssl` in a temporary directory. A batch is
// accepted and becomes readable, the queue's keys and the API key revocation subscriptions are in
// that Redis, and the processes stop cleanly on SIGTERM.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import crypto from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { startServer, cleanupTmp, api, ev, uid, sleep, freePort, ingestOk, pollTrace, withServerLogs } from './harness.mjs';
import { scaleTopologyRequested } from './scale_topology.mjs';

const SKIP = scaleTopologyRequested() ? false : 'needs the scale topology (LANGFUSE_E2E_TOPOLOGY=scale)';
const KEY_PREFIX = `tls-e2e-${crypto.randomBytes(3).toString('hex')}:`;
let srv;
let redis;
const it = withServerLogs(baseIt, () => [srv]);

// A throwaway CA, a server certificate for redis.test and 127.0.0.1, a client certificate.
function makeCertificates(dir) {
  const script = `set -e
cd '${dir}'
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=Langfuse e2e CA" \\
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
leaf() {
  key $1.key
  openssl req -new -key $1.key -out $1.csr -subj "/CN=$2"
  printf '%s\\n' "$3" > $1.ext
  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext 2>/dev/null
}
leaf server redis.test 'subjectAltName=DNS:redis.test,IP:127.0.0.1'
leaf client langfuse 'extendedKeyUsage=clientAuth'
`;
  execFileSync('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  return {
    ca: path.join(dir, 'ca.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    cert: path.join(dir, 'client.pem'),
    key: path.join(dir, 'client.key'),
  };
}

// One command over TLS (RESP), after AUTH; resolves with the raw answer to the command.
function tlsCommand(r, args) {
  const encode = (parts) => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1', port: r.port, servername: 'redis.test',
      ca: fs.readFileSync(r.certs.ca), cert: fs.readFileSync(r.certs.cert), key: fs.readFileSync(r.certs.key),
    });
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${args[0]}`)); }, 5000);
    socket.once('secureConnect', () => socket.write(encode(['AUTH', r.password]) + encode(args)));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const auth = data.indexOf('\r\n');
      if (auth < 0) return;
      if (!data.startsWith('+OK')) { clearTimeout(timer); socket.destroy(); reject(new Error(`AUTH: ${data}`)); return; }
      const answer = data.slice(auth + 2);
      // Integer answers, and PUBSUB NUMSUB's two-element array, end with an integer line.
      if (/^:-?\d+\r\n$/.test(answer) || /^\*2\r\n\$\d+\r\n[^\r]*\r\n:\d+\r\n$/.test(answer)) {
        clearTimeout(timer);
        socket.end();
        resolve(answer);
      }
    });
    socket.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const lastInteger = (answer) => Number(/:(-?\d+)\r\n$/.exec(answer)[1]);

async function startTlsRedis() {
  const dir = fs.mkdtempSync(path.join(process.env.LANGFUSE_TEST_TMP || os.tmpdir(), 'lf-e2e-redis-tls-'));
  const r = { dir, port: await freePort(), password: `tls-${crypto.randomBytes(6).toString('hex')}` };
  r.certs = makeCertificates(dir);
  const fd = fs.openSync(path.join(dir, 'redis.log'), 'a');
  r.child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', '0', '--tls-port', String(r.port),
    '--tls-cert-file', r.certs.serverCert, '--tls-key-file', r.certs.serverKey, '--tls-ca-cert-file', r.certs.ca,
    '--tls-auth-clients', 'yes', '--requirepass', r.password, '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  r.exited = new Promise((resolve) => r.child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await tlsCommand(r, ['DBSIZE']);
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`TLS redis on port ${r.port} not answering (log ${dir}/redis.log): ${e.message}`);
      await sleep(100);
    }
  }
  r.stop = async () => {
    r.child.kill('SIGKILL');
    await r.exited;
  };
  return r;
}

describe('scale topology: Redis over TLS', { skip: SKIP }, () => {
  before(async () => {
    redis = await startTlsRedis();
    srv = await startServer({
      name: 'scale-redis-tls',
      env: {
        // rediss:// turns TLS on (as REDIS_TLS_ENABLED=true would); the password travels encrypted.
        REDIS_CONNECTION_STRING: `rediss://:${redis.password}@127.0.0.1:${redis.port}`,
        REDIS_TLS_CA_PATH: redis.certs.ca,
        REDIS_TLS_CERT_PATH: redis.certs.cert,
        REDIS_TLS_KEY_PATH: redis.certs.key,
        REDIS_TLS_SERVERNAME: 'redis.test',
        REDIS_KEY_PREFIX: KEY_PREFIX,
      },
    });
  });

  after(async () => {
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
    if (redis) {
      await redis.stop();
      if (!it.failed) fs.rmSync(redis.dir, { recursive: true, force: true });
    }
  });

  it('web and worker over rediss:// with mutual TLS: a batch is accepted and becomes readable', { timeout: 60_000 }, async () => {
    const traceId = uid('tls-trace-');
    const obsId = uid('tls-gen-');
    await ingestOk(srv, [
      ev('trace-create', { id: traceId, name: 'over-tls', input: { q: 'encrypted?' } }),
      ev('generation-create', { id: obsId, traceId, name: 'llm', model: 'gpt-4o', startTime: new Date().toISOString() }),
      ev('score-create', { id: uid('tls-score-'), traceId, name: 'quality', value: 0.9 }),
    ]);
    const res = await pollTrace(srv, traceId, (t) => t.observations?.length === 1 && t.scores?.length === 1, { timeoutMs: 20_000 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.name, 'over-tls');
    assert.deepEqual(res.json.input, { q: 'encrypted?' });
    assert.equal(res.json.observations.length, 1, res.text);
    assert.equal(res.json.scores.length, 1, res.text);
    for (const w of srv.scale.workers) assert.equal(w.exit, undefined, `${w.name} is running`);
    const health = await api(srv, 'GET', '/api/public/health', { auth: null });
    assert.equal(health.status, 200, health.text);
  });

  it('the queue and the API key revocation channel live in the TLS Redis', { timeout: 30_000 }, async () => {
    assert.equal(lastInteger(await tlsCommand(redis, ['EXISTS', `${KEY_PREFIX}langfuse:ingestion`])), 1,
      'the ingestion stream exists in the TLS-only server');
    // Each web process subscribes to revocations (over its own TLS session).
    let subscribers = 0;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && subscribers !== 2; await sleep(100)) {
      subscribers = lastInteger(await tlsCommand(redis, ['PUBSUB', 'NUMSUB', `${KEY_PREFIX}langfuse:api-key-revocations`]));
    }
    assert.equal(subscribers, 2, 'both web processes subscribed to API key revocations');
  });

  it('web and worker stop cleanly on SIGTERM while connected over TLS', { timeout: 60_000 }, async () => {
    const t0 = Date.now();
    const res = await srv.stop();
    assert.equal(res.forced, false, 'no process needed SIGKILL');
    assert.ok(Date.now() - t0 < 15_000, `stopped after ${Date.now() - t0} ms`);
    for (const p of [...srv.scale.webs, ...srv.scale.workers]) {
      assert.equal(p.exit?.code, 0, `${p.name} exited with ${JSON.stringify(p.exit)}`);
    }
  });
});
