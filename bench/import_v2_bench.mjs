#!/usr/bin/env node
// `langfuse import-v2` benchmark (Node 20, built-ins, psql). Not a test: it prints numbers.
//
// Builds a Langfuse v2 fixture database in the PostgreSQL server at $LANGFUSE_TEST_POSTGRES_URL
// (tests/fixtures/langfuse_v2: transactional.sql, tracing.sql, then fixture_generate_tracing for
// --traces more traces with 4 observations each: 250000 -> 1,001,000 observations), imports it into a
// fresh embedded data folder and reports rows per second per tracing table (the time between the
// table's first and last progress line) and the whole run's time. The database is dropped at the end.
//
// Usage: node bench/import_v2_bench.mjs [--bin PATH] [--traces N] [--batch-size N] [--json] [--keep]
//   --bin         the binary (default $LANGFUSE_BIN or build/release/src/app/langfuse)
//   --traces      generated traces on top of the fixture's 1000 (default 250000)
//   --batch-size  rows per batch (default the command's, 5000)
//   --timeout     seconds the import may take before it is stopped (default 1200)
//   --keep        keep the database and the data folder
//   --db NAME     import from this existing fixture database (one a --keep run left) instead of
//                 building one; it is kept. For before/after comparisons on identical rows.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, '..', 'tests', 'fixtures', 'langfuse_v2');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const flag = (name) => process.argv.includes(`--${name}`);

const bin = path.resolve(arg('bin', process.env.LANGFUSE_BIN || 'build/release/src/app/langfuse'));
const traces = Number(arg('traces', '250000'));
const batchSize = arg('batch-size', null);
const timeoutS = Number(arg('timeout', '1200'));
const pg = process.env.LANGFUSE_TEST_POSTGRES_URL;
if (!pg) throw new Error('LANGFUSE_TEST_POSTGRES_URL is not set (scripts/services starts PostgreSQL)');

const psql = (url, args) => execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, ...args], { encoding: 'utf8' });
const reuse = arg('db', null);
if (reuse !== null && !/^[a-z_][a-z0-9_]*$/.test(reuse)) throw new Error(`--db ${reuse}: not a plain database name`);
const dbName = reuse ?? `lf_v2_bench_${crypto.randomBytes(4).toString('hex')}`;
const keep = flag('keep') || reuse !== null;
const dbUrl = (() => { const u = new URL(pg); u.pathname = '/' + dbName; return u.toString(); })();
const log = (m) => { if (!flag('json')) console.error(`[import-v2-bench] ${m}`); };

const t0 = Date.now();
if (!reuse) psql(pg, ['-c', `CREATE DATABASE ${dbName}`]);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-import-v2-bench-'));
try {
  if (!reuse) {
    psql(dbUrl, ['-f', path.join(FIXTURES, 'transactional.sql')]);
    psql(dbUrl, ['-f', path.join(FIXTURES, 'tracing.sql')]);
    psql(dbUrl, ['-c', `SELECT fixture_generate_tracing(${traces}, 4)`, '-c', 'ANALYZE']);
  }
  const counts = psql(dbUrl, ['-At', '-c', 'SELECT (SELECT count(*) FROM traces), (SELECT count(*) FROM observations), (SELECT count(*) FROM scores)'])
    .trim().split('|').map(Number);
  log(`fixture ${reuse ? 'reused' : 'built'} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${counts[0]} traces, ${counts[1]} observations, ${counts[2]} scores`);

  const env = { ...process.env, LANGFUSE_DATA_DIR: path.join(dataDir, 'data'), SALT: 'bench' };
  for (const k of ['DATABASE_URL', 'CLICKHOUSE_URL', 'REDIS_CONNECTION_STRING', 'REDIS_HOST']) delete env[k];
  const args = ['import-v2', '--from', dbUrl, ...(batchSize ? ['--batch-size', batchSize] : [])];
  const phases = {};
  const started = Date.now();
  const result = await new Promise((resolve) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutS * 1000);
    let stdout = '';
    let partial = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const m = /^(traces|observations|scores): (\d+)\/(\d+)/.exec(line);
        if (!m) continue;
        const p = (phases[m[1]] ||= { firstAt: Date.now(), firstDone: Number(m[2]) });
        p.lastAt = Date.now();
        p.lastDone = Number(m[2]);
        if (!flag('json')) process.stderr.write(`  ${line}\n`);
      }
    });
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout }); });
  });
  const seconds = (Date.now() - started) / 1000;
  if (result.code !== 0) throw new Error(`import exited with ${result.code ?? result.signal}\n${result.stdout}`);
  const out = { traces: counts[0], observations: counts[1], scores: counts[2], seconds: Number(seconds.toFixed(1)), rowsPerSecond: {} };
  for (const [table, p] of Object.entries(phases)) {
    const s = (p.lastAt - p.firstAt) / 1000;
    out.rowsPerSecond[table] = s > 0 ? Math.round((p.lastDone - p.firstDone) / s) : null;
  }
  if (flag('json')) {
    console.log(JSON.stringify(out));
  } else {
    process.stdout.write(result.stdout);
    console.log(`\nobservations: ${out.rowsPerSecond.observations} rows/s; traces: ${out.rowsPerSecond.traces} rows/s; ` +
      `scores: ${out.rowsPerSecond.scores} rows/s; whole import ${out.seconds} s`);
  }
} finally {
  if (!keep) {
    try { psql(pg, ['-c', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`]); } catch { /* best effort */ }
    fs.rmSync(dataDir, { recursive: true, force: true });
  } else if (flag('keep')) {
    log(`kept database ${dbName} and ${dataDir}`);
  } else {
    log(`kept database ${dbName}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
