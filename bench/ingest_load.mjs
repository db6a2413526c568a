#!/usr/bin/env node
// Batch-ingestion load benchmark (Node 20, built-ins only). Not a test: it prints numbers.
//
// Starts `langfuse server` on a free port and a fresh data folder, then for --duration seconds
// keeps --connections keep-alive clients posting /api/public/ingestion batches of realistic
// ~1 KB events (per conversation: trace-create, span-create, generation-create,
// generation-update, span-update). It reports accepted events/s, request latency, the time from
// a 207 to the trace being readable (under load and idle), the queue drain time after the load,
// a readback check of a sample of acknowledged traces, and the server's peak RSS and CPU time.
//
// Usage: node bench/ingest_load.mjs [--bin PATH] [--duration S] [--connections N] [--rate EV/S]
//          [--batch-size N] [--json] [--ceiling FILE] [--keep-data]
//   --bin         server binary (default $LANGFUSE_BIN or build/release/src/app/langfuse)
//   --duration    seconds of load (default 20)
//   --connections concurrent keep-alive clients (default 8)
//   --rate        offered load in events/s (default: none, each client posts as fast as answered).
//                 Requests are then due on a fixed schedule, whichever client is free sends the
//                 next one, and a request's latency counts from when it was due, so that a slow
//                 server cannot hide its backlog by slowing the clients down
//   --batch-size  events per request, a multiple of 5 (default 100)
//   --ceiling     JSON output of chdb_insert_bench, shown next to the end-to-end rate
//   --json        print only the JSON result line
//   --keep-data   keep the temporary folder (data + server.log); it is kept anyway on problems
//   --dry-run     print one request body and its size, start nothing
//   --drain-timeout   seconds to wait for the queue to empty after the load (default 60)
//   --verify-seconds  time cap of the readback of 200 sampled traces (default 30)
//   --attach PORT     load a server already running on 127.0.0.1:PORT instead of starting one
//                     (its project must have the keys pk-lf-bench / sk-lf-bench; bench/scale_bench.mjs
//                     uses this for the scale topology); it is left running
//   --pids P1,P2,...  with --attach: the processes whose RSS and CPU time are reported (summed)
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { fixedSchedule } from './fixed_schedule.mjs';
import { metricValue } from './metrics_text.mjs';

// ---------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = {
    bin: process.env.LANGFUSE_BIN || 'build/release/src/app/langfuse',
    duration: 20,
    connections: 8,
    rate: null,
    batchSize: 100,
    json: false,
    ceiling: null,
    keepData: false,
    dryRun: false,
    drainTimeout: 60,
    verifySeconds: 30,
    attach: null,
    pids: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`missing value after ${a}`);
      return argv[++i];
    };
    if (a === '--bin') o.bin = next();
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--connections') o.connections = Number(next());
    else if (a === '--rate') o.rate = Number(next());
    else if (a === '--batch-size') o.batchSize = Number(next());
    else if (a === '--ceiling') o.ceiling = next();
    else if (a === '--json') o.json = true;
    else if (a === '--keep-data') o.keepData = true;
    else if (a === '--dry-run') o.dryRun = true;
    else if (a === '--drain-timeout') o.drainTimeout = Number(next());
    else if (a === '--verify-seconds') o.verifySeconds = Number(next());
    else if (a === '--attach') o.attach = Number(next());
    else if (a === '--pids') o.pids = next().split(',').filter(Boolean).map(Number);
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  if (!(o.duration > 0) || !(o.connections >= 1) || !(o.batchSize >= 5) || o.batchSize % 5 !== 0) {
    usage('--duration must be > 0, --connections >= 1, --batch-size a positive multiple of 5');
  }
  if (o.rate !== null && !(o.rate > 0)) usage('--rate must be > 0 events/s');
  return o;
}

function usage(why) {
  if (why) console.error(`ingest_load: ${why}`);
  console.error(
    'usage: node bench/ingest_load.mjs [--bin PATH] [--duration S] [--connections N] [--rate EV/S] [--batch-size N] ' +
      '[--json] [--ceiling FILE] [--keep-data] [--dry-run] [--drain-timeout S] [--verify-seconds S]',
  );
  process.exit(why ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
const log = opts.json ? () => {} : (...a) => console.error(...a); // progress goes to stderr

// ---------------------------------------------------------------------------------------------
// Realistic events. A pool of conversation templates is rendered once with JSON.stringify; each
// batch only splices in fresh ids and timestamps, so the client spends its CPU on HTTP, not JSON
// (it shares the machine with the server).

const EVENTS_PER_CONVERSATION = 5;

function rng(seed) {
  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the model answer customer order refund policy shipping account password reset invoice payment delivery ' +
  'address please thanks question support ticket status update request product warranty return days within ' +
  'cannot should would could context document retrieve summary explain detail example latency token prompt ' +
  'system assistant user function result error weather Berlin Paris tomorrow meeting schedule report quarter ' +
  'revenue growth forecast analysis data chart table query'
).split(' ');

function makeText(rand, length) {
  let out = '';
  let start = true;
  while (out.length < length) {
    let w = WORDS[Math.floor(rand() * WORDS.length)];
    if (start) w = w[0].toUpperCase() + w.slice(1);
    start = rand() < 1 / 9;
    out += w + (start ? '. ' : ' ');
  }
  return out.slice(0, length);
}

const between = (rand, lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

// Placeholders spliced per batch: @@C@@ conversation id, @@E@@ envelope timestamp (send time),
// @@T0@@..@@T3@@ body times (the conversation happened during the second before sending).
function conversationTemplate(rand, k) {
  const c = '@@C@@';
  const env = (suffix, type, body) => ({ id: `${c}-${suffix}`, timestamp: '@@E@@', type, body });
  const inTok = between(rand, 50, 900);
  const outTok = between(rand, 20, 400);
  const events = [
    env('e1', 'trace-create', {
      id: `${c}-t`,
      timestamp: '@@T0@@',
      name: 'chat-turn',
      userId: `user-${between(rand, 1, 500)}`,
      sessionId: `session-${k % 64}`,
      environment: 'production',
      release: '2024.11.3',
      version: 'v7',
      tags: ['bench', 'chat', 'prod'],
      metadata: { tenant: `acme-${between(rand, 1, 20)}`, route: '/v1/chat', region: 'eu-west-1',
                  experiment: { variant: 'b', weight: 0.5 } },
      input: makeText(rand, between(rand, 300, 500)),
      output: makeText(rand, between(rand, 300, 500)),
    }),
    env('e2', 'span-create', {
      id: `${c}-s`,
      traceId: `${c}-t`,
      name: 'retrieve-context',
      startTime: '@@T0@@',
      environment: 'production',
      metadata: { retriever: 'bm25', k: 5, index: 'kb-2024-11' },
      input: { query: makeText(rand, between(rand, 250, 400)), filters: { lang: 'en', tenant: 'acme' } },
    }),
    env('e3', 'generation-create', {
      id: `${c}-g`,
      traceId: `${c}-t`,
      parentObservationId: `${c}-s`,
      name: 'llm-call',
      startTime: '@@T1@@',
      environment: 'production',
      model: 'gpt-4o-mini',
      modelParameters: { temperature: 0.7, max_tokens: 512, top_p: 1 },
      metadata: { attempt: 1, cache: 'miss' },
      input: [
        { role: 'system', content: makeText(rand, between(rand, 200, 300)) },
        { role: 'user', content: makeText(rand, between(rand, 350, 500)) },
      ],
    }),
    env('e4', 'generation-update', {
      id: `${c}-g`,
      traceId: `${c}-t`,
      endTime: '@@T2@@',
      completionStartTime: '@@T1@@',
      output: { role: 'assistant', content: makeText(rand, between(rand, 450, 650)) },
      usageDetails: { input: inTok, output: outTok, total: inTok + outTok },
    }),
    env('e5', 'span-update', {
      id: `${c}-s`,
      traceId: `${c}-t`,
      endTime: '@@T3@@',
      output: { documents: [makeText(rand, between(rand, 300, 420)), makeText(rand, between(rand, 300, 420))] },
    }),
  ];
  const text = events.map((e) => JSON.stringify(e)).join(',');
  // Alternating literal text and placeholder names.
  return text.split(/@@(C|E|T0|T1|T2|T3)@@/);
}

const TEMPLATE_COUNT = 256;
const templates = [];
{
  const rand = rng(20241127);
  for (let k = 0; k < TEMPLATE_COUNT; k++) templates.push(conversationTemplate(rand, k));
}

const runId = `bench-${Date.now().toString(36)}-${process.pid}`;
const CONVERSATIONS_PER_BATCH = opts.batchSize / EVENTS_PER_CONVERSATION;
let nextConversation = 0;

const conversationId = (n) => `${runId}-${n}`;
const traceIdOf = (n) => `${conversationId(n)}-t`;

//! One request body; returns { body, first } where `first` is the first conversation number.
function buildBatch() {
  const now = Date.now();
  const values = {
    E: new Date(now).toISOString(),
    T0: new Date(now - 1000).toISOString(),
    T1: new Date(now - 800).toISOString(),
    T2: new Date(now - 100).toISOString(),
    T3: new Date(now - 50).toISOString(),
  };
  const first = nextConversation;
  nextConversation += CONVERSATIONS_PER_BATCH;
  let body = '{"batch":[';
  for (let i = 0; i < CONVERSATIONS_PER_BATCH; i++) {
    const n = first + i;
    values.C = conversationId(n);
    const parts = templates[n % TEMPLATE_COUNT];
    if (i > 0) body += ',';
    for (let j = 0; j < parts.length; j++) body += j % 2 === 0 ? parts[j] : values[parts[j]];
  }
  body += ']}';
  return { body, first };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

const AUTH = 'Basic ' + Buffer.from('pk-lf-bench:sk-lf-bench').toString('base64');
let port = 0;

function request(agent, method, urlPath, body, { auth = true, timeoutMs = 30000 } = {}) {
  return new Promise((resolve) => {
    const headers = {};
    if (auth) headers.authorization = AUTH;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - t0,
          reused: req.reusedSocket,
        }),
      );
      res.on('error', (e) => resolve({ status: 0, error: e.message, ms: performance.now() - t0 }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.message, ms: performance.now() - t0 }));
    req.end(body);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Statistics

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
function summary(values) {
  const s = Float64Array.from(values).sort();
  const r = (x) => (x === null ? null : Math.round(x * 100) / 100);
  return {
    n: s.length,
    p50: r(percentile(s, 0.5)),
    p90: r(percentile(s, 0.9)),
    p99: r(percentile(s, 0.99)),
    max: r(s.length ? s[s.length - 1] : null),
  };
}
const fmtInt = (x) => (x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fmtMs = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(1));

// ---------------------------------------------------------------------------------------------
// Server process observation (/proc)

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  /* keep 100 */
}

// The sum of read(p) over --pids (an attached server of several processes); null when none reads.
function sumOverPids(read) {
  const all = opts.pids.map(read).filter((x) => x !== null);
  return all.length ? all.reduce((a, b) => a + b, 0) : null;
}

// pid null: the sum over --pids.
function procStatus(pid) {
  if (pid === null) {
    const all = opts.pids.map((p) => procStatus(p)).filter(Boolean);
    if (!all.length) return null;
    const sum = (k) => all.reduce((a, x) => a + (x[k] ?? 0), 0);
    return { rssKb: sum('rssKb'), anonKb: sum('anonKb'), fileKb: sum('fileKb'), hwmKb: sum('hwmKb'),
      threads: sum('threads') };
  }
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
      const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
      return m ? Number(m[1]) : null;
    };
    const threads = text.match(/^Threads:\s+(\d+)/m);
    // RssFile: mapped files (chDB's library text, ~190 MB), clean pages the kernel can drop and
    // re-read; RssAnon: the heaps. Both count in RSS, which is what the target is checked on.
    return { rssKb: kb('VmRSS'), anonKb: kb('RssAnon'), fileKb: kb('RssFile'), hwmKb: kb('VmHWM'),
      threads: threads ? Number(threads[1]) : null };
  } catch {
    return null;
  }
}

function procCpuSeconds(pid) {
  if (pid === null) return sumOverPids(procCpuSeconds);
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

// Bytes the process caused to be written to storage (/proc/PID/io write_bytes: the queue's
// SQLite files and chDB's parts, after the page cache); null when unreadable.
function procWriteBytes(pid) {
  if (pid === null) return sumOverPids(procWriteBytes);
  try {
    const m = fs.readFileSync(`/proc/${pid}/io`, 'utf8').match(/^write_bytes:\s+(\d+)/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Main

const problems = []; // human-readable descriptions of anything that went wrong

async function main() {
  if (opts.dryRun) {
    const { body } = buildBatch();
    const events = JSON.parse(body).batch;
    const sizes = {};
    for (const e of events) (sizes[e.type] ??= []).push(Buffer.byteLength(JSON.stringify(e)));
    console.log(body);
    for (const [t, v] of Object.entries(sizes)) {
      console.error(`${t}: avg ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(0)} B`);
    }
    console.error(`request ${Buffer.byteLength(body)} B, ${events.length} events, ` +
                  `avg ${(Buffer.byteLength(body) / events.length).toFixed(0)} B/event`);
    return;
  }
  const loadBefore = os.loadavg()[0];
  const bin = path.resolve(opts.bin);
  if (!opts.attach && !fs.existsSync(bin)) {
    console.error(`ingest_load: server binary ${bin} not found (build it: scripts/build release langfuse)`);
    process.exit(1);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'langfuse-bench-'));
  const dataDir = path.join(work, 'data');
  const logPath = path.join(work, 'server.log');
  port = opts.attach || (await freePort());

  // Attached: a stand-in for the child process; the server is neither started nor stopped here.
  const logFd = opts.attach ? null : fs.openSync(logPath, 'a');
  const server = opts.attach ? { pid: null, on() {}, kill() {} } : spawn(bin, ['server'], {
    env: {
      ...process.env,
      PORT: String(port),
      LANGFUSE_DATA_DIR: dataDir,
      SALT: 'bench',
      LANGFUSE_INIT_ORG_ID: 'bench-org',
      LANGFUSE_INIT_PROJECT_ID: 'bench-project',
      LANGFUSE_INIT_PROJECT_PUBLIC_KEY: 'pk-lf-bench',
      LANGFUSE_INIT_PROJECT_SECRET_KEY: 'sk-lf-bench',
      LANGFUSE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', logFd, logFd],
  });
  if (logFd !== null) fs.closeSync(logFd);
  let exited = null; // {code, signal, at}
  const exitPromise = new Promise((resolve) =>
    server.on('exit', (code, signal) => {
      exited = { code, signal, at: performance.now() };
      resolve(exited);
    }),
  );
  const logTail = (lines = 30) => {
    try {
      return fs.readFileSync(logPath, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '(no log)';
    }
  };
  const fail = (msg) => {
    console.error(`ingest_load: ${msg}\n--- server log tail (${logPath}) ---\n${logTail()}`);
    if (!exited) server.kill('SIGKILL');
    process.exit(1);
  };

  // Wait for health.
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 6 });
  const startT = performance.now();
  let healthy = false;
  while (performance.now() - startT < 60000) {
    if (exited) fail(`server exited during start-up (code ${exited.code}, signal ${exited.signal})`);
    const r = await request(probeAgent, 'GET', '/api/public/health', undefined, { auth: false, timeoutMs: 2000 });
    if (r.status === 200) {
      healthy = true;
      break;
    }
    await sleep(100);
  }
  if (!healthy) fail('server not healthy after 60 s');
  const startupMs = performance.now() - startT;
  log(`server pid ${server.pid} healthy on port ${port} after ${(startupMs / 1000).toFixed(1)} s; data in ${work}`);

  // Sample the server's memory every 200 ms.
  let peakRssKb = 0;
  let peakAnonKb = 0;
  let fileKbAtPeak = null;
  let peakThreads = 0;
  const sampleMem = () => {
    const s = procStatus(server.pid);
    if (s) {
      if ((s.rssKb ?? 0) > peakRssKb) fileKbAtPeak = s.fileKb;
      peakRssKb = Math.max(peakRssKb, s.rssKb ?? 0);
      peakAnonKb = Math.max(peakAnonKb, s.anonKb ?? 0);
      peakThreads = Math.max(peakThreads, s.threads ?? 0);
    }
    return s;
  };
  const rssAtStartKb = sampleMem()?.rssKb ?? null;
  const memTimer = setInterval(sampleMem, 200);

  // Average event size (for the report).
  const sample = buildBatch();
  nextConversation = 0; // the sample is not sent
  const bytesPerRequest = Buffer.byteLength(sample.body);
  const bytesPerEvent = bytesPerRequest / opts.batchSize;

  // ---- Load ----
  const loadAgent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const latencies = [];
  const ackedFirst = []; // first conversation number of every fully acknowledged batch
  const perSecond = new Map(); // second index -> accepted events
  const errorSamples = [];
  let requests = 0;
  let acceptedEvents = 0;
  let non207 = 0;
  let eventErrors = 0;
  let networkErrors = 0;
  let badBodies = 0;
  let newConnections = 0;
  let stopping = false;
  const noteError = (msg) => {
    if (errorSamples.length < 5) errorSamples.push(msg.slice(0, 300));
  };

  // 207 -> readable probe: every ~0.5 s, one trace of a just-acknowledged batch.
  const readableUnderLoad = [];
  let unreadableUnderLoad = 0;
  let probesInFlight = 0;
  let lastProbe = 0;
  const probes = [];
  const getLatencyLoad = []; // ms of every GET /api/public/traces/{id} sent while the load runs
  const getLatencyIdle = []; // ... and after it (idle probes, readback)
  async function probeReadable(traceId, ackAt, timeoutMs = 30000) {
    for (;;) {
      const r = await request(probeAgent, 'GET', `/api/public/traces/${encodeURIComponent(traceId)}`, undefined, {
        timeoutMs: 10000,
      });
      if (r.status !== 0) (stopping ? getLatencyIdle : getLatencyLoad).push(r.ms);
      if (r.status === 200) return performance.now() - ackAt;
      if (r.status !== 404 && r.status !== 0) noteError(`GET trace: HTTP ${r.status} ${r.body?.slice(0, 200)}`);
      if (performance.now() - ackAt > timeoutMs) return null;
      // Under load a trace takes seconds to become readable: polling faster than this would
      // make the probes themselves a large share of the server's work (each GET is a query).
      await sleep(stopping ? 10 : 100);
    }
  }

  async function queuePending() {
    const r = await request(probeAgent, 'GET', '/metrics', undefined, { auth: false, timeoutMs: 5000 });
    if (r.status !== 200) return { error: `GET /metrics answered HTTP ${r.status} ${r.error ?? ''}` };
    const pending = metricValue(r.body, 'langfuse_queue_pending_events');
    if (pending === null) return { error: 'GET /metrics has no langfuse_queue_pending_events' };
    return {
      pending,
      lag: metricValue(r.body, 'langfuse_queue_oldest_event_age_seconds'),
      deadLetters: metricValue(r.body, 'langfuse_queue_dead_letters'),
      text: r.body,
    };
  }
  // The embedded queue's group commits so far (langfuse_queue_commit_seconds): how many, and the
  // upper bound of the bucket holding their p50 / p99 and maximum, in ms (null for the Redis queue).
  function queueCommits(text) {
    const name = 'langfuse_queue_commit_seconds';
    const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)`, 'gm'))]
      .map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])])
      .sort((a, b) => a[0] - b[0]);
    const count = metricValue(text, `${name}_count`);
    if (!buckets.length || !count) return null;
    const upTo = (q) => {
      const b = buckets.find(([, cum]) => cum >= q * count);
      return b && b[0] !== Infinity ? b[0] * 1000 : null;
    };
    return { count, total_s: +(metricValue(text, `${name}_sum`) ?? 0).toFixed(2), p50_le_ms: upTo(0.5),
      p99_le_ms: upTo(0.99), max_le_ms: upTo(1) };
  }
  const loadStart = performance.now();
  const cpuAtLoadStart = procCpuSeconds(server.pid);
  const writtenAtLoadStart = procWriteBytes(server.pid);
  const clientCpu0 = process.cpuUsage();

  // Queue depth once a second during the load: written = accepted - pending.
  const timeline = []; // [seconds, accepted, pending]
  let sampling = false;
  const queueTimer = setInterval(async () => {
    if (sampling || stopping) return;
    sampling = true;
    const q = await queuePending();
    if (!q.error) timeline.push([+((performance.now() - loadStart) / 1000).toFixed(1), acceptedEvents, q.pending]);
    sampling = false;
  }, 1000);


  const schedule = fixedSchedule(opts.rate, opts.batchSize);
  schedule.start(loadStart);

  async function client() {
    while (!stopping && !exited) {
      const due = await schedule.take();
      if (due !== null && (stopping || exited)) break;
      const { body, first } = buildBatch();
      const r = await request(loadAgent, 'POST', '/api/public/ingestion', body);
      requests++;
      if (r.reused === false) newConnections++;
      if (r.status === 0) {
        networkErrors++;
        noteError(`network: ${r.error}`);
        if (!exited) await sleep(50);
        continue;
      }
      latencies.push(due === null ? r.ms : performance.now() - due);
      if (r.status !== 207) {
        non207++;
        noteError(`HTTP ${r.status}: ${r.body.slice(0, 200)}`);
        continue;
      }
      let parsed;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        badBodies++;
        noteError(`unparsable 207 body: ${r.body.slice(0, 200)}`);
        continue;
      }
      const ok = Array.isArray(parsed.successes) ? parsed.successes.filter((s) => s.status === 201).length : 0;
      const errs = Array.isArray(parsed.errors) ? parsed.errors.length : 0;
      acceptedEvents += ok;
      eventErrors += errs;
      if (errs) noteError(`event error: ${JSON.stringify(parsed.errors[0]).slice(0, 200)}`);
      if (ok !== opts.batchSize) {
        if (!errs) badBodies++;
        continue;
      }
      const now = performance.now();
      ackedFirst.push(first);
      const sec = Math.floor((now - loadStart) / 1000);
      perSecond.set(sec, (perSecond.get(sec) ?? 0) + ok);
      if (probesInFlight < 3 && now - lastProbe >= 500) {
        probesInFlight++;
        lastProbe = now;
        const p = probeReadable(traceIdOf(first + CONVERSATIONS_PER_BATCH - 1), now).then((ms) => {
          if (ms === null) unreadableUnderLoad++;
          else readableUnderLoad.push(ms);
          probesInFlight--;
        });
        probes.push(p);
      }
    }
  }

  log(`load: ${opts.connections} connections x ${opts.duration} s, ${opts.batchSize} events/request ` +
      (opts.rate ? `offered at ${fmtInt(opts.rate)} events/s ` : '') +
      `(${(bytesPerRequest / 1024).toFixed(0)} KB, ~${bytesPerEvent.toFixed(0)} B/event)`);
  const progress = opts.json ? null : setInterval(() => {
    const t = (performance.now() - loadStart) / 1000;
    const s = procStatus(server.pid);
    log(`  t=${t.toFixed(0).padStart(3)} s  accepted ${fmtInt(acceptedEvents)} events ` +
        `(${fmtInt(acceptedEvents / t)}/s)  RSS ${s ? (s.rssKb / 1024).toFixed(0) : '?'} MB`);
  }, 5000);
  const stopTimer = setTimeout(() => (stopping = true), opts.duration * 1000);
  await Promise.all(Array.from({ length: opts.connections }, client));
  clearTimeout(stopTimer);
  if (progress) clearInterval(progress);
  const loadEnd = performance.now();
  const loadSeconds = (loadEnd - loadStart) / 1000;
  const cpuAtLoadEnd = procCpuSeconds(server.pid);
  const writtenAtLoadEnd = procWriteBytes(server.pid);
  const clientCpu = process.cpuUsage(clientCpu0);
  loadAgent.destroy();
  if (exited) fail(`server exited under load (code ${exited.code}, signal ${exited.signal})`);

  clearInterval(queueTimer);

  // ---- Drain: until the queue has nothing pending ----
  let pendingAtStop = null;
  let lagAtStop = null;
  let pendingLeft = null;
  let drainSeconds = null;
  let deadLetters = null;
  let commitsAtStop = null;
  const drainStart = performance.now();
  while (!exited) {
    const q = await queuePending();
    if (q.error) {
      problems.push(q.error);
      break;
    }
    if (pendingAtStop === null) {
      pendingAtStop = q.pending;
      lagAtStop = q.lag;
      commitsAtStop = queueCommits(q.text);
    }
    pendingLeft = q.pending;
    deadLetters = q.deadLetters;
    if (q.pending === 0) {
      drainSeconds = (performance.now() - drainStart) / 1000;
      break;
    }
    if (performance.now() - drainStart > opts.drainTimeout * 1000) break;
    await sleep(50);
  }
  const drainElapsed = (performance.now() - drainStart) / 1000;
  const drainRate =
    pendingAtStop !== null && pendingLeft !== null && drainElapsed > 0.2 ? (pendingAtStop - pendingLeft) / drainElapsed : null;
  const drained = drainSeconds !== null;
  if (!drained && pendingLeft !== null) {
    problems.push(`queue not drained ${opts.drainTimeout} s after the load: ${pendingLeft} events still pending`);
  }
  await Promise.all(probes);
  const cpuAfterDrain = procCpuSeconds(server.pid);

  // ---- 207 -> readable on an idle server ----
  const readableIdle = [];
  let unreadableIdle = 0;
  for (let i = 0; i < 5 && !exited && drained; i++) {
    const { body, first } = buildBatch();
    const r = await request(probeAgent, 'POST', '/api/public/ingestion', body);
    if (r.status !== 207) {
      problems.push(`idle batch answered HTTP ${r.status}: ${r.body?.slice(0, 200) ?? r.error}`);
      continue;
    }
    ackedFirst.push(first);
    const ms = await probeReadable(traceIdOf(first + CONVERSATIONS_PER_BATCH - 1), performance.now());
    if (ms === null) unreadableIdle++;
    else readableIdle.push(ms);
    await sleep(200);
  }

  // ---- Readback of a random sample of acknowledged conversations ----
  // When the queue did not drain, only the batches acknowledged early enough to be written
  // (the queue is first in, first out) are sampled.
  let verifyPool = ackedFirst;
  if (!drained && pendingLeft !== null && acceptedEvents > 0) {
    const writtenShare = Math.max(0, (acceptedEvents - pendingLeft) / acceptedEvents);
    verifyPool = ackedFirst.slice(0, Math.floor(ackedFirst.length * writtenShare * 0.9));
  }
  const verifyN = Math.min(200, verifyPool.length * CONVERSATIONS_PER_BATCH);
  const picks = new Set();
  const vrand = rng(7);
  while (picks.size < verifyN) {
    picks.add(verifyPool[Math.floor(vrand() * verifyPool.length)] + Math.floor(vrand() * CONVERSATIONS_PER_BATCH));
  }
  let verified = 0;
  const verifyLatency = []; // ms of the readback GETs (existing traces, whole trace with observations)
  let readable = 0;
  let complete = 0;
  const incompleteSamples = [];
  const pickList = [...picks];
  const verifyStart = performance.now();
  await Promise.all(
    Array.from({ length: 2 }, async (_, w) => {
      for (let i = w; i < pickList.length; i += 2) {
        if (performance.now() - verifyStart > opts.verifySeconds * 1000 || exited) break;
        const n = pickList[i];
        const r = await request(probeAgent, 'GET', `/api/public/traces/${encodeURIComponent(traceIdOf(n))}`);
        verified++;
        if (r.status !== 0) verifyLatency.push(r.ms);
        if (r.status !== 200) {
          if (incompleteSamples.length < 3) incompleteSamples.push(`${traceIdOf(n)}: HTTP ${r.status}`);
          continue;
        }
        readable++;
        let t;
        try {
          t = JSON.parse(r.body);
        } catch {
          continue;
        }
        const obs = t.observations ?? [];
        const span = obs.find((o) => o.id === `${conversationId(n)}-s`);
        const gen = obs.find((o) => o.id === `${conversationId(n)}-g`);
        const why = [];
        if (obs.length !== 2) why.push(`${obs.length} observations`);
        if (!t.input || !t.output) why.push('trace input/output missing');
        if (!span?.endTime || !span?.output) why.push('span update not merged');
        if (!gen?.endTime || !gen?.output || !gen?.input) why.push('generation update not merged');
        if (gen && gen.model !== 'gpt-4o-mini') why.push(`generation model ${gen?.model}`);
        if (why.length === 0) complete++;
        else if (incompleteSamples.length < 3) incompleteSamples.push(`${traceIdOf(n)}: ${why.join(', ')}`);
      }
    }),
  );
  const verifySeconds = (performance.now() - verifyStart) / 1000;

  // ---- Stop the server ----
  clearInterval(memTimer);
  const final = sampleMem();
  const hwmKb = final?.hwmKb ?? null;
  const cpuTotal = procCpuSeconds(server.pid);
  probeAgent.destroy();
  const crashedBeforeStop = !!exited;
  let shutdownSeconds = null;
  let exitInfo = exited ?? (opts.attach ? { code: 0, signal: null } : null);
  if (!exited && !opts.attach) {
    const t0 = performance.now();
    server.kill('SIGTERM');
    const timeout = sleep(30000).then(() => null);
    exitInfo = await Promise.race([exitPromise, timeout]);
    if (!exitInfo) {
      problems.push('server did not exit within 30 s of SIGTERM; killed');
      server.kill('SIGKILL');
      exitInfo = await exitPromise;
    } else {
      shutdownSeconds = (performance.now() - t0) / 1000;
    }
  }
  if (crashedBeforeStop) problems.push(`server exited before SIGTERM (code ${exitInfo.code}, signal ${exitInfo.signal})`);
  else if (exitInfo.code !== 0) problems.push(`server exit after SIGTERM: code ${exitInfo.code}, signal ${exitInfo.signal}`);

  // ---- Report ----
  const logText = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '';
  const logLines = logText.split('\n').filter((l) => l.trim());
  const logErrorLines = logLines.filter((l) => /\b(error|critical|fatal)\b/i.test(l));
  const logWarnLines = logLines.filter((l) => /\bwarn(ing)?\b/i.test(l));

  const lat = summary(latencies);
  const rdLoad = summary(readableUnderLoad);
  const rdIdle = summary(readableIdle);
  const getLoad = summary(getLatencyLoad);
  const getIdle = summary(getLatencyIdle);
  const getVerify = summary(verifyLatency);
  const secs = [...perSecond.entries()].filter(([s]) => s < Math.floor(loadSeconds)).map(([, v]) => v);
  const acceptedPerSecond = acceptedEvents / loadSeconds;
  // End to end = through the queue and the worker into chDB: what was accepted minus what still
  // waits in the queue when the load stops, over the load's duration.
  const writtenDuringLoad = pendingAtStop === null ? null : Math.max(0, acceptedEvents - pendingAtStop);
  const e2ePerSecond = writtenDuringLoad === null ? null : writtenDuringLoad / loadSeconds;
  const e2eWithDrain = drained ? acceptedEvents / (loadSeconds + drainSeconds) : null;

  if (non207) problems.push(`${non207} requests answered other than 207`);
  if (eventErrors) problems.push(`${eventErrors} events reported as errors in 207 bodies`);
  if (networkErrors) problems.push(`${networkErrors} requests failed at the network level`);
  if (badBodies) problems.push(`${badBodies} 207 bodies without ${opts.batchSize} successes`);
  if (unreadableUnderLoad || unreadableIdle) {
    problems.push(`${unreadableUnderLoad + unreadableIdle} acknowledged traces not readable within 30 s`);
  }
  if (readable !== verified) problems.push(`only ${readable}/${verified} sampled acknowledged traces readable`);
  if (complete !== readable) problems.push(`only ${complete}/${readable} readable sampled traces complete (see samples)`);
  if (deadLetters) problems.push(`${deadLetters} entries in the dead-letter store`);

  let ceiling = null;
  if (opts.ceiling) {
    try {
      const lines = fs.readFileSync(opts.ceiling, 'utf8').trim().split('\n');
      ceiling = JSON.parse(lines[lines.length - 1]);
    } catch (e) {
      problems.push(`cannot read --ceiling ${opts.ceiling}: ${e.message}`);
    }
  }
  // One conversation = 5 events = 3 rows after merging.
  const rowsPerEvent = 3 / EVENTS_PER_CONVERSATION;
  const ceilingRows = ceiling ? Math.max(ceiling.raw?.rows_per_s ?? 0, ceiling.store?.rows_per_s ?? 0) : null;
  const ceilingEvents = ceilingRows ? ceilingRows / rowsPerEvent : null;

  const peakMb = Math.max(peakRssKb, hwmKb ?? 0) / 1024;
  const targets = {
    e2e_events_per_s_ge_20000: e2ePerSecond !== null && e2ePerSecond >= 20000,
    p99_lt_50ms: lat.p99 !== null && lat.p99 < 50,
    peak_rss_lt_600mb: peakMb < 600,
  };
  const r1 = (x) => (x === null || x === undefined ? null : Math.round(x));
  const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);

  const result = {
    bench: 'ingest_load',
    connections: opts.connections,
    offered_events_per_s: opts.rate,
    late_starts: schedule.paced ? schedule.lateStarts : null,
    duration_s: r3(loadSeconds),
    batch_events: opts.batchSize,
    bytes_per_event: Math.round(bytesPerEvent),
    bytes_per_request: bytesPerRequest,
    load_avg_before: +loadBefore.toFixed(2),
    cores: os.cpus().length,
    startup_s: r3(startupMs / 1000),
    requests,
    accepted_events: acceptedEvents,
    accepted_events_per_s: r1(acceptedPerSecond),
    accepted_events_per_s_min_1s: secs.length ? Math.min(...secs) : null,
    accepted_events_per_s_max_1s: secs.length ? Math.max(...secs) : null,
    e2e_events_per_s: r1(e2ePerSecond),
    e2e_events_per_s_incl_drain: r1(e2eWithDrain),
    non_207: non207,
    event_errors: eventErrors,
    network_errors: networkErrors,
    bad_bodies: badBodies,
    new_connections: newConnections,
    latency_ms: lat,
    readable_after_207_ms_load: { ...rdLoad, unreadable: unreadableUnderLoad },
    readable_after_207_ms_idle: { ...rdIdle, unreadable: unreadableIdle },
    get_trace_ms_load: getLoad,
    get_trace_ms_idle_probes: getIdle,
    get_trace_ms_readback: getVerify,
    queue_pending_at_stop: pendingAtStop,
    queue_lag_at_stop_s: lagAtStop,
    queue_commits_during_load: commitsAtStop,
    drain_s: drained ? r3(drainSeconds) : null,
    drain_events_per_s: r1(drainRate),
    queue_pending_left: drained ? 0 : pendingLeft,
    dead_letters: deadLetters,
    queue_timeline: timeline,
    verify_planned: verifyN,
    verify_checked: verified,
    verify_readable: readable,
    verify_complete: complete,
    verify_s: r3(verifySeconds),
    server_rss_start_mb: rssAtStartKb === null ? null : Math.round(rssAtStartKb / 102.4) / 10,
    server_peak_rss_mb: Math.round(peakRssKb / 102.4) / 10,
    server_peak_rss_anon_mb: Math.round(peakAnonKb / 102.4) / 10,
    server_rss_file_at_peak_mb: fileKbAtPeak === null ? null : Math.round(fileKbAtPeak / 102.4) / 10,
    server_vmhwm_mb: hwmKb === null ? null : Math.round(hwmKb / 102.4) / 10,
    server_peak_threads: peakThreads,
    server_cpu_s_load: cpuAtLoadEnd !== null && cpuAtLoadStart !== null ? +(cpuAtLoadEnd - cpuAtLoadStart).toFixed(2) : null,
    server_cpu_s_load_and_drain:
      cpuAfterDrain !== null && cpuAtLoadStart !== null ? +(cpuAfterDrain - cpuAtLoadStart).toFixed(2) : null,
    server_cpu_s_total: cpuTotal,
    server_cores_during_load:
      cpuAtLoadEnd !== null && cpuAtLoadStart !== null ? +((cpuAtLoadEnd - cpuAtLoadStart) / loadSeconds).toFixed(2) : null,
    client_cpu_s: +((clientCpu.user + clientCpu.system) / 1e6).toFixed(2),
    server_disk_write_mb_load:
      writtenAtLoadEnd !== null && writtenAtLoadStart !== null ? +((writtenAtLoadEnd - writtenAtLoadStart) / 1e6).toFixed(1) : null,
    server_shutdown_s: r3(shutdownSeconds),
    server_exit: { code: exitInfo.code, signal: exitInfo.signal },
    server_log_lines: logLines.length,
    server_log_error_lines: logErrorLines.length,
    server_log_warn_lines: logWarnLines.length,
    ceiling_rows_per_s: ceilingRows,
    ceiling_events_per_s: r1(ceilingEvents),
    targets,
    problems,
    error_samples: errorSamples,
    incomplete_samples: incompleteSamples,
  };

  if (!opts.json) {
    const L = (k, v) => console.log(`  ${k.padEnd(22)} ${v}`);
    const pass = (b) => (b ? 'PASS' : 'FAIL');
    const ms = (x) => fmtMs(x);
    console.log(
      `langfuse batch ingestion: ${opts.connections} keep-alive connections x ${loadSeconds.toFixed(1)} s, ` +
        `${opts.batchSize} events/request (~${bytesPerEvent.toFixed(0)} B/event, ${(bytesPerRequest / 1024).toFixed(0)} KB/request)`,
    );
    if (loadBefore > 0.5 * os.cpus().length) {
      L('WARNING', `load average ${loadBefore.toFixed(2)} on ${os.cpus().length} cores before the run: ` +
        'the machine was busy, numbers are pessimistic');
    }
    L('accepted events/s', `${fmtInt(acceptedPerSecond)}  (207s: ${fmtInt(acceptedEvents)} events in ${fmtInt(requests)} ` +
      `requests; 1-s windows min ${fmtInt(result.accepted_events_per_s_min_1s)}, max ${fmtInt(result.accepted_events_per_s_max_1s)})`);
    L('end-to-end events/s', `${fmtInt(e2ePerSecond)}  (written to chDB during the load = accepted - queued at stop; ` +
      `incl. drain: ${e2eWithDrain === null ? 'n/a' : fmtInt(e2eWithDrain)})`);
    if (opts.rate) {
      L('offered load', `${fmtInt(opts.rate)} events/s on a fixed schedule; latency counts from each request's ` +
        `due time; ${fmtInt(schedule.lateStarts)} requests started late (every connection busy)`);
    }
    L('request latency ms', `p50 ${ms(lat.p50)}  p90 ${ms(lat.p90)}  p99 ${ms(lat.p99)}  max ${ms(lat.max)}`);
    L('errors', `${non207} non-207, ${eventErrors} event errors, ${networkErrors} network errors, ` +
      `${badBodies} short 207 bodies; ${newConnections} connections opened`);
    L('207 -> readable ms', `under load p50 ${ms(rdLoad.p50)}  p99 ${ms(rdLoad.p99)}  max ${ms(rdLoad.max)} ` +
      `(n=${rdLoad.n}${unreadableUnderLoad ? `, ${unreadableUnderLoad} never` : ''}); ` +
      (drained ? `idle p50 ${ms(rdIdle.p50)}  max ${ms(rdIdle.max)} (n=${rdIdle.n})` : 'idle: n/a (queue not drained)'));
    L('GET trace ms', `probes under load (mostly 404s) p50 ${ms(getLoad.p50)}  p99 ${ms(getLoad.p99)} (n=${getLoad.n}); ` +
      `idle probes p50 ${ms(getIdle.p50)}  p99 ${ms(getIdle.p99)} (n=${getIdle.n}); ` +
      `readback (found) p50 ${ms(getVerify.p50)}  p99 ${ms(getVerify.p99)} (n=${getVerify.n})`);
    if (commitsAtStop) {
      const c = commitsAtStop;
      L('queue commits', `${fmtInt(c.count)} group commits by the end of the load, ${c.total_s} s in all; ` +
        `p50 <= ${c.p50_le_ms ?? '?'} ms, p99 <= ${c.p99_le_ms ?? '?'} ms, max <= ${c.max_le_ms ?? '>largest bucket'} ms`);
    }
    L('queue drain', `${fmtInt(pendingAtStop)} events queued at stop (oldest ${lagAtStop ?? 'n/a'} s); ` +
      (drained ? `empty after ${drainSeconds.toFixed(2)} s` : `${fmtInt(pendingLeft)} still queued after ${opts.drainTimeout} s`) +
      ` (${fmtInt(drainRate)} events/s); dead letters ${deadLetters ?? 'n/a'}`);
    L('readback', `${readable}/${verified} sampled acknowledged traces readable, ${complete}/${readable} complete ` +
      `(2 observations, updates merged)` +
      (verified < verifyN ? `; ${verifyN - verified} of ${verifyN} not checked (${opts.verifySeconds} s cap)` : '') +
      (drained ? '' : '; sampled from the batches already written'));
    L('server memory', `peak RSS ${result.server_peak_rss_mb} MB (VmHWM ${result.server_vmhwm_mb} MB; ` +
      `${result.server_rss_start_mb} MB at start; peak anonymous ${result.server_peak_rss_anon_mb} MB, ` +
      `mapped files ${result.server_rss_file_at_peak_mb} MB at the peak); ${peakThreads} threads`);
    L('server CPU', `${result.server_cpu_s_load} s during load (${result.server_cores_during_load} cores), ` +
      `${result.server_cpu_s_load_and_drain} s incl. drain, ${cpuTotal} s total; load generator ${result.client_cpu_s} s`);
    if (result.server_disk_write_mb_load !== null) {
      const mb = result.server_disk_write_mb_load;
      const payloadMb = (acceptedEvents * bytesPerEvent) / 1e6;
      L('server disk writes', `${mb} MB during load (${(mb / loadSeconds).toFixed(1)} MB/s; ` +
        `${(mb / payloadMb).toFixed(2)} x the ${payloadMb.toFixed(0)} MB of events accepted)`);
    }
    L('server stop', `SIGTERM -> exit in ${shutdownSeconds === null ? 'n/a' : shutdownSeconds.toFixed(2) + ' s'} ` +
      `(code ${exitInfo.code}, signal ${exitInfo.signal}); log: ${logErrorLines.length} error / ${logWarnLines.length} warn lines`);
    if (ceiling) {
      L('chDB ceiling', `${fmtInt(ceilingRows)} rows/s = ${fmtInt(ceilingEvents)} events/s at 3 rows per 5 events; ` +
        `end to end reaches ${e2ePerSecond === null ? 'n/a' : ((100 * e2ePerSecond) / ceilingEvents).toFixed(0) + '%'} of it`);
    }
    L('targets', `end-to-end >= 20,000 events/s: ${pass(targets.e2e_events_per_s_ge_20000)};  ` +
      `p99 < 50 ms: ${pass(targets.p99_lt_50ms)};  peak RSS < 600 MB: ${pass(targets.peak_rss_lt_600mb)}`);
    for (const p of problems) console.log(`  PROBLEM: ${p}`);
    for (const s of errorSamples) console.log(`    sample: ${s}`);
    for (const s of incompleteSamples) console.log(`    incomplete: ${s}`);
    if (logLines.length) {
      console.log(`  server log (${logLines.length} lines; last 5):`);
      for (const l of logLines.slice(-5)) console.log(`    ${l.slice(0, 300)}`);
    }
  }
  console.log(JSON.stringify(result));

  if (opts.keepData || problems.length) {
    log(`kept ${work} (data/, server.log)`);
  } else {
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.exitCode = problems.length ? 1 : 0;
}

main().catch((e) => {
  console.error(`ingest_load: ${e.stack ?? e}`);
  process.exit(1);
});
