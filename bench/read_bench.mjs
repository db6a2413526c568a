#!/usr/bin/env node
// Read benchmark (Node 20, built-ins only). Not a test: it prints numbers.
//
// 1. Generates the data set into a fresh embedded store with build/release/bench/read_bench_gen
//    (default 1,000,000 traces and 10,000,000 observations over 30 days in one project, five traces
//    with 1,000 observations each; see read_bench_gen.cpp), or reuses one (--data).
// 2. Starts the release `langfuse server` on that folder and measures through the public HTTP API,
//    --runs requests per scenario after --warmup unmeasured ones, one request at a time:
//      trace list filtered by userId (target p95 < 300 ms), by name and time through the `filter`
//      parameter, by tags and environment, and unfiltered; one trace with 1,000 observations
//      (target < 100 ms); three queries of the metrics API over the 30 days, as dashboards ask
//      them (no target); daily metrics over the 30 days (target < 500 ms).
// 3. Reports the store's size on disk (du of the chDB folder, and each table's active parts) and
//    bytes per observation.
//
// Usage: node bench/read_bench.mjs [--bin PATH] [--gen PATH] [--data DIR] [--traces N]
//          [--observations M] [--fresh-observations F] [--runs N] [--warmup N] [--only TEXT] [--json]
//          [--keep-data]
//   --bin           server binary (default $LANGFUSE_BIN or build/release/src/app/langfuse)
//   --gen           generator (default build/release/bench/read_bench_gen)
//   --data DIR      reuse DIR when it holds a generated data set (DIR/gen.json), else generate
//                   into it and keep it; without --data a temporary folder is used and removed
//   --traces/--observations  data set size when generating (default 1000000 / 10000000)
//   --fresh-observations F   when generating: F observations of the last day written again after
//                   the merge, one unmerged part as under ingestion (default 0: fully merged)
//   --runs          measured requests per scenario (default 30); --warmup (default 3)
//   --only TEXT     run only the scenarios whose name contains TEXT (e.g. `metrics`, `trace with`)
//   --json          print only the JSON result line
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { waitForStoredIds } from './metrics_text.mjs';

function usage(why) {
  console.error(`read_bench: ${why}\nusage: node bench/read_bench.mjs [--bin PATH] [--gen PATH] [--data DIR] ` +
    '[--traces N] [--observations M] [--fresh-observations F] [--runs N] [--warmup N] [--only TEXT] ' +
    '[--json] [--keep-data]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    bin: process.env.LANGFUSE_BIN || 'build/release/src/app/langfuse',
    gen: 'build/release/bench/read_bench_gen',
    data: null,
    traces: 1_000_000,
    observations: 10_000_000,
    freshObservations: 0,
    runs: 30,
    warmup: 3,
    only: null,
    json: false,
    keepData: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : usage(`missing value after ${a}`));
    const num = () => {
      const v = Number(next());
      if (!Number.isInteger(v) || v < 0) usage(`${a} needs a whole number`);
      return v;
    };
    if (a === '--bin') o.bin = next();
    else if (a === '--gen') o.gen = next();
    else if (a === '--data') o.data = next();
    else if (a === '--traces') o.traces = num();
    else if (a === '--observations') o.observations = num();
    else if (a === '--fresh-observations') o.freshObservations = num();
    else if (a === '--runs') o.runs = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--only') o.only = next();
    else if (a === '--json') o.json = true;
    else if (a === '--keep-data') o.keepData = true;
    else if (a === '--help' || a === '-h') usage('help');
    else usage(`unknown argument ${a}`);
  }
  if (o.runs < 1) usage('--runs must be >= 1');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const log = (...args) => { if (!opts.json) console.log(...args); };

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(port, urlPath, auth) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, headers: { authorization: auth } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`timeout: GET ${urlPath}`)));
    req.on('error', reject);
  });
}

function percentile(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// ---------------------------------------------------------------------------------------------
// Data set

const tmpRoot = opts.data ? path.resolve(opts.data) : fs.mkdtempSync(path.join(os.tmpdir(), 'lf-read-bench-'));
fs.mkdirSync(tmpRoot, { recursive: true });
const genPath = path.join(tmpRoot, 'gen.json');
const dataDir = path.join(tmpRoot, 'data');
let gen;
let generatedNow = false;
if (fs.existsSync(genPath)) {
  gen = JSON.parse(fs.readFileSync(genPath, 'utf8'));
  log(`== reusing the data set in ${tmpRoot} (${gen.traces} traces, ${gen.observations} observations)`);
} else {
  log(`== generating ${opts.traces} traces and ${opts.observations} observations into ${dataDir}`);
  const started = performance.now();
  const out = execFileSync(path.resolve(opts.gen), [
    '--data-dir', path.join(dataDir, 'clickhouse'), '--traces', String(opts.traces),
    '--observations', String(opts.observations), '--fresh-observations', String(opts.freshObservations),
  ], { stdio: ['ignore', 'pipe', opts.json ? 'ignore' : 'inherit'], maxBuffer: 1 << 20 });
  gen = JSON.parse(out.toString('utf8').trim().split('\n').pop());
  gen.wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  fs.writeFileSync(genPath, JSON.stringify(gen));
  generatedNow = true;
}
const storeBytes = Number(execFileSync('du', ['-sb', path.join(dataDir, 'clickhouse')]).toString().split('\t')[0]);

// ---------------------------------------------------------------------------------------------
// Server

const publicKey = 'pk-lf-read-bench';
const secretKey = 'sk-lf-read-bench';
const auth = 'Basic ' + Buffer.from(`${publicKey}:${secretKey}`).toString('base64');
const port = await freePort();
const logPath = path.join(tmpRoot, 'server.log');
const env = { ...process.env };
for (const k of Object.keys(env)) if (k.startsWith('LANGFUSE_INIT_') || k.startsWith('CLICKHOUSE_')) delete env[k];
delete env.DATABASE_URL;
delete env.REDIS_CONNECTION_STRING;
Object.assign(env, {
  PORT: String(port), HOSTNAME: '127.0.0.1', LANGFUSE_DATA_DIR: dataDir, SALT: 'read-bench-salt',
  LANGFUSE_INIT_ORG_ID: 'read-bench-org', LANGFUSE_INIT_ORG_NAME: 'Read bench',
  LANGFUSE_INIT_PROJECT_ID: gen.project, LANGFUSE_INIT_PROJECT_NAME: 'Read bench',
  LANGFUSE_INIT_PROJECT_PUBLIC_KEY: publicKey, LANGFUSE_INIT_PROJECT_SECRET_KEY: secretKey,
});
const logFd = fs.openSync(logPath, 'a');
const server = spawn(path.resolve(opts.bin), ['server'], { env, stdio: ['ignore', logFd, logFd] });
fs.closeSync(logFd);
let exited = null;
server.on('exit', (code, signal) => { exited = { code, signal }; });

async function stopServer() {
  if (exited) return;
  server.kill('SIGTERM');
  for (let i = 0; i < 200 && !exited; i++) await sleep(100);
  if (!exited) server.kill('SIGKILL');
}

let ok = false;
try {
  const startedAt = performance.now();
  for (;;) {
    if (exited) throw new Error(`server exited (${JSON.stringify(exited)}); see ${logPath}`);
    try {
      if ((await get(port, '/api/public/health', auth)).status === 200) break;
    } catch { /* not listening yet */ }
    if (performance.now() - startedAt > 120_000) throw new Error(`server not healthy within 120 s; see ${logPath}`);
    await sleep(100);
  }
  log(`== server up in ${Math.round(performance.now() - startedAt)} ms (port ${port})`);
  // The embedded server reads the ids of its stored rows in the background after start-up (a few
  // seconds at 10 million rows, `langfuse_ingestion_known_ids_ready`); measured while that runs,
  // the first scenario would time that read as well.
  if (await waitForStoredIds(() => get(port, '/metrics', auth))) {
    log(`== stored ids read ${Math.round(performance.now() - startedAt)} ms after the start`);
  } else {
    log('== (this server does not say when its stored ids are read)');
  }

  // -------------------------------------------------------------------------------------------
  // Scenarios: each builds its i-th request path and checks the answer.
  const day = 86_400_000;
  const iso = (ms) => new Date(ms).toISOString();
  const q = (params) => new URLSearchParams(params).toString();
  const json = (res) => JSON.parse(res.body);
  const scenarios = [
    {
      name: 'trace list, userId filter (limit 50)', target: 300,
      path: (i) => `/api/public/traces?${q({ userId: `user-${(i * 7919) % 10000}`, limit: 50 })}`,
      check: (res) => json(res).data.length > 0,
    },
    {
      name: 'trace list, filter param: name + last 7 days', target: 300,
      path: (i) => `/api/public/traces?${q({
        limit: 50,
        filter: JSON.stringify([
          { type: 'string', column: 'name', operator: '=', value: `trace-${i % 20}` },
          { type: 'datetime', column: 'timestamp', operator: '>=', value: iso(gen.toMs - 7 * day) },
        ]),
      })}`,
      check: (res) => json(res).data.length === 50,
    },
    {
      name: 'trace list, tags + environment', target: 300,
      path: (i) => `/api/public/traces?${q({ tags: i % 2 ? 'vip' : 'beta', environment: 'staging', limit: 50 })}`,
      check: (res) => json(res).data.length > 0,
    },
    {
      name: 'trace list, no filter, page 2', target: 300,
      path: () => `/api/public/traces?${q({ limit: 50, page: 2 })}`,
      check: (res) => json(res).data.length === 50,
    },
    {
      name: `one trace with ${gen.observationsPerBigTrace} observations`, target: 100,
      path: (i) => `/api/public/traces/${gen.bigTraceIds[i % gen.bigTraceIds.length]}`,
      check: (res) => json(res).observations.length === gen.observationsPerBigTrace,
    },
    {
      name: 'metrics API: observation cost by model, 30 days', target: null,
      path: () => `/api/public/metrics?${q({ query: JSON.stringify({
        view: 'observations', dimensions: [{ field: 'providedModelName' }],
        metrics: [{ measure: 'totalCost', aggregation: 'sum' }, { measure: 'count', aggregation: 'count' }],
        filters: [], fromTimestamp: iso(gen.fromMs), toTimestamp: iso(gen.toMs) }) })}`,
      check: (res) => json(res).data.length >= 3,
    },
    {
      name: 'metrics API: observation cost by user, 30 days', target: null,
      path: () => `/api/public/metrics?${q({ query: JSON.stringify({
        view: 'observations', dimensions: [{ field: 'userId' }],
        metrics: [{ measure: 'totalCost', aggregation: 'sum' }],
        filters: [], fromTimestamp: iso(gen.fromMs), toTimestamp: iso(gen.toMs), config: { row_limit: 20 } }) })}`,
      check: (res) => json(res).data.length === 20,
    },
    {
      name: 'metrics API: trace latency p95 by day, 30 days', target: null,
      path: () => `/api/public/metrics?${q({ query: JSON.stringify({
        view: 'traces', timeDimension: { granularity: 'day' }, dimensions: [],
        metrics: [{ measure: 'latency', aggregation: 'p95' }],
        filters: [], fromTimestamp: iso(gen.fromMs), toTimestamp: iso(gen.toMs) }) })}`,
      check: (res) => json(res).data.length >= 30,
    },
    {
      name: 'daily metrics, 30 days', target: 500,
      path: () => `/api/public/metrics/daily?${q({ fromTimestamp: iso(gen.fromMs), toTimestamp: iso(gen.toMs), limit: 50 })}`,
      check: (res) => json(res).data.length >= 30,
    },
  ];

  const results = [];
  for (const s of scenarios) {
    if (opts.only !== null && !s.name.includes(opts.only)) continue;
    const times = [];
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const p = s.path(i);
      const t0 = performance.now();
      const res = await get(port, p, auth);
      const ms = performance.now() - t0;
      if (res.status !== 200 || !s.check(res)) {
        throw new Error(`${s.name}: GET ${p} answered ${res.status}: ${res.body.slice(0, 500)}`);
      }
      if (i >= opts.warmup) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const r = {
      name: s.name, runs: times.length, targetMs: s.target,
      p50Ms: Math.round(percentile(times, 50) * 10) / 10,
      p95Ms: Math.round(percentile(times, 95) * 10) / 10,
      maxMs: Math.round(times[times.length - 1] * 10) / 10,
    };
    if (s.target !== null) r.meetsTarget = r.p95Ms < s.target;
    results.push(r);
    log(`${s.name.padEnd(50)} p50 ${String(r.p50Ms).padStart(7)} ms  p95 ${String(r.p95Ms).padStart(7)} ms  ` +
      `max ${String(r.maxMs).padStart(7)} ms  ` +
      (s.target === null ? '(no target)' : `target p95 < ${s.target} ms: ${r.meetsTarget ? 'met' : 'MISSED'}`));
  }

  if (!results.length) throw new Error(`--only ${opts.only}: no scenario has that in its name`);
  const tables = Object.fromEntries((gen.tables || []).map(([table, rows, bytes, uncompressed, parts]) =>
    [table, { rows, bytesOnDisk: bytes, uncompressedBytes: uncompressed, parts }]));
  const observationBytes = tables.observations?.bytesOnDisk ?? 0;
  const summary = {
    traces: gen.traces, observations: gen.observations, scores: gen.scores,
    generationSeconds: gen.seconds, generatedNow,
    storeBytesOnDisk: storeBytes,
    storeBytesPerObservation: Math.round((storeBytes / gen.observations) * 10) / 10,
    observationTableBytesPerObservation: Math.round((observationBytes / gen.observations) * 10) / 10,
    tables, results,
  };
  log(`store on disk: ${(storeBytes / 1e9).toFixed(2)} GB (du of the chDB folder) = ` +
    `${summary.storeBytesPerObservation} B per observation; observations table with its projection ` +
    `${((observationBytes) / 1e9).toFixed(2)} GB = ${summary.observationTableBytesPerObservation} B per observation`);
  for (const [t, v] of Object.entries(tables)) {
    log(`  ${t.padEnd(13)} ${String(v.rows).padStart(10)} rows  ${(v.bytesOnDisk / 1e6).toFixed(1).padStart(8)} MB on disk ` +
      `(${(v.uncompressedBytes / 1e6).toFixed(1)} MB uncompressed, ${v.parts} parts)`);
  }
  console.log(JSON.stringify(summary));
  ok = results.every((r) => r.meetsTarget !== false);
} catch (e) {
  console.error(`read_bench: ${e.message}`);
  process.exitCode = 1;
} finally {
  agent.destroy();
  await stopServer();
  if (!opts.data && !opts.keepData && process.exitCode !== 1) fs.rmSync(tmpRoot, { recursive: true, force: true });
  else log(`data kept in ${tmpRoot}`);
}
if (!ok && !process.exitCode) process.exitCode = 3;  // a target was missed
