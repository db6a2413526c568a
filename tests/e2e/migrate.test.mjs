// `langfuse migrate` run by itself against the stores a server used: pending migrations (none
// left after a start), `--sort-observations-by-trace` on a table this server created (sorted by
// trace already, so nothing is copied) and a flag it does not know. The rewrite of a table in
// Langfuse's order is checked against chDB in storage/traces/trace_store_chdbtest.cpp.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, cleanupTmp, runCommand, pollTrace, uid, ev, ingestOk, withServerLogs,
} from './harness.mjs';

let srv;
const it = withServerLogs(baseIt, () => [srv]);

describe('langfuse migrate', () => {
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); cleanupTmp(srv); });

  // The environment the server's worker runs with (the scale topology's worker, else the server's).
  const storeEnv = () => (srv.topology === 'scale' ? srv.scale.workers[0].env
    : { ...process.env, LANGFUSE_DATA_DIR: srv.dataDir });
  // Everything that writes to the stores stops; in the scale topology ClickHouse stays up.
  const writers = () => [...srv.scale.webs, ...srv.scale.workers].map((p) => p.name);
  async function stopWriters() {
    if (srv.topology !== 'scale') return srv.stop();
    for (const name of writers()) await srv.killProcess(name, 'SIGTERM');
  }
  async function startWriters() {
    if (srv.topology !== 'scale') return srv.restart();
    for (const name of writers()) await srv.startProcess(name);
  }

  it('applies nothing twice, leaves a table sorted so as it is, and refuses unknown flags', async () => {
    const traceId = uid('migrate-trace-');
    await ingestOk(srv, [
      ev('trace-create', { id: traceId, name: 'before migrate' }),
      ev('span-create', { id: uid('span-'), traceId, name: 'a' }),
      ev('generation-create', { id: uid('gen-'), traceId, name: 'b', model: 'gpt-4o' }),
    ]);
    const read = await pollTrace(srv, traceId, (t) => t.observations.length === 2);
    assert.equal(read.json?.observations?.length, 2, JSON.stringify(read.json));
    await stopWriters();

    const migrated = await runCommand(['migrate', '--sort-observations-by-trace'], storeEnv(), 60_000);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /tracing store: 0 migration\(s\) applied/);
    assert.match(migrated.stdout, /observations: already sorted by trace/);

    const unknown = await runCommand(['migrate', '--sort-everything'], storeEnv(), 60_000);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unexpected argument '--sort-everything'/);
    const extra = await runCommand(['migrate', '--sort-observations-by-trace', 'now'], storeEnv(), 60_000);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument 'now'/);

    await startWriters();
    const again = await pollTrace(srv, traceId, (t) => t.observations.length === 2, { timeoutMs: 30_000 });
    assert.deepEqual(again.json?.observations?.map((o) => o.name).sort(), ['a', 'b']);
  });
});
