// Durability: an event acknowledged with 201 is never lost, whatever moment the process is
// killed, and re-delivery/recovery never duplicates it. Streams batches of trace-create events
// while SIGKILLing the server at random moments (3 rounds), restarting it on the same data dir
// each time; then proves every acknowledged trace is readable and none is duplicated.

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanupTmp, api, ev, uid, sleep, withServerLogs } from './harness.mjs';

const ROUNDS = 3;
// Per-id verification reads every acknowledged trace (~50-100 ms each on the embedded store),
// so the volume is what bounds this test's time. LANGFUSE_E2E_DURABILITY_BATCHES raises it.
const BATCHES_PER_ROUND = Number(process.env.LANGFUSE_E2E_DURABILITY_BATCHES || 12);
const FINAL_BATCHES = Math.ceil((BATCHES_PER_ROUND * 2) / 3);
const EVENTS_PER_BATCH = 50;
const MAX_IN_FLIGHT = 5;
const DRAIN_TIMEOUT_MS = 30_000;

let srv;
const it = withServerLogs(baseIt, () => [srv]);

async function mapLimit(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

describe('durability', () => {
  before(async () => {
    srv = await startServer({ name: 'durability' });
  });

  after(async () => {
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
  });

  it('every acknowledged trace-create survives SIGKILL at random moments, exactly once', { timeout: 180_000 }, async (t) => {
    const started = Date.now();
    const runName = uid('dur-run-');
    const acked = new Map(); // trace id -> n (its input)
    const stats = { batches: 0, answered207: 0, failedRequests: 0, non207: {}, eventErrors: [], kills: [], restartMs: [] };
    let seq = 0;

    async function sendBatch() {
      const events = [];
      const envToBody = new Map();
      for (let i = 0; i < EVENTS_PER_BATCH; i++) {
        const n = seq++;
        const id = `${runName}-t${n}`;
        const e = ev('trace-create', { id, name: runName, userId: 'durability', input: { n } }, { id: `${runName}-e${n}` });
        events.push(e);
        envToBody.set(e.id, { id, n });
      }
      stats.batches += 1;
      try {
        const res = await fetch(`${srv.baseUrl}/api/public/ingestion`, {
          method: 'POST',
          headers: { Authorization: srv.auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ batch: events }),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (res.status !== 207) {
          stats.non207[res.status] = (stats.non207[res.status] || 0) + 1;
          return;
        }
        const body = JSON.parse(text);
        stats.answered207 += 1;
        for (const s of body.successes || []) {
          const b = envToBody.get(s.id);
          if (b && s.status === 201) acked.set(b.id, b.n);
        }
        if (body.errors?.length) stats.eventErrors.push(...body.errors.slice(0, 3));
      } catch {
        stats.failedRequests += 1; // connection refused/reset while the server is down: not acknowledged
      }
    }

    // Sends `batches` batches (at most MAX_IN_FLIGHT at once, 40-120 ms apart); SIGKILLs the
    // server killAfterMs after the round starts when given.
    async function round(batches, killAfterMs) {
      const inflight = new Set();
      let killed = null;
      const killer = killAfterMs == null ? null : sleep(killAfterMs).then(async () => {
        killed = await srv.kill('SIGKILL');
      });
      for (let i = 0; i < batches; i++) {
        while (inflight.size >= MAX_IN_FLIGHT) await Promise.race(inflight);
        const p = sendBatch().finally(() => inflight.delete(p));
        inflight.add(p);
        await sleep(40 + Math.random() * 80);
      }
      await Promise.all(inflight);
      if (killer) await killer;
      return killed;
    }

    for (let r = 1; r <= ROUNDS; r++) {
      const killAfter = Math.round(150 + Math.random() * 1050);
      const killed = await round(BATCHES_PER_ROUND, killAfter);
      stats.kills.push({ round: r, afterMs: killAfter, exit: killed, ackedSoFar: acked.size });
      assert.equal(killed?.signal, 'SIGKILL', `round ${r}: server should have been killed by SIGKILL, exit was ${JSON.stringify(killed)} (did it crash earlier?)`);
      const t0 = Date.now();
      await srv.restart(); // throws with the log tail if it does not come back healthy
      stats.restartMs.push(Date.now() - t0);
    }
    await round(FINAL_BATCHES, null); // a last round with the server up
    const ingestDone = Date.now();

    t.diagnostic(`durability: ${JSON.stringify({ ...stats, acked: acked.size, eventErrors: stats.eventErrors.length })}`);
    assert.ok(acked.size > 0, `nothing was acknowledged: ${JSON.stringify(stats)}`);
    assert.deepEqual(stats.eventErrors, [], 'valid trace-create events must never get per-event errors');

    // 1. Every acknowledged id is readable via GET /api/public/traces/{id} (poll: the queue
    //    drains asynchronously after the restarts).
    const ids = [...acked.keys()];
    let missing = ids;
    const wrongContent = new Map();
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    for (;;) {
      const still = [];
      await mapLimit(missing, 16, async (id) => {
        let r;
        try {
          r = await api(srv, 'GET', `/api/public/traces/${encodeURIComponent(id)}`);
        } catch (e) {
          still.push(id);
          return;
        }
        if (r.status !== 200 || r.json?.id !== id) {
          still.push(id);
          return;
        }
        const n = acked.get(id);
        if (r.json.name !== runName || r.json.input?.n !== n) wrongContent.set(id, { name: r.json.name, input: r.json.input });
        else wrongContent.delete(id);
      });
      missing = still;
      if (missing.length === 0 || Date.now() > deadline) break;
      await sleep(500);
    }
    assert.equal(missing.length, 0,
      `${missing.length} of ${ids.length} acknowledged traces are not readable ${DRAIN_TIMEOUT_MS / 1000}s after the last restart; first: ${missing.slice(0, 5).join(', ')}`);
    assert.equal(wrongContent.size, 0, `traces with wrong content: ${JSON.stringify([...wrongContent].slice(0, 5))}`);

    // 2. None is duplicated: page through the list route filtered by the run's name.
    const first = await api(srv, 'GET', `/api/public/traces?name=${encodeURIComponent(runName)}&limit=100&page=1`);
    if (first.status !== 200) {
      t.diagnostic(`GET /api/public/traces list route unavailable (HTTP ${first.status}); duplicates checked per id only`);
    } else {
      const counts = new Map();
      let page = 1;
      let res = first;
      let totalItems = res.json.meta?.totalItems;
      for (;;) {
        assert.equal(res.status, 200, `list page ${page}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
        for (const item of res.json.data) counts.set(item.id, (counts.get(item.id) || 0) + 1);
        const totalPages = res.json.meta?.totalPages ?? 0;
        if (res.json.data.length === 0 || page >= totalPages) break;
        page += 1;
        res = await api(srv, 'GET', `/api/public/traces?name=${encodeURIComponent(runName)}&limit=100&page=${page}`);
      }
      const dups = [...counts].filter(([, c]) => c > 1);
      assert.deepEqual(dups.slice(0, 10), [], `${dups.length} trace ids listed more than once`);
      const unlisted = ids.filter((id) => !counts.has(id));
      assert.equal(unlisted.length, 0, `${unlisted.length} acknowledged ids missing from the list route; first: ${unlisted.slice(0, 5).join(', ')}`);
      assert.equal(totalItems, counts.size, `meta.totalItems (${totalItems}) must equal the number of distinct traces listed (${counts.size})`);
      const extra = counts.size - ids.length;
      t.diagnostic(`list route: ${counts.size} distinct traces (${extra} stored without an ack, e.g. in flight at a kill)`);
    }
    t.diagnostic(`timing: ingest ${(ingestDone - started) / 1000}s, total ${(Date.now() - started) / 1000}s, restarts ${stats.restartMs.join('/')} ms`);
  });
});
