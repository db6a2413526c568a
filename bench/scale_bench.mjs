#!/usr/bin/env node
// Batch-ingestion benchmark of the scale topology beside the embedded mode, in one run (not a test:
// it prints numbers). For each configuration the load of bench/ingest_load.mjs (same events, same
// clients, same measurements) runs for --duration seconds:
//   embedded     `langfuse server` on SQLite + chDB + the local queue (ingest_load starts it)
//   scale-1w     2 `langfuse web` + 1 `langfuse worker` on PostgreSQL, Redis and ClickHouse's HTTP
//                interface served by the chDB-backed test fixture, behind a round-robin TCP proxy
//                (the e2e harness's scale topology, tests/e2e/scale_topology.mjs)
//   scale-2w     the same with 2 workers
// and reports accepted events/s, end-to-end events/s (written to the store), request latency and
// the time from a 207 to the trace being readable, plus the processes' CPU and RSS.
//
// Usage: node bench/scale_bench.mjs [--bin PATH] [--fixture PATH] [--duration S] [--connections N]
//          [--configs embedded,scale-1w,scale-2w] [--json]
//   --bin       langfuse binary (default $LANGFUSE_BIN or build/release/src/app/langfuse)
//   --fixture   ClickHouse HTTP test fixture (default $LANGFUSE_CH_FIXTURE or
//               build/release/tests/fixtures/clickhouse_http_fixture)
//   --duration  seconds of load per configuration (default 15)
// PostgreSQL and Redis: LANGFUSE_TEST_POSTGRES_URL / LANGFUSE_TEST_REDIS_URL when set, otherwise
// throw-away servers started with scripts/services (Redis with appendonly yes, appendfsync always).
// Each scale configuration gets its own schema and key prefix. The proxy runs in this process and
// the load generator in a child process, so both cost CPU on the same machine, as in production a
// load balancer and the clients would not: the figures are a lower bound.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = {
    bin: process.env.LANGFUSE_BIN || path.join(root, 'build/release/src/app/langfuse'),
    fixture: process.env.LANGFUSE_CH_FIXTURE || path.join(root, 'build/release/tests/fixtures/clickhouse_http_fixture'),
    duration: 15,
    connections: 8,
    configs: ['embedded', 'scale-1w', 'scale-2w'],
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`missing value after ${a}`);
      return argv[++i];
    };
    if (a === '--bin') o.bin = next();
    else if (a === '--fixture') o.fixture = next();
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--connections') o.connections = Number(next());
    else if (a === '--configs') o.configs = next().split(',').filter(Boolean);
    else if (a === '--json') o.json = true;
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  const known = ['embedded', 'scale-1w', 'scale-2w'];
  if (!(o.duration > 0) || !(o.connections >= 1) || o.configs.some((c) => !known.includes(c))) {
    usage(`--duration > 0, --connections >= 1, --configs among ${known.join(',')}`);
  }
  for (const [name, file] of [['--bin', o.bin], ['--fixture', o.fixture]]) {
    if (!fs.existsSync(file)) usage(`${name} ${file} not found (scripts/build release langfuse clickhouse_http_fixture)`);
  }
  o.bin = path.resolve(o.bin);
  o.fixture = path.resolve(o.fixture);
  return o;
}

function usage(why) {
  if (why) console.error(`scale_bench: ${why}`);
  console.error('usage: node bench/scale_bench.mjs [--bin PATH] [--fixture PATH] [--duration S] [--connections N] ' +
    '[--configs embedded,scale-1w,scale-2w] [--json]');
  process.exit(why ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
const log = (...a) => console.error(...a);

// Runs bench/ingest_load.mjs with `args`; resolves with its JSON result line (it exits 1 when it
// noted problems, which are in the result).
function ingestLoad(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bench/ingest_load.mjs'), '--json',
      '--duration', String(opts.duration), '--connections', String(opts.connections), '--drain-timeout', '60',
      '--verify-seconds', '20', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (opts.duration + 240) * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (!line) return reject(new Error(`ingest_load gave no result (code ${code}, signal ${signal})`));
      resolve(JSON.parse(line));
    });
  });
}

// PostgreSQL and Redis for the scale configurations.
function services() {
  if (process.env.LANGFUSE_TEST_POSTGRES_URL && process.env.LANGFUSE_TEST_REDIS_URL) {
    return { stop() {} };
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'langfuse-scale-bench-services-'));
  const env = { ...process.env, LANGFUSE_TEST_TMP: tmp };
  const out = execFileSync(path.join(root, 'scripts/services'), ['start'], { env, timeout: 120_000 }).toString();
  for (const line of out.split('\n')) {
    const m = line.match(/^(LANGFUSE_TEST_(?:POSTGRES|REDIS)_URL)=(.+)$/);
    if (m) process.env[m[1]] = m[2];
  }
  return {
    stop() {
      try { execFileSync(path.join(root, 'scripts/services'), ['stop'], { env, timeout: 60_000 }); } catch { /* gone */ }
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

async function runScale(workers) {
  process.env.LANGFUSE_E2E_TOPOLOGY = 'scale';
  process.env.LANGFUSE_E2E_SCALE_WORKERS = String(workers);
  process.env.LANGFUSE_CH_FIXTURE = opts.fixture;
  process.env.LANGFUSE_BIN = opts.bin;
  const { startServer, cleanupTmp } = await import('../tests/e2e/harness.mjs');
  const srv = await startServer({
    name: `scale-bench-${workers}w`,
    project: {
      orgId: 'bench-org', orgName: 'Bench', projectId: 'bench-project', projectName: 'Bench',
      publicKey: 'pk-lf-bench', secretKey: 'sk-lf-bench',
    },
    env: { LANGFUSE_LOG_LEVEL: 'warn', LANGFUSE_OTLP_GRPC_PORT: 'off' },
  });
  const procs = [...srv.scale.webs, ...srv.scale.workers, srv.scale.fixture];
  const pids = procs.map((p) => p.child.pid);
  log(`scale topology: ${srv.scale.webs.length} web + ${workers} worker + ClickHouse fixture (pids ${pids.join(',')})`);
  let result;
  try {
    result = await ingestLoad(['--attach', String(srv.port), '--pids', pids.join(',')]);
  } finally {
    const stopped = await srv.stop();
    if (result && stopped.forced) result.problems.push('a process did not stop within 20 s of SIGTERM');
    cleanupTmp(srv, !result || result.problems.length > 0);
  }
  return result;
}

function row(name, r) {
  return {
    config: name,
    accepted_events_per_s: r.accepted_events_per_s,
    e2e_events_per_s: r.e2e_events_per_s,
    e2e_events_per_s_incl_drain: r.e2e_events_per_s_incl_drain,
    latency_p50_ms: r.latency_ms.p50,
    latency_p99_ms: r.latency_ms.p99,
    readable_ms_load_p50: r.readable_after_207_ms_load.p50,
    readable_ms_load_p99: r.readable_after_207_ms_load.p99,
    readable_ms_idle_p50: r.readable_after_207_ms_idle.p50,
    readable_ms_idle_max: r.readable_after_207_ms_idle.max,
    drain_s: r.drain_s,
    drain_events_per_s: r.drain_events_per_s,
    cores_during_load: r.server_cores_during_load,
    peak_rss_mb: r.server_peak_rss_mb,
    problems: r.problems,
  };
}

async function main() {
  const loadBefore = os.loadavg()[0];
  const rows = [];
  let svc = null;
  try {
    for (const config of opts.configs) {
      log(`== ${config}: ${opts.connections} connections x ${opts.duration} s`);
      let r;
      if (config === 'embedded') {
        r = await ingestLoad(['--bin', opts.bin]);
      } else {
        svc ||= services();
        r = await runScale(config === 'scale-1w' ? 1 : 2);
      }
      rows.push(row(config, r));
    }
  } finally {
    svc?.stop();
  }
  const result = { bench: 'scale_bench', duration_s: opts.duration, connections: opts.connections,
    cores: os.cpus().length, load_avg_before: +loadBefore.toFixed(2), rows };
  if (!opts.json) {
    const f = (x) => (x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
    const ms = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(0));
    console.log(`ingestion, ${opts.connections} clients x ${opts.duration} s of 100-event batches (~1 KB events), ` +
      `${os.cpus().length} cores, load average before ${loadBefore.toFixed(2)}`);
    console.log('config     accepted ev/s  written ev/s (incl. drain)  req p50/p99 ms  207->readable ms load p50/p99, idle p50  drain s  cores  RSS MB');
    for (const r of rows) {
      console.log(`${r.config.padEnd(10)} ${f(r.accepted_events_per_s).padStart(13)}  ` +
        `${(f(r.e2e_events_per_s) + ' (' + f(r.e2e_events_per_s_incl_drain) + ')').padStart(26)}  ` +
        `${(ms(r.latency_p50_ms) + '/' + ms(r.latency_p99_ms)).padStart(14)}  ` +
        `${(ms(r.readable_ms_load_p50) + '/' + ms(r.readable_ms_load_p99) + ', ' + ms(r.readable_ms_idle_p50)).padStart(39)}  ` +
        `${String(r.drain_s ?? 'n/a').padStart(7)}  ${String(r.cores_during_load).padStart(5)}  ${String(r.peak_rss_mb).padStart(6)}`);
      for (const p of r.problems) console.log(`  PROBLEM (${r.config}): ${p}`);
    }
  }
  console.log(JSON.stringify(result));
  process.exitCode = rows.some((r) => r.problems.length) ? 1 : 0;
}

main().catch((e) => {
  console.error(`scale_bench: ${e.stack ?? e}`);
  process.exit(1);
});
