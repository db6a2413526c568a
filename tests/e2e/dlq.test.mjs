// `langfuse dlq list|replay` against the queue the server runs on: the local queue file in the
// embedded topology, the Redis dead-letter stream in the scale topology (where a dead letter is
// written into the stream as a worker writes one, then listed and replayed until readable).

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { startServer, cleanupTmp, runCommand, pollTrace, uid, withServerLogs } from './harness.mjs';

let srv;
const it = withServerLogs(baseIt, () => [srv]);


// One Redis command over RESP (bulk strings in, the first reply line or bulk out).
function redis(url, args) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port || 6379), u.hostname);
    let data = '';
    socket.setTimeout(10_000, () => { socket.destroy(); reject(new Error('redis timeout')); });
    socket.on('error', reject);
    socket.on('data', (d) => {
      data += d;
      if (data.includes('\r\n')) { socket.end(); resolve(data.split('\r\n')[0]); }
    });
    socket.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join(''));
  });
}

describe('langfuse dlq', () => {
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); cleanupTmp(srv); });

  // The environment the server's worker runs with (the scale topology's worker, else the server's).
  const workerEnv = () => (srv.topology === 'scale' ? srv.scale.workers[0].env
    : { ...process.env, LANGFUSE_DATA_DIR: srv.dataDir });

  it('lists nothing while nothing failed, and says which queue is missing', async () => {
    const listed = await runCommand(['dlq', 'list'], workerEnv());
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, '');
    assert.match(listed.stderr, /0 dead-letter entries/);
    if (srv.topology !== 'scale') {
      const nowhere = { ...process.env, LANGFUSE_DATA_DIR: path.join(srv.tmpDir, 'nowhere') };
      const wrong = await runCommand(['dlq', 'list'], nowhere);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /no queue at .*nowhere/);
    }
    const bad = await runCommand(['dlq', 'frobnicate'], workerEnv());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown verb 'frobnicate'/);
  });

  it('lists and replays a dead letter of the Redis stream until its trace is readable', async (t) => {
    if (srv.topology !== 'scale') return t.skip('the Redis dead-letter stream exists in the scale topology');
    const env = workerEnv();
    const traceId = uid('dlq-trace-');
    const event = { id: uid('ev-'), type: 'trace-create', timestamp: new Date().toISOString(),
      body: { id: traceId, name: 'from the dead-letter stream' } };
    const payload = JSON.stringify({ projectId: srv.projectId, apiKeyId: '', sdkName: 'e2e', sdkVersion: '1',
      receivedAt: Date.now(), events: [event] });
    const added = await redis(env.REDIS_CONNECTION_STRING, ['XADD', `${env.REDIS_KEY_PREFIX}langfuse:ingestion:dlq`, '*',
      'event_count', '1', 'enqueued_at_ms', String(Date.now() - 1000), 'failed_at_ms', String(Date.now()),
      'reason', 'insert failed 3 times: e2e', 'payload', payload]);
    assert.match(added, /^\$\d+$/, `XADD answered ${added}`);

    const listed = await runCommand(['dlq', 'list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].projectId, srv.projectId);
    assert.equal(lines[0].events, 1);
    assert.equal(lines[0].reason, 'insert failed 3 times: e2e');

    const replayed = await runCommand(['dlq', 'replay'], env);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(replayed.stdout, /1 entry sent back to the queue/);
    const trace = await pollTrace(srv, traceId, () => true, { timeoutMs: 30_000 });
    assert.equal(trace.status, 200, `trace not readable after the replay: ${trace.status} ${trace.text}`);
    assert.equal(trace.json.name, 'from the dead-letter stream');
    const after = await runCommand(['dlq', 'list'], env);
    assert.equal(after.stdout, '');
  });
});
