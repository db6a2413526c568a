#!/usr/bin/env node
// Web UI benchmark: the real server with the built app (ui/dist), measured in headless Chromium
// (Debian's chromium driven by playwright-core). Not a test: it prints numbers.
//
// 1. Traces page: a store with many traces, generated like the read benchmark's
//    (build/release/bench/read_bench_gen, the same DIR/gen.json + DIR/data layout, so a data set
//    kept by `scripts/bench read --data DIR` is reused as is). Time from navigation to the traces
//    table being interactive: its first rows visible and a filter control enabled, measured in
//    the page (performance.now() since navigation start), all time unfiltered and filtered by
//    one user. Median of --runs after one unmeasured load. Target: under 1 s with 1M traces.
// 2. Trace detail: one trace with --tree-observations (10,000) observations ingested through
//    the public ingestion API, then the time from navigation to the observation tree's first
//    rows, and a scripted scroll of the tree to its end, one step per animation frame, with the
//    frame times measured by requestAnimationFrame. Target: first rows under 2 s.
// 3. Dashboard: the project's home page over the past 30 days (its charts and totals come from
//    eight metrics queries), from navigation to the totals being shown. No target.
// 4. The app's size: every file of ui/dist, raw and gzip.
//
// Usage: node bench/ui_bench.mjs [--bin PATH] [--gen PATH] [--data DIR] [--traces N]
//          [--observations M] [--tree-observations K] [--runs N] [--ui-dir DIR]
//          [--chromium PATH] [--json] [--keep-data]
//   --bin           server binary (default $LANGFUSE_BIN or build/release/src/app/langfuse)
//   --gen           generator (default build/release/bench/read_bench_gen)
//   --data DIR      reuse DIR when it holds a generated data set (DIR/gen.json), else generate
//                   into it and keep it; without --data a temporary folder is used and removed
//   --traces/--observations  data set size when generating (default 20000 / 100000: a quick
//                   run; the issue's figure is --traces 1000000 --observations 10000000)
//   --tree-observations      observations of the big trace (default 10000)
//   --runs          measured page loads per scenario (default 5)
//   --ui-dir        the built app (default ui/dist); --chromium (default /usr/bin/chromium)
//   --json          print only the JSON result line
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { waitForStoredIds } from './metrics_text.mjs';

function usage(why) {
  console.error(`ui_bench: ${why}\nusage: node bench/ui_bench.mjs [--bin PATH] [--gen PATH] [--data DIR] [--traces N] ` +
    '[--observations M] [--tree-observations K] [--runs N] [--ui-dir DIR] [--chromium PATH] [--json] [--keep-data]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    bin: process.env.LANGFUSE_BIN || 'build/release/src/app/langfuse',
    gen: 'build/release/bench/read_bench_gen',
    data: null,
    traces: 20_000,
    observations: 100_000,
    treeObservations: 10_000,
    runs: 5,
    uiDir: 'ui/dist',
    chromium: process.env.LANGFUSE_CHROMIUM || '/usr/bin/chromium',
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
    else if (a === '--tree-observations') o.treeObservations = num();
    else if (a === '--runs') o.runs = num();
    else if (a === '--ui-dir') o.uiDir = next();
    else if (a === '--chromium') o.chromium = next();
    else if (a === '--json') o.json = true;
    else if (a === '--keep-data') o.keepData = true;
    else if (a === '--help' || a === '-h') usage('help');
    else usage(`unknown argument ${a}`);
  }
  if (o.runs < 1) usage('--runs must be >= 1');
  if (o.treeObservations < 2) usage('--tree-observations must be >= 2');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const log = (...args) => { if (!opts.json) console.log(...args); };
const uiDir = path.resolve(opts.uiDir);
if (!fs.existsSync(path.join(uiDir, 'index.html'))) usage(`${uiDir}/index.html is missing: build the app (cd ui && npm ci && npm run build)`);
try { fs.accessSync(opts.chromium, fs.constants.X_OK); } catch { usage(`no Chromium at ${opts.chromium} (Debian package chromium)`); }

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

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
function request(port, method, urlPath, auth, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = { authorization: auth };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`timeout: ${method} ${urlPath}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]; };
const r1 = (x) => Math.round(x * 10) / 10;

// ---------------------------------------------------------------------------------------------
// Data set (as bench/read_bench.mjs lays it out)

const tmpRoot = opts.data ? path.resolve(opts.data) : fs.mkdtempSync(path.join(os.tmpdir(), 'lf-ui-bench-'));
fs.mkdirSync(tmpRoot, { recursive: true });
const genPath = path.join(tmpRoot, 'gen.json');
const dataDir = path.join(tmpRoot, 'data');
let gen;
if (fs.existsSync(genPath)) {
  gen = JSON.parse(fs.readFileSync(genPath, 'utf8'));
  log(`== reusing the data set in ${tmpRoot} (${gen.traces} traces, ${gen.observations} observations)`);
} else {
  log(`== generating ${opts.traces} traces and ${opts.observations} observations into ${dataDir}`);
  const out = execFileSync(path.resolve(opts.gen), [
    '--data-dir', path.join(dataDir, 'clickhouse'), '--traces', String(opts.traces), '--observations', String(opts.observations),
  ], { stdio: ['ignore', 'pipe', opts.json ? 'ignore' : 'inherit'], maxBuffer: 1 << 20 });
  gen = JSON.parse(out.toString('utf8').trim().split('\n').pop());
  fs.writeFileSync(genPath, JSON.stringify(gen));
}

// ---------------------------------------------------------------------------------------------
// Server: the generated project, with an owner to sign in as.

const publicKey = 'pk-lf-ui-bench';
const secretKey = 'sk-lf-ui-bench';
const auth = 'Basic ' + Buffer.from(`${publicKey}:${secretKey}`).toString('base64');
const user = { email: 'ui-bench@example.com', password: 'ui-bench-password' };
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const logPath = path.join(tmpRoot, 'ui-bench-server.log');
const env = { ...process.env };
for (const k of Object.keys(env)) if (k.startsWith('LANGFUSE_INIT_') || k.startsWith('CLICKHOUSE_')) delete env[k];
delete env.DATABASE_URL;
delete env.REDIS_CONNECTION_STRING;
Object.assign(env, {
  PORT: String(port), HOSTNAME: '127.0.0.1', LANGFUSE_DATA_DIR: dataDir, SALT: 'read-bench-salt',
  LANGFUSE_UI_DIR: uiDir, LANGFUSE_OTLP_GRPC_PORT: String(await freePort()),
  LANGFUSE_INIT_ORG_ID: 'read-bench-org', LANGFUSE_INIT_ORG_NAME: 'Read bench',
  LANGFUSE_INIT_PROJECT_ID: gen.project, LANGFUSE_INIT_PROJECT_NAME: 'Read bench',
  LANGFUSE_INIT_PROJECT_PUBLIC_KEY: publicKey, LANGFUSE_INIT_PROJECT_SECRET_KEY: secretKey,
  LANGFUSE_INIT_USER_EMAIL: user.email, LANGFUSE_INIT_USER_NAME: 'UI bench', LANGFUSE_INIT_USER_PASSWORD: user.password,
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

// The big trace: a root span, then `steps` spans each with leaves (depth 3), in depth-first order
// the last row is the last step's last leaf.
const BIG_TRACE = `ui-bench-trace-${opts.treeObservations}`;
function bigTraceEvents() {
  const t0 = (gen.toMs || Date.now()) - 3_600_000;  // inside the data set's time window
  const iso = (ms) => new Date(t0 + ms).toISOString();
  const events = [{ id: `ev-${BIG_TRACE}`, type: 'trace-create', timestamp: iso(0),
    body: { id: BIG_TRACE, name: 'ui-bench-agent-run', timestamp: iso(0), input: [{ role: 'user', content: 'Plan the trip.' }] } }];
  const obs = (id, parent, name, type, start, end) => events.push({
    id: `ev-${id}`, type: type === 'GENERATION' ? 'generation-create' : 'span-create', timestamp: iso(start),
    body: { id, traceId: BIG_TRACE, parentObservationId: parent, name, startTime: iso(start), endTime: iso(end),
      ...(type === 'GENERATION' ? { model: 'gpt-4o-mini', usageDetails: { input: 10, output: 5 } } : {}) },
  });
  const n = opts.treeObservations - 1;  // besides the root
  const steps = Math.max(1, Math.round(Math.sqrt(n)));
  obs(`${BIG_TRACE}-root`, null, 'agent', 'SPAN', 0, n * 2 + 10);
  let made = 0;
  let lastName = 'agent';
  for (let s = 0; s < steps && made < n; s++) {
    const stepId = `${BIG_TRACE}-s${s}`;
    const leaves = Math.floor((n - steps) / steps) + (s < (n - steps) % steps ? 1 : 0);
    obs(stepId, `${BIG_TRACE}-root`, `step-${s}`, 'SPAN', made * 2, (made + leaves + 1) * 2);
    lastName = `step-${s}`;
    made += 1;
    for (let l = 0; l < leaves && made < n; l++, made++) {
      obs(`${stepId}-l${l}`, stepId, `call-${s}-${l}`, l % 2 ? 'GENERATION' : 'SPAN', made * 2, made * 2 + 1);
      lastName = `call-${s}-${l}`;
    }
  }
  return { events, lastName };
}
// Ingests the big trace unless the store has it; returns the name of its last row.
async function ingestBigTrace() {
  const { events, lastName } = bigTraceEvents();
  const existing = await request(port, 'GET', `/api/public/traces/${BIG_TRACE}`, auth);
  if (existing.status === 200 && JSON.parse(existing.body).observations.length === opts.treeObservations) return { lastName, reused: true };
  if (existing.status === 200) throw new Error(`${BIG_TRACE} exists with a different number of observations; use a fresh --data folder`);
  for (let i = 0; i < events.length; i += 500) {
    const res = await request(port, 'POST', '/api/public/ingestion', auth, { batch: events.slice(i, i + 500) });
    if (res.status !== 207 || JSON.parse(res.body).errors.length) throw new Error(`ingestion answered ${res.status}: ${res.body.slice(0, 500)}`);
  }
  const deadline = Date.now() + 180_000;
  for (;;) {
    const res = await request(port, 'GET', `/api/public/traces/${BIG_TRACE}`, auth);
    if (res.status === 200 && JSON.parse(res.body).observations.length === opts.treeObservations) break;
    if (Date.now() > deadline) throw new Error(`${BIG_TRACE} not readable with ${opts.treeObservations} observations within 180 s`);
    await sleep(500);
  }
  return { lastName, reused: false };
}

// In the page: wait (checking every animation frame) until `ready()` holds; returns ms since
// navigation start.
async function timeUntil(page, ready, arg) {
  const handle = await page.waitForFunction(ready, arg, { polling: 'raf', timeout: 120_000 }).catch(async (e) => {
    const shot = path.join(tmpRoot, 'ui-bench-timeout.png');
    await page.screenshot({ path: shot }).catch(() => {});
    throw new Error(`${page.url()} never got ready (screenshot ${shot}): ${e.message}`);
  });
  await handle.dispose();
  return page.evaluate(() => performance.now());
}

const TABLE_READY = () => {
  const row = document.querySelector('table[aria-label="Traces"] tbody tr[tabindex]');
  const filters = [...document.querySelectorAll('fieldset')].find((f) => f.querySelector('legend')?.textContent.trim() === 'Filters');
  const filter = filters?.querySelector('input:not([disabled])');
  return Boolean(row && row.getBoundingClientRect().height > 0 && filter);
};
const DASHBOARD_READY = () => {
  const total = document.querySelector('[data-testid="total-traces"]');
  return Boolean(total && total.getBoundingClientRect().height > 0);
};
const TREE_READY = () => {
  const items = document.querySelectorAll('[role=tree][aria-label="Observations"] [role=treeitem]');
  return items.length >= 10 && items[items.length - 1].getBoundingClientRect().height > 0;
};

let ok = false;
let browser;
try {
  const startedAt = performance.now();
  for (;;) {
    if (exited) throw new Error(`server exited (${JSON.stringify(exited)}); see ${logPath}`);
    try {
      if ((await request(port, 'GET', '/api/public/health', auth)).status === 200) break;
    } catch { /* not listening yet */ }
    if (performance.now() - startedAt > 120_000) throw new Error(`server not healthy within 120 s; see ${logPath}`);
    await sleep(100);
  }
  log(`== server up in ${Math.round(performance.now() - startedAt)} ms (port ${port})`);
  if (await waitForStoredIds(() => request(port, 'GET', '/metrics', auth))) {
    log(`== stored ids read ${Math.round(performance.now() - startedAt)} ms after the start`);
  }
  const ingestStart = performance.now();
  const big = await ingestBigTrace();
  log(`== trace with ${opts.treeObservations} observations ${big.reused ? 'already there' : `ingested in ${Math.round(performance.now() - ingestStart)} ms`}`);

  browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const signin = await context.request.post(`${baseUrl}/api/ui/auth/signin`, { data: user });
  if (signin.status() !== 200) throw new Error(`sign-in answered ${signin.status()}: ${await signin.text()}`);

  const results = [];
  const measure = async (name, url, ready, target, extra) => {
    const times = [];
    const apiTimes = [];
    for (let i = 0; i <= opts.runs; i++) {
      const page = await context.newPage();
      await page.goto(baseUrl + url, { waitUntil: 'commit' });
      const ms = await timeUntil(page, ready);
      // The main API call's own time: the trace list, the trace with its observations, or the
      // dashboard's data.
      const api = await page.evaluate(() => performance.getEntriesByType('resource')
        .filter((e) => /\/api\/ui\/projects\/[^/]+\/(traces(\/[^/]+)?|dashboard)$/.test(new URL(e.name).pathname)
          && !new URL(e.name).pathname.endsWith('/filter-options'))
        .map((e) => e.duration));
      if (i > 0) { times.push(ms); if (api.length) apiTimes.push(Math.max(...api)); }  // run 0 warms up
      if (extra && i === opts.runs) Object.assign(extra, await extra.after(page));
      await page.close();
    }
    const r = { name, runs: times.length, medianMs: r1(median(times)), maxMs: r1(Math.max(...times)),
      apiMedianMs: apiTimes.length ? r1(median(apiTimes)) : null, targetMs: target };
    r.meetsTarget = target ? r.medianMs < target : null;
    results.push(r);
    return r;
  };

  const base = `/project/${encodeURIComponent(gen.project)}`;
  await measure(`traces page interactive, all ${gen.traces} traces`, `${base}/traces?range=all`, TABLE_READY, 1000);
  // A user of the data set (the newest trace's that has one).
  const listed = await request(port, 'GET', '/api/public/traces?limit=50', auth);
  const someUser = JSON.parse(listed.body).data.find((t) => t.userId)?.userId;
  if (!someUser) throw new Error(`no trace with a userId among the newest 50: ${listed.body.slice(0, 300)}`);
  await measure('traces page interactive, filtered by user', `${base}/traces?range=all&user=${encodeURIComponent(someUser)}`, TABLE_READY, 1000);

  await measure('dashboard interactive, past 30 days', `${base}?range=30d`, DASHBOARD_READY, null);

  // The big trace: first rows, then (in the last run's page) a scroll to the end.
  const scroll = {
    async after(page) {
      return page.evaluate(async () => {
        const tree = document.querySelector('[role=tree][aria-label="Observations"]');
        const total = tree.scrollHeight - tree.clientHeight;
        const steps = 240;
        const frames = [];
        let last = performance.now();
        const start = last;
        for (let i = 1; i <= steps; i++) {
          tree.scrollTop = Math.round((total * i) / steps);
          await new Promise((r) => requestAnimationFrame(r));
          const now = performance.now();
          frames.push(now - last);
          last = now;
        }
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const items = [...tree.querySelectorAll('[role=treeitem]')];
        return {
          frames, scrollMs: last - start, scrollPx: total,
          lastRowText: items.length ? items[items.length - 1].textContent : '',
          renderedRows: items.length,
        };
      });
    },
  };
  const tree = await measure(`trace with ${opts.treeObservations} observations: first rows`,
    `${base}/traces/${BIG_TRACE}`, TREE_READY, 2000, scroll);
  const frames = scroll.frames;
  const reachedEnd = new RegExp(`\\b${big.lastName}(?![\\w-]*[a-z])`).test(scroll.lastRowText);
  tree.scroll = {
    frames: frames.length, scrollPx: scroll.scrollPx, renderedRows: scroll.renderedRows,
    frameMedianMs: r1(median(frames)), frameP95Ms: r1(pct(frames, 95)), frameMaxMs: r1(Math.max(...frames)),
    framesOver50Ms: frames.filter((f) => f > 50).length, fps: r1((frames.length * 1000) / scroll.scrollMs), reachedEnd,
  };

  // The app's size.
  const files = [];
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (!name.endsWith('.gz') && !name.endsWith('.br')) {
        const raw = fs.readFileSync(p);
        files.push({ file: path.relative(uiDir, p), bytes: raw.length, gzipBytes: zlib.gzipSync(raw, { level: 9 }).length });
      }
    }
  };
  walk(uiDir);
  const bundle = {
    files, bytes: files.reduce((s, f) => s + f.bytes, 0), gzipBytes: files.reduce((s, f) => s + f.gzipBytes, 0),
    jsGzipBytes: files.filter((f) => f.file.endsWith('.js')).reduce((s, f) => s + f.gzipBytes, 0),
    cssGzipBytes: files.filter((f) => f.file.endsWith('.css')).reduce((s, f) => s + f.gzipBytes, 0),
  };

  // The table.
  log('');
  log(`${'scenario'.padEnd(56)} ${'median'.padStart(9)} ${'max'.padStart(9)} ${'API'.padStart(9)}  target`);
  for (const r of results) {
    log(`${r.name.padEnd(56)} ${(r.medianMs + ' ms').padStart(9)} ${(r.maxMs + ' ms').padStart(9)} ` +
      `${(r.apiMedianMs === null ? '-' : r.apiMedianMs + ' ms').padStart(9)}  ${r.targetMs ? `< ${r.targetMs} ms: ${r.meetsTarget ? 'met' : 'MISSED'}` : ''}`);
  }
  const s = tree.scroll;
  log(`${'scroll the tree to its end: frame median / p95 / max'.padEnd(56)} ${(s.frameMedianMs + ' ms').padStart(9)} ` +
    `${(s.frameMaxMs + ' ms').padStart(9)}  p95 ${s.frameP95Ms} ms, ${s.fps} fps, ${s.framesOver50Ms} of ${s.frames} frames > 50 ms` +
    `${s.reachedEnd ? ', last row reached' : `, last row NOT reached (${scroll.lastRowText})`}`);
  const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
  log(`${'app size (ui/dist), gzip: total / js / css'.padEnd(56)} ${kb(bundle.gzipBytes).padStart(9)} ` +
    `${kb(bundle.jsGzipBytes).padStart(9)} ${kb(bundle.cssGzipBytes).padStart(9)}  raw ${kb(bundle.bytes)}`);
  console.log(JSON.stringify({ traces: gen.traces, observations: gen.observations, treeObservations: opts.treeObservations, results, bundle }));
  ok = results.every((r) => r.meetsTarget !== false) && s.reachedEnd;
} catch (e) {
  console.error(`ui_bench: ${e.stack || e.message}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  agent.destroy();
  await stopServer();
  if (!opts.data && !opts.keepData && process.exitCode !== 1) fs.rmSync(tmpRoot, { recursive: true, force: true });
  else log(`data kept in ${tmpRoot}`);
}
if (!ok && !process.exitCode) process.exitCode = 3;  // a target was missed
