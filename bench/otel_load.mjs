#!/usr/bin/env node
// OTLP trace ingestion load benchmark (Node 20 + @grpc/grpc-js from the dev dependencies). Not a
// test: it prints numbers.
//
// Starts `langfuse server` on free ports and a fresh data folder, then runs one phase per
// transport, each for --duration seconds with --connections concurrent clients posting
// ExportTraceServiceRequests of --batch-size gen_ai spans (~1 KB each; per agent run: an
// invoke_agent root span, a chat generation with model, usage and messages, a tool call and a
// retrieval span):
//   http  POST /api/public/otel/v1/traces, application/x-protobuf, keep-alive connections
//   grpc  TraceService/Export on LANGFUSE_OTLP_GRPC_PORT, one gRPC connection per client
// For each it reports accepted spans/s, the spans the worker wrote during the load (per second:
// the rate the server sustains end to end), request latency, how long after the load the last
// acknowledged span is readable through GET /api/public/traces/{id}, the queue drain, a readback
// check of sampled traces, and the server's peak RSS and CPU time. Then, for comparison, it runs
// bench/ingest_load.mjs (batch ingestion API, its own server) with the same duration and
// connections and shows its events/s.
//
// Usage: node bench/otel_load.mjs [--bin PATH] [--duration S] [--connections N] [--batch-size N]
//          [--rate SPANS/S] [--modes http,grpc,ingest] [--seed DIR] [--json] [--keep-data]
//   --bin          server binary (default $LANGFUSE_BIN or build/release/src/app/langfuse)
//   --duration     seconds of load per mode (default 10)
//   --connections  concurrent clients per mode (default 8)
//   --batch-size   spans per request, a multiple of 4 (default 100)
//   --rate         offered load in spans/s, requests on a fixed schedule with latency counted from
//                  each one's due time (default: none, each client posts as fast as answered);
//                  passed on to the batch ingestion comparison as events/s
//   --modes        which phases to run, comma-separated (default http,grpc,ingest)
//   --seed DIR     start the OTLP server on a copy of the tracing data of a read benchmark data
//                  set (DIR/gen.json, DIR/data/clickhouse: `node bench/read_bench.mjs --data DIR`)
//                  and send into its project, so that ingestion is measured against a store that
//                  already holds millions of rows instead of an empty one
//   --json         print only the JSON result line
//   --keep-data    keep the temporary folder (data + server.log); kept anyway on problems
//   --dry-run      print the size of one request and of its spans, start nothing
//   --drain-timeout  seconds to wait for the queue to empty after each phase (default 60)
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { fixedSchedule } from './fixed_schedule.mjs';
import { metricSum, metricValue } from './metrics_text.mjs';

// ---------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = {
    bin: process.env.LANGFUSE_BIN || 'build/release/src/app/langfuse',
    duration: 10,
    connections: 8,
    batchSize: 100,
    modes: ['http', 'grpc', 'ingest'],
    json: false,
    keepData: false,
    dryRun: false,
    drainTimeout: 60,
    rate: null,
    seed: null,
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
    else if (a === '--batch-size') o.batchSize = Number(next());
    else if (a === '--modes') o.modes = next().split(',').map((m) => m.trim()).filter(Boolean);
    else if (a === '--json') o.json = true;
    else if (a === '--keep-data') o.keepData = true;
    else if (a === '--dry-run') o.dryRun = true;
    else if (a === '--drain-timeout') o.drainTimeout = Number(next());
    else if (a === '--rate') o.rate = Number(next());
    else if (a === '--seed') o.seed = next();
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  if (!(o.duration > 0) || !(o.connections >= 1) || !(o.batchSize >= 4) || o.batchSize % 4 !== 0) {
    usage('--duration must be > 0, --connections >= 1, --batch-size a positive multiple of 4');
  }
  if (o.rate !== null && !(o.rate > 0)) usage('--rate must be > 0 spans/s');
  if (o.seed !== null && !['gen.json', 'data/clickhouse'].every((f) => fs.existsSync(path.join(o.seed, f)))) {
    usage(`--seed ${o.seed}: not a read benchmark data set (gen.json and data/clickhouse)`);
  }
  const unknown = o.modes.filter((m) => !['http', 'grpc', 'ingest'].includes(m));
  if (unknown.length || o.modes.length === 0) usage(`--modes takes http, grpc and/or ingest, got ${o.modes.join(',')}`);
  return o;
}

function usage(why) {
  if (why) console.error(`otel_load: ${why}`);
  console.error(
    'usage: node bench/otel_load.mjs [--bin PATH] [--duration S] [--connections N] [--batch-size N] ' +
      '[--rate SPANS/S] [--modes http,grpc,ingest] [--seed DIR] [--json] [--keep-data] [--dry-run] [--drain-timeout S]',
  );
  process.exit(why ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
const log = opts.json ? () => {} : (...a) => console.error(...a); // progress goes to stderr

// ---------------------------------------------------------------------------------------------
// OTLP protobuf (ExportTraceServiceRequest), written by hand: the client must spend its CPU on
// sending, not on an SDK's serialisation (it shares the machine with the server).

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const tag = (field, wire) => varint((field << 3) | wire);
const ld = (field, buf) => Buffer.concat([tag(field, 2), varint(buf.length), buf]);
const str = (field, s) => ld(field, Buffer.from(s, 'utf8'));
const fixed64 = (field, buf8) => Buffer.concat([tag(field, 1), buf8]);
function anyValue(v) {
  if (typeof v === 'string') return str(1, v);
  if (Array.isArray(v)) return ld(5, Buffer.concat(v.map((x) => ld(1, anyValue(x)))));
  if (typeof v === 'boolean') return Buffer.concat([tag(2, 0), varint(v ? 1 : 0)]);
  if (Number.isInteger(v)) return Buffer.concat([tag(3, 0), varint(v)]);
  const d = Buffer.alloc(8);
  d.writeDoubleLE(v);
  return fixed64(4, d);
}
const attributes = (field, attrs) =>
  Buffer.concat(Object.entries(attrs).map(([k, v]) => ld(field, Buffer.concat([str(1, k), ld(2, anyValue(v))]))));

// Ids and times are fixed-size fields: the request template is built once with random
// placeholder bytes, their offsets are found once, and every request is a copy of the template
// with fresh ids and times written at those offsets.

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

const SPANS_PER_RUN = 4;
// Time offsets (ms before the send) of each span's start and end, in span order.
const TIMES_MS = [[1200, 20], [900, 150], [140, 60], [1150, 950]];

//! One agent run: 4 spans. Returns the encoded spans and the placeholders used.
function agentRun(rand, k) {
  const traceId = crypto.randomBytes(16);
  const spanIds = Array.from({ length: SPANS_PER_RUN }, () => crypto.randomBytes(8));
  const times = Array.from({ length: SPANS_PER_RUN * 2 }, () => crypto.randomBytes(8));
  const inTok = between(rand, 50, 900);
  const outTok = between(rand, 20, 400);
  const span = (i, name, kind, parent, attrs, status) => {
    const parts = [ld(1, traceId), ld(2, spanIds[i])];
    if (parent !== null) parts.push(ld(4, spanIds[parent]));
    parts.push(str(5, name), Buffer.concat([tag(6, 0), varint(kind)]), fixed64(7, times[2 * i]), fixed64(8, times[2 * i + 1]));
    parts.push(attributes(9, attrs));
    if (status) parts.push(ld(15, Buffer.concat([str(2, status.message), tag(3, 0), varint(status.code)])));
    return ld(2, Buffer.concat(parts));
  };
  const spans = [
    span(0, 'invoke_agent support-agent', 1, null, {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'support-agent',
      'user.id': `user-${between(rand, 1, 500)}`,
      'session.id': `session-${k % 64}`,
      'langfuse.trace.tags': ['bench', 'otel'],
      'input.value': makeText(rand, between(rand, 250, 350)),
      'output.value': makeText(rand, between(rand, 250, 350)),
    }),
    span(1, 'chat gpt-4o-mini', 3, 0, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0.7,
      'gen_ai.request.max_tokens': 512,
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': inTok,
      'gen_ai.usage.output_tokens': outTok,
      'gen_ai.input.messages': JSON.stringify([
        { role: 'system', content: makeText(rand, between(rand, 120, 180)) },
        { role: 'user', content: makeText(rand, between(rand, 250, 350)) },
      ]),
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', content: makeText(rand, between(rand, 300, 420)) }]),
    }),
    span(2, 'execute_tool search_kb', 1, 0, {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search_kb',
      'gen_ai.tool.call.id': `call-${k}`,
      'gen_ai.tool.call.arguments': JSON.stringify({ query: makeText(rand, between(rand, 120, 200)), top_k: 5 }),
      'gen_ai.tool.call.result': JSON.stringify({ hits: [makeText(rand, between(rand, 250, 330)), makeText(rand, between(rand, 250, 330))] }),
    }, k % 17 === 0 ? { message: 'tool timeout', code: 2 } : null),
    span(3, 'retrieve documents', 1, 0, {
      'db.system': 'qdrant',
      'retriever.index': 'kb-2024-11',
      'input.value': makeText(rand, between(rand, 200, 300)),
      'output.value': JSON.stringify([makeText(rand, between(rand, 220, 300)), makeText(rand, between(rand, 220, 300))]),
    }),
  ];
  return { spans, traceId, spanIds, times };
}

const RESOURCE = ld(1, attributes(1, { 'service.name': 'otel-bench', 'deployment.environment': 'production', 'service.version': '2024.11.3' }));
const SCOPE = ld(1, Buffer.concat([str(1, 'bench.genai.instrumentation'), str(2, '1.0.0')]));

const RUNS_PER_BATCH = opts.batchSize / SPANS_PER_RUN;
const TEMPLATE_COUNT = 8;

//! A request template: the bytes and, per run, the offsets of its trace id (every occurrence),
//! span ids (every occurrence) and times.
function buildTemplate(rand, t) {
  const runs = Array.from({ length: RUNS_PER_BATCH }, (_, i) => agentRun(rand, t * RUNS_PER_BATCH + i));
  const body = ld(1, Buffer.concat([RESOURCE, ld(2, Buffer.concat([SCOPE, ...runs.flatMap((r) => r.spans)]))]));
  const find = (needle) => {
    const out = [];
    for (let at = body.indexOf(needle); at !== -1; at = body.indexOf(needle, at + 1)) out.push(at);
    return out;
  };
  const offsets = runs.map((r) => ({
    trace: find(r.traceId),
    spans: r.spanIds.map(find),
    times: r.times.map((x) => find(x)[0]),
  }));
  for (const o of offsets) {
    if (o.trace.length !== SPANS_PER_RUN || o.spans.some((s) => s.length < 1) || o.times.some((x) => x === undefined)) {
      throw new Error('template placeholders are not unique (retry)');
    }
  }
  return { body, offsets };
}

const templates = [];
{
  const rand = rng(20241128);
  for (let t = 0; t < TEMPLATE_COUNT; t++) templates.push(buildTemplate(rand, t));
}
let batchCounter = 0;
const ID_BYTES_PER_RUN = 16 + 8 * SPANS_PER_RUN;

//! A fresh request: {body, ids} where ids holds each run's trace id then span ids.
function buildBatch() {
  const tpl = templates[batchCounter++ % TEMPLATE_COUNT];
  const body = Buffer.from(tpl.body);
  const ids = crypto.randomBytes(ID_BYTES_PER_RUN * RUNS_PER_BATCH);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  for (let r = 0; r < RUNS_PER_BATCH; r++) {
    const o = tpl.offsets[r];
    const base = r * ID_BYTES_PER_RUN;
    for (const at of o.trace) ids.copy(body, at, base, base + 16);
    o.spans.forEach((positions, s) => {
      for (const at of positions) ids.copy(body, at, base + 16 + 8 * s, base + 24 + 8 * s);
    });
    o.times.forEach((at, i) => {
      const [startMs, endMs] = TIMES_MS[i >> 1];
      body.writeBigUInt64LE(nowNs - BigInt((i & 1) ? endMs : startMs) * 1_000_000n, at);
    });
  }
  return { body, ids };
}
const traceIdOf = (ids, run) => ids.toString('hex', run * ID_BYTES_PER_RUN, run * ID_BYTES_PER_RUN + 16);

//! rejected_spans of an ExportTraceServiceResponse (0 for an empty one).
function rejectedSpans(buf) {
  if (!buf || buf.length === 0) return 0;
  // partial_success (1, length-delimited) { rejected_spans (1, varint), error_message (2) }
  if (buf[0] !== 0x0a) return -1;
  let i = 1;
  while (buf[i] & 0x80) i++;
  i++;
  if (buf[i] !== 0x08) return 0;
  let v = 0;
  let shift = 0;
  for (i++; i < buf.length; i++) {
    v += (buf[i] & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(buf[i] & 0x80)) break;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// HTTP and process helpers (as in bench/ingest_load.mjs)

const AUTH = 'Basic ' + Buffer.from('pk-lf-bench:sk-lf-bench').toString('base64');
let port = 0;
let grpcPort = 0;

function request(agent, method, urlPath, body, { auth = true, timeoutMs = 30000, contentType = 'application/json' } = {}) {
  return new Promise((resolve) => {
    const headers = {};
    if (auth) headers.authorization = AUTH;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      headers['content-length'] = Buffer.byteLength(body);
    }
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
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

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
function summary(values) {
  const s = Float64Array.from(values).sort();
  const r = (x) => (x === null ? null : Math.round(x * 100) / 100);
  return { n: s.length, p50: r(percentile(s, 0.5)), p90: r(percentile(s, 0.9)), p99: r(percentile(s, 0.99)), max: r(s.length ? s[s.length - 1] : null) };
}
const fmtInt = (x) => (x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fmtMs = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(1));

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  /* keep 100 */
}
function procStatus(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
      const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
      return m ? Number(m[1]) : null;
    };
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return null;
  }
}
// User + system CPU seconds from the text of a /proc .../stat file (the fields after the name).
function statCpuSeconds(text) {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
function procCpuSeconds(pid) {
  try {
    return statCpuSeconds(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

// CPU seconds of each live thread of `pid`, by thread id, with its name; null when /proc cannot
// be read.
function procThreadCpu(pid) {
  try {
    const out = new Map();
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        out.set(tid, { name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), s: statCpuSeconds(text) });
      } catch {
        /* the thread ended meanwhile */
      }
    }
    return out;
  } catch {
    return null;
  }
}
// CPU microseconds per span of the server's threads between two procThreadCpu readings, summed by
// name: our own threads (named lf-*) each, every other thread (chDB's inserts and merges, the main
// thread) as one. Threads that ended between the readings are missing, so the sum can fall short
// of the process's CPU.
function threadCpuPerSpan(before, after, spans) {
  if (!before || !after || spans <= 0) return null;
  const sums = {};
  for (const [tid, t] of after) {
    const key = t.name.startsWith('lf-') ? t.name : 'other (chDB, main)';
    sums[key] = (sums[key] ?? 0) + t.s - (before.get(tid)?.s ?? 0);
  }
  return Object.fromEntries(Object.entries(sums).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => [k, +(v / spans * 1e6).toFixed(1)]));
}

// ---------------------------------------------------------------------------------------------
// gRPC client (raw bytes; @grpc/grpc-js does the framing)

const EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
let grpc = null;
async function loadGrpc() {
  try {
    const mod = await import('@grpc/grpc-js');
    return mod.default ?? mod;
  } catch (e) {
    console.error(`otel_load: @grpc/grpc-js is missing (${e.message}); run scripts/setup (npm ci) first`);
    process.exit(1);
  }
}

function grpcClient() {
  // A local subchannel pool gives each client its own connection, as separate exporters have.
  return new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

function grpcExport(client, body) {
  const md = new grpc.Metadata();
  md.set('authorization', AUTH);
  const t0 = performance.now();
  return new Promise((resolve) => {
    client.makeUnaryRequest(EXPORT_METHOD, (b) => b, (b) => b, body, md, { deadline: Date.now() + 30000 }, (err, response) => {
      const ms = performance.now() - t0;
      if (err) resolve({ ok: false, error: `${grpc.status[err.code] ?? err.code}: ${err.details}`, ms, network: err.code === grpc.status.UNAVAILABLE });
      else resolve({ ok: true, body: response, ms });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Main

const problems = [];

async function main() {
  if (opts.dryRun) {
    const { body } = buildBatch();
    console.error(`request ${body.length} B, ${opts.batchSize} spans, avg ${(body.length / opts.batchSize).toFixed(0)} B/span ` +
                  `(${RUNS_PER_BATCH} agent runs of ${SPANS_PER_RUN} spans)`);
    return;
  }
  const loadBefore = os.loadavg()[0];
  const bin = path.resolve(opts.bin);
  if (!fs.existsSync(bin)) {
    console.error(`otel_load: server binary ${bin} not found (build it: scripts/build release langfuse)`);
    process.exit(1);
  }
  const otelModes = opts.modes.filter((m) => m !== 'ingest');
  if (otelModes.includes('grpc')) grpc = await loadGrpc();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'langfuse-otel-bench-'));
  const phases = {};
  let server = null;
  let serverInfo = null;
  let seeded = null;  // what --seed put in the store before the load

  if (otelModes.length) {
    const dataDir = path.join(work, 'data');
    const logPath = path.join(work, 'server.log');
    let projectId = 'bench-project';
    if (opts.seed) {
      const gen = JSON.parse(fs.readFileSync(path.join(opts.seed, 'gen.json'), 'utf8'));
      projectId = gen.project;
      const t0 = performance.now();
      fs.mkdirSync(dataDir);
      execFileSync('cp', ['-r', path.join(opts.seed, 'data', 'clickhouse'), path.join(dataDir, 'clickhouse')]);
      seeded = { project: projectId, traces: gen.traces, observations: gen.observations, scores: gen.scores };
      log(`seeded with ${opts.seed}'s tracing data (${gen.traces} traces, ${gen.observations} observations) ` +
          `in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    port = await freePort();
    grpcPort = await freePort();
    const logFd = fs.openSync(logPath, 'a');
    server = spawn(bin, ['server'], {
      env: {
        ...process.env,
        PORT: String(port),
        HOSTNAME: '127.0.0.1',
        LANGFUSE_OTLP_GRPC_PORT: String(grpcPort),
        LANGFUSE_DATA_DIR: dataDir,
        SALT: 'bench',
        LANGFUSE_INIT_ORG_ID: 'bench-org',
        LANGFUSE_INIT_PROJECT_ID: projectId,
        LANGFUSE_INIT_PROJECT_PUBLIC_KEY: 'pk-lf-bench',
        LANGFUSE_INIT_PROJECT_SECRET_KEY: 'sk-lf-bench',
        LANGFUSE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', logFd, logFd],
    });
    fs.closeSync(logFd);
    let exited = null;
    const exitPromise = new Promise((resolve) => server.on('exit', (code, signal) => resolve((exited = { code, signal }))));
    const logTail = (lines = 30) => {
      try {
        return fs.readFileSync(logPath, 'utf8').split('\n').slice(-lines - 1).join('\n');
      } catch {
        return '(no log)';
      }
    };
    const fail = (msg) => {
      console.error(`otel_load: ${msg}\n--- server log tail (${logPath}) ---\n${logTail()}`);
      if (!exited) server.kill('SIGKILL');
      process.exit(1);
    };

    const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const startT = performance.now();
    let healthy = false;
    while (performance.now() - startT < 60000) {
      if (exited) fail(`server exited during start-up (code ${exited.code}, signal ${exited.signal})`);
      const r = await request(probeAgent, 'GET', '/api/public/health', undefined, { auth: false, timeoutMs: 2000 });
      const grpcUp = await new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: grpcPort });
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
      if (r.status === 200 && grpcUp) {
        healthy = true;
        break;
      }
      await sleep(100);
    }
    if (!healthy) fail('server (HTTP and gRPC) not up after 60 s');
    log(`server pid ${server.pid} up on HTTP ${port}, gRPC ${grpcPort} after ${((performance.now() - startT) / 1000).toFixed(1)} s; data in ${work}`);

    let peakRssKb = 0;
    const sampleMem = () => {
      const s = procStatus(server.pid);
      if (s) peakRssKb = Math.max(peakRssKb, s.rssKb ?? 0);
      return s;
    };
    const rssAtStartKb = sampleMem()?.rssKb ?? null;
    const memTimer = setInterval(sampleMem, 200);

    async function queuePending() {
      const r = await request(probeAgent, 'GET', '/metrics', undefined, { auth: false, timeoutMs: 5000 });
      if (r.status !== 200) return { error: `GET /metrics answered HTTP ${r.status} ${r.error ?? ''}` };
      const text = r.body.toString('utf8');
      return {
        pending: metricValue(text, 'langfuse_queue_pending_events'),
        deadLetters: metricValue(text, 'langfuse_queue_dead_letters'),
        processed: metricSum(text, 'langfuse_ingestion_events_processed_total') ?? 0,
        // Worker seconds per flush phase: load = reading the stored rows of entities not cached.
        phases: Object.fromEntries(['load', 'merge', 'insert'].map((ph) =>
          [ph, metricValue(text, 'langfuse_ingestion_flush_phase_seconds_sum', `phase="${ph}"`) ?? 0])),
      };
    }
    //! GET the trace until it has all its observations; returns ms since `since`, or null.
    async function readable(traceId, since, timeoutMs = 60000) {
      for (;;) {
        const r = await request(probeAgent, 'GET', `/api/public/traces/${traceId}`, undefined, { timeoutMs: 10000 });
        if (r.status === 200) {
          try {
            if ((JSON.parse(r.body.toString('utf8')).observations ?? []).length === SPANS_PER_RUN) return performance.now() - since;
          } catch { /* keep polling */ }
        }
        if (performance.now() - since > timeoutMs) return null;
        await sleep(20);
      }
    }

    const sample = buildBatch();
    const bytesPerRequest = sample.body.length;

    for (const mode of otelModes) {
      if (exited) fail(`server exited (code ${exited.code}, signal ${exited.signal})`);
      peakRssKb = sampleMem()?.rssKb ?? 0;
      const latencies = [];
      const acked = []; // ids buffers of fully accepted batches
      const errorSamples = [];
      let requests = 0;
      let acceptedSpans = 0;
      let rejected = 0;
      let failed = 0;
      let stopping = false;
      let lastAckAt = null;
      const schedule = fixedSchedule(opts.rate, opts.batchSize);
      const noteError = (m) => { if (errorSamples.length < 5) errorSamples.push(m.slice(0, 300)); };

      const httpAgent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
      const clients = mode === 'grpc' ? Array.from({ length: opts.connections }, grpcClient) : [];
      async function worker(i) {
        while (!stopping && !exited) {
          const due = await schedule.take();
          if (due !== null && (stopping || exited)) break;
          const { body, ids } = buildBatch();
          let ok;
          let responseBody;
          let ms;
          if (mode === 'http') {
            const r = await request(httpAgent, 'POST', '/api/public/otel/v1/traces', body, { contentType: 'application/x-protobuf' });
            ms = r.ms;
            ok = r.status === 200;
            responseBody = r.body;
            if (!ok) noteError(r.status === 0 ? `network: ${r.error}` : `HTTP ${r.status}: ${r.body.toString('utf8', 0, 200)}`);
          } else {
            const r = await grpcExport(clients[i], body);
            ms = r.ms;
            ok = r.ok;
            responseBody = r.body;
            if (!ok) noteError(r.error);
          }
          requests++;
          // On a schedule, a request that had to wait for a free client counts that wait too.
          latencies.push(due === null ? ms : Math.max(ms, performance.now() - due));
          if (!ok) {
            failed++;
            await sleep(50);
            continue;
          }
          const rej = rejectedSpans(responseBody);
          if (rej !== 0) {
            rejected += rej > 0 ? rej : opts.batchSize;
            noteError(`partial success: ${rej} rejected`);
            continue;
          }
          acceptedSpans += opts.batchSize;
          acked.push(ids);
          lastAckAt = performance.now();
        }
      }

      const before = await queuePending();
      log(`${mode}: ${opts.connections} clients x ${opts.duration} s, ${opts.batchSize} spans/request ` +
          `(${(bytesPerRequest / 1024).toFixed(0)} KB, ~${(bytesPerRequest / opts.batchSize).toFixed(0)} B/span)` +
          (opts.rate ? `, offered at ${fmtInt(opts.rate)} spans/s` : ''));
      const cpu0 = procCpuSeconds(server.pid);
      const threads0 = procThreadCpu(server.pid);
      const loadStart = performance.now();
      schedule.start(loadStart);
      const progress = opts.json ? null : setInterval(() => {
        const t = (performance.now() - loadStart) / 1000;
        log(`  t=${t.toFixed(0).padStart(3)} s  accepted ${fmtInt(acceptedSpans)} spans (${fmtInt(acceptedSpans / t)}/s)  ` +
            `RSS ${((procStatus(server.pid)?.rssKb ?? 0) / 1024).toFixed(0)} MB`);
      }, 5000);
      const stopTimer = setTimeout(() => (stopping = true), opts.duration * 1000);
      await Promise.all(Array.from({ length: opts.connections }, (_, i) => worker(i)));
      clearTimeout(stopTimer);
      if (progress) clearInterval(progress);
      const loadSeconds = (performance.now() - loadStart) / 1000;
      const cpuLoad = procCpuSeconds(server.pid) - cpu0;
      httpAgent.destroy();
      for (const c of clients) c.close();
      if (exited) fail(`server exited under ${mode} load (code ${exited.code}, signal ${exited.signal})`);

      // Time until the last acknowledged span is readable (counted from its acknowledgement) and
      // until the queue is empty (counted from the end of the load), watched side by side.
      const loadEnd = performance.now();
      const q0 = await queuePending();
      const lastReadable = acked.length
        ? readable(traceIdOf(acked[acked.length - 1], RUNS_PER_BATCH - 1), lastAckAt, opts.drainTimeout * 1000)
        : Promise.resolve(null);
      let q = q0;
      while (!q.error && q.pending > 0 && performance.now() - loadEnd < opts.drainTimeout * 1000) {
        await sleep(50);
        q = await queuePending();
      }
      const drainSeconds = (performance.now() - loadEnd) / 1000;
      // The worker's events per span (OTLP spans map to observation and trace events), from all
      // that it processed once the queue is empty; the events it processed while the load ran,
      // divided by that, are the spans written during the load.
      const eventsPerSpan = !q.error && q.pending === 0 && acceptedSpans > 0 && !before.error
        ? (q.processed - before.processed) / acceptedSpans : null;
      const writtenDuringLoad = eventsPerSpan && !q0.error ? (q0.processed - before.processed) / eventsPerSpan : null;
      const lastReadableMs = await lastReadable;
      if (acked.length && lastReadableMs === null) {
        problems.push(`${mode}: last acknowledged trace not readable within ${opts.drainTimeout} s`);
      }
      if (q.error) problems.push(`${mode}: ${q.error}`);
      else if (q.pending > 0) problems.push(`${mode}: ${q.pending} events still queued ${opts.drainTimeout} s after the load`);
      const cpuTotal = procCpuSeconds(server.pid) - cpu0;
      const threadCpu = threadCpuPerSpan(threads0, procThreadCpu(server.pid), acceptedSpans);
      const workerPhases = q.error || before.error ? null : Object.fromEntries(Object.keys(q.phases).map((ph) =>
        [ph, +(q.phases[ph] - before.phases[ph]).toFixed(2)]));

      // Readback of 50 sampled agent runs.
      let checked = 0;
      let complete = 0;
      const incomplete = [];
      const vrand = rng(7);
      for (let i = 0; i < Math.min(50, acked.length * RUNS_PER_BATCH); i++) {
        const ids = acked[Math.floor(vrand() * acked.length)];
        const traceId = traceIdOf(ids, Math.floor(vrand() * RUNS_PER_BATCH));
        const r = await request(probeAgent, 'GET', `/api/public/traces/${traceId}`, undefined, { timeoutMs: 10000 });
        checked++;
        let t = null;
        try { t = r.status === 200 ? JSON.parse(r.body.toString('utf8')) : null; } catch { /* counted below */ }
        const gen = t?.observations?.find((o) => o.type === 'GENERATION');
        const why = [];
        if (!t) why.push(`HTTP ${r.status}`);
        else {
          if ((t.observations ?? []).length !== SPANS_PER_RUN) why.push(`${(t.observations ?? []).length} observations`);
          if (t.name !== 'invoke_agent support-agent') why.push(`trace name ${t.name}`);
          if (!gen || !String(gen.model).startsWith('gpt-4o-mini') || !(gen.usageDetails?.input > 0) || !gen.input || !gen.output) why.push('generation incomplete');
        }
        if (why.length === 0) complete++;
        else if (incomplete.length < 3) incomplete.push(`${traceId}: ${why.join(', ')}`);
      }
      if (complete !== checked) problems.push(`${mode}: only ${complete}/${checked} sampled traces complete`);
      if (failed) problems.push(`${mode}: ${failed} requests failed`);
      if (rejected) problems.push(`${mode}: ${rejected} spans rejected`);

      const lat = summary(latencies);
      phases[mode] = {
        requests,
        accepted_spans: acceptedSpans,
        accepted_spans_per_s: Math.round(acceptedSpans / loadSeconds),
        offered_spans_per_s: opts.rate,
        late_starts: schedule.paced ? schedule.lateStarts : null,
        written_spans_per_s_during_load: writtenDuringLoad === null ? null : Math.round(writtenDuringLoad / loadSeconds),
        readable_spans_per_s_incl_drain: Math.round(acceptedSpans / (loadSeconds + drainSeconds)),
        events_per_span: eventsPerSpan === null ? null : +eventsPerSpan.toFixed(3),
        duration_s: +loadSeconds.toFixed(3),
        failed_requests: failed,
        rejected_spans: rejected,
        latency_ms: lat,
        queue_pending_at_stop: q0.pending ?? null,
        last_span_readable_ms: lastReadableMs === null ? null : Math.round(lastReadableMs),
        drain_s: +drainSeconds.toFixed(2),
        readback_checked: checked,
        readback_complete: complete,
        server_peak_rss_mb: Math.round(peakRssKb / 102.4) / 10,
        server_cpu_s_load: cpuLoad === null ? null : +cpuLoad.toFixed(2),
        server_cores_during_load: cpuLoad === null ? null : +(cpuLoad / loadSeconds).toFixed(2),
        server_cpu_s_incl_drain: cpuTotal === null ? null : +cpuTotal.toFixed(2),
        server_cpu_us_per_span_incl_drain: cpuTotal === null || !acceptedSpans ? null : +(cpuTotal / acceptedSpans * 1e6).toFixed(1),
        server_thread_cpu_us_per_span: threadCpu,
        worker_flush_phase_s: workerPhases,
        error_samples: errorSamples,
        incomplete_samples: incomplete,
      };
    }

    clearInterval(memTimer);
    const hwmKb = procStatus(server.pid)?.hwmKb ?? null;
    probeAgent.destroy();
    server.kill('SIGTERM');
    const exitInfo = await Promise.race([exitPromise, sleep(30000).then(() => null)]);
    if (!exitInfo) {
      problems.push('server did not exit within 30 s of SIGTERM; killed');
      server.kill('SIGKILL');
      await exitPromise;
    } else if (exitInfo.code !== 0) {
      problems.push(`server exit after SIGTERM: code ${exitInfo.code}, signal ${exitInfo.signal}`);
    }
    serverInfo = {
      rss_start_mb: rssAtStartKb === null ? null : Math.round(rssAtStartKb / 102.4) / 10,
      vmhwm_mb: hwmKb === null ? null : Math.round(hwmKb / 102.4) / 10,
      bytes_per_request: bytesPerRequest,
      bytes_per_span: Math.round(bytesPerRequest / opts.batchSize),
    };
  }

  // ---- Batch ingestion API, for comparison: bench/ingest_load.mjs with its own server ----
  let ingest = null;
  if (opts.modes.includes('ingest')) {
    log(`ingest: running bench/ingest_load.mjs for ${opts.duration} s`);
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ingest_load.mjs');
    const child = spawn(process.execPath, [script, '--bin', bin, '--duration', String(opts.duration),
      '--connections', String(opts.connections), ...(opts.rate ? ['--rate', String(opts.rate)] : []), '--json'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    try {
      const full = JSON.parse(out.trim().split('\n').pop());
      ingest = {
        accepted_events_per_s: full.accepted_events_per_s,
        e2e_events_per_s: full.e2e_events_per_s,
        latency_ms: full.latency_ms,
        bytes_per_event: full.bytes_per_event,
        readable_after_207_ms_load: full.readable_after_207_ms_load,
        drain_s: full.drain_s,
        server_peak_rss_mb: full.server_peak_rss_mb,
        server_cores_during_load: full.server_cores_during_load,
        problems: full.problems,
      };
      if (code !== 0) problems.push(`ingest_load reported problems: ${full.problems.join('; ')}`);
    } catch (e) {
      problems.push(`ingest_load produced no JSON result (exit ${code}): ${e.message}`);
    }
  }

  const result = {
    bench: 'otel_load',
    connections: opts.connections,
    duration_s_per_mode: opts.duration,
    spans_per_request: opts.batchSize,
    offered_spans_per_s: opts.rate,
    load_avg_before: +loadBefore.toFixed(2),
    cores: os.cpus().length,
    seeded_store: seeded,
    server: serverInfo,
    otlp_http_protobuf: phases.http ?? null,
    otlp_grpc: phases.grpc ?? null,
    batch_ingestion: ingest,
    problems,
  };

  if (!opts.json) {
    const L = (k, v) => console.log(`  ${k.padEnd(24)} ${v}`);
    console.log(`langfuse OTLP ingestion: ${opts.connections} concurrent clients x ${opts.duration} s per mode, ` +
                `${opts.batchSize} gen_ai spans/request` +
                (serverInfo ? ` (~${serverInfo.bytes_per_span} B/span, ${(serverInfo.bytes_per_request / 1024).toFixed(0)} KB/request)` : ''));
    if (loadBefore > 0.5 * os.cpus().length) {
      L('WARNING', `load average ${loadBefore.toFixed(2)} on ${os.cpus().length} cores before the run: the machine was busy, numbers are pessimistic`);
    }
    if (seeded) {
      L('store before the load', `${seeded.traces} traces, ${seeded.observations} observations, ${seeded.scores} scores ` +
        `in project ${seeded.project} (--seed)`);
    }
    for (const [label, p] of [['OTLP/HTTP protobuf', phases.http], ['OTLP/gRPC', phases.grpc]]) {
      if (!p) continue;
      console.log(` ${label}`);
      L('accepted spans/s', `${fmtInt(p.accepted_spans_per_s)}  (${fmtInt(p.accepted_spans)} spans in ${fmtInt(p.requests)} requests; ` +
        `${p.failed_requests} failed, ${p.rejected_spans} spans rejected)`);
      if (p.offered_spans_per_s) {
        L('offered', `${fmtInt(p.offered_spans_per_s)} spans/s on a fixed schedule; ${fmtInt(p.late_starts)} requests started late (every client busy)`);
      }
      L('written during load', p.written_spans_per_s_during_load === null ? 'unknown (queue not drained)'
        : `${fmtInt(p.written_spans_per_s_during_load)} spans/s (${p.events_per_span} events per span); ` +
          `${fmtInt(p.readable_spans_per_s_incl_drain)} spans/s counting the drain`);
      L('request latency ms', `p50 ${fmtMs(p.latency_ms.p50)}  p90 ${fmtMs(p.latency_ms.p90)}  p99 ${fmtMs(p.latency_ms.p99)}  max ${fmtMs(p.latency_ms.max)}`);
      L('last span readable', `${p.last_span_readable_ms === null ? 'never' : fmtInt(p.last_span_readable_ms) + ' ms'} after its acknowledgement ` +
        `(${fmtInt(p.queue_pending_at_stop)} events queued when the load stopped; queue empty ${p.drain_s} s after it)`);
      L('readback', `${p.readback_complete}/${p.readback_checked} sampled traces complete (4 observations, generation with model, usage, input, output)`);
      L('server', `peak RSS ${p.server_peak_rss_mb} MB; CPU ${p.server_cpu_s_load} s during load (${p.server_cores_during_load} cores), ${p.server_cpu_s_incl_drain} s incl. drain`);
      if (p.server_thread_cpu_us_per_span) {
        L('CPU per span', `${p.server_cpu_us_per_span_incl_drain} us incl. drain; by thread: ` +
          Object.entries(p.server_thread_cpu_us_per_span).map(([k, v]) => `${k} ${v}`).join(', '));
      }
      if (p.worker_flush_phase_s) {
        const w = p.worker_flush_phase_s;
        L('worker flush phases', `${w.load} s reading stored rows, ${w.merge} s merging, ${w.insert} s inserting (load + drain)`);
      }
      for (const s of p.error_samples) console.log(`    sample: ${s}`);
      for (const s of p.incomplete_samples) console.log(`    incomplete: ${s}`);
    }
    if (serverInfo) L('server memory', `VmHWM ${serverInfo.vmhwm_mb} MB over both OTLP phases (${serverInfo.rss_start_mb} MB at start)`);
    if (ingest) {
      console.log(' Batch ingestion API (bench/ingest_load.mjs, same duration and connections)');
      L('accepted events/s', `${fmtInt(ingest.accepted_events_per_s)}  (~${ingest.bytes_per_event} B/event; end to end ${fmtInt(ingest.e2e_events_per_s)}/s)`);
      L('request latency ms', `p50 ${fmtMs(ingest.latency_ms?.p50)}  p99 ${fmtMs(ingest.latency_ms?.p99)}`);
      L('server', `peak RSS ${ingest.server_peak_rss_mb} MB; ${ingest.server_cores_during_load} cores during load`);
    }
    for (const p of problems) console.log(`  PROBLEM: ${p}`);
  }
  console.log(JSON.stringify(result));

  if (opts.keepData || problems.length) log(`kept ${work} (data/, server.log)`);
  else fs.rmSync(work, { recursive: true, force: true });
  process.exitCode = problems.length ? 1 : 0;
}

main().catch((e) => {
  console.error(`otel_load: ${e.stack ?? e}`);
  process.exit(1);
});
