// End-to-end test harness: starts the real `langfuse server` binary on a free port with a fresh
// data directory, waits for it to be healthy, and gives tests small HTTP helpers.
//
// Environment:
//   LANGFUSE_BIN                   path of the langfuse binary (required)
//   LANGFUSE_TEST_TMP              parent directory for per-server temp dirs (default os.tmpdir())
//   LANGFUSE_E2E_READ_TIMEOUT_MS   how long reads poll for asynchronously ingested data (default 5000)
//   LANGFUSE_E2E_KEEP_TMP=1        keep temp dirs (data + server.log) after the run
//
// Only Node 20 built-ins are used here.

import { spawn } from 'node:child_process';
import { makeScaleServer, scaleTopologyRequested } from './scale_topology.mjs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export const READ_TIMEOUT_MS = Number(process.env.LANGFUSE_E2E_READ_TIMEOUT_MS || 5000);
export const ISO_MS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const HEALTH_POLL_MS = 50;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

// Variables that would switch the server away from its embedded stores or re-initialise a
// project behind the harness's back; never inherited from the caller's environment.
const SCRUBBED_ENV = [
  'DATABASE_URL', 'CLICKHOUSE_URL', 'CLICKHOUSE_USER', 'CLICKHOUSE_PASSWORD', 'CLICKHOUSE_CLUSTER_ENABLED',
  'REDIS_CONNECTION_STRING', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_AUTH', 'PORT', 'HOSTNAME',
  'LANGFUSE_DATA_DIR', 'SALT',
];

const liveServers = new Set();

// Last resort: never leave a server behind when the test process goes away.
process.on('exit', () => {
  for (const s of liveServers) {
    try { s._child?.kill('SIGKILL'); } catch { /* already gone */ }
    try { s.killAllSync?.(); } catch { /* already gone */ }
  }
});

/** The binary under test; throws a clear error when LANGFUSE_BIN is missing or wrong. */
export function requireBin() {
  const bin = process.env.LANGFUSE_BIN;
  if (!bin) {
    throw new Error('LANGFUSE_BIN is not set. Run e.g. `LANGFUSE_BIN=build/dev/src/app/langfuse node --test tests/e2e/`');
  }
  const resolved = path.resolve(bin);
  try {
    fs.accessSync(resolved, fs.constants.X_OK);
  } catch {
    throw new Error(`LANGFUSE_BIN=${bin} is not an executable file (resolved to ${resolved})`);
  }
  return resolved;
}

/**
 * Runs the binary under test once with `args` and `env` (a command such as `dlq list` or
 * `migrate`); resolves {code, stdout, stderr}, killing it after timeoutMs.
 */
export function runCommand(args, env, timeoutMs = 30_000) {
  return new Promise((resolve) => {
    const child = spawn(requireBin(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const portsHandedOut = new Set();

/**
 * A TCP port that was free a moment ago (listen on port 0, read it, close), never one this process
 * was given before: the kernel may offer a port again as soon as it is closed, and a server given
 * the same port for HTTP and OTLP/gRPC cannot start.
 */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
    if (!portsHandedOut.has(port)) {
      portsHandedOut.add(port);
      return port;
    }
  }
}

/** Whether a TCP connection to 127.0.0.1:port is accepted. */
/** Polls `check` every 100 ms until it is true; throws when `timeoutMs` passes first. */
export async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${what} not within ${timeoutMs / 1000} s`);
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function tcpAccepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function uid(prefix = '') {
  return prefix + crypto.randomUUID();
}

/** Ids and keys for one init org + project (LANGFUSE_INIT_*). */
export function makeProject(tag = 'a') {
  const r = crypto.randomBytes(4).toString('hex');
  return {
    orgId: `org-e2e-${tag}-${r}`,
    orgName: `E2E Org ${tag.toUpperCase()} ${r}`,
    projectId: `proj-e2e-${tag}-${r}`,
    projectName: `E2E Project ${tag.toUpperCase()} ${r}`,
    publicKey: `pk-lf-${crypto.randomUUID()}`,
    secretKey: `sk-lf-${crypto.randomUUID()}`,
  };
}

export function basicAuth(publicKey, secretKey) {
  return 'Basic ' + Buffer.from(`${publicKey}:${secretKey}`).toString('base64');
}

function tmpRoot() {
  return process.env.LANGFUSE_TEST_TMP || os.tmpdir();
}

function readTail(file, lines = 80) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(no server log at ${file}: ${e.message})`;
  }
}

/**
 * Starts `$LANGFUSE_BIN server` and waits for GET /api/public/health to answer 200.
 *
 * opts.project   init org/project/keys (default: makeProject('a'))
 * opts.env       extra environment variables
 * opts.name      label used in the temp dir name and in messages
 * opts.grpcPort  OTLP/gRPC port (default: a free one; LANGFUSE_OTLP_GRPC_PORT in opts.env wins)
 *
 * Returns {baseUrl, port, grpcPort, grpcAddress, dataDir, tmpDir, logPath, project, publicKey,
 *          secretKey, projectId, auth, stop(), kill(signal), restart({project, env}), logTail(n),
 *          isRunning(), grpcReady()}. grpcPort is null when opts.env sets LANGFUSE_OTLP_GRPC_PORT
 *          to 0 or off. The gRPC receiver starts right after the HTTP server answers: tests that
 *          use it await grpcReady() first.
 * restart() reuses the data dir and the ports.
 */
export async function startServer(opts = {}) {
  const bin = requireBin();
  const name = opts.name || 'server';
  const tmpDir = fs.mkdtempSync(path.join(tmpRoot(), `lf-e2e-${name}-`));
  const dataDir = path.join(tmpDir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const logPath = path.join(tmpDir, 'server.log');
  const port = opts.port || (await freePort());
  const project = opts.project || makeProject('a');
  // The OTLP/gRPC receiver would otherwise take its default port 4317, shared by every server.
  const grpcEnv = opts.env?.LANGFUSE_OTLP_GRPC_PORT;
  const grpcPort = grpcEnv !== undefined ? (/^[1-9]\d*$/.test(grpcEnv) ? Number(grpcEnv) : null)
    : (opts.grpcPort || (await freePort()));

  const server = {
    name,
    bin,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    grpcPort,
    grpcAddress: grpcPort ? `127.0.0.1:${grpcPort}` : null,
    tmpDir,
    dataDir,
    logPath,
    project,
    projects: [project],
    publicKey: project.publicKey,
    secretKey: project.secretKey,
    projectId: project.projectId,
    auth: basicAuth(project.publicKey, project.secretKey),
    salt: opts.salt || 'e2e-salt-' + crypto.randomBytes(6).toString('hex'),
    extraEnv: opts.env || {},
    starts: 0,
    _child: null,
    _exited: null,
    lastExit: null,

    isRunning() {
      return this._child !== null && this.lastExitOfCurrent === undefined;
    },

    logTail(lines = 80) {
      return readTail(this.logPath, lines);
    },

    /** Waits (up to 10 s) until the OTLP/gRPC port accepts connections. */
    async grpcReady(timeoutMs = 10_000) {
      if (!this.grpcPort) throw new Error(`${this.name} has no known OTLP/gRPC port`);
      const deadline = Date.now() + timeoutMs;
      while (!(await tcpAccepts(this.grpcPort))) {
        if (Date.now() > deadline || this.lastExitOfCurrent !== undefined) {
          throw new Error(`${this.name}: OTLP/gRPC port ${this.grpcPort} does not accept connections\n--- server log tail (${this.logPath}) ---\n${this.logTail()}`);
        }
        await sleep(HEALTH_POLL_MS);
      }
    },

    async _spawn(initProject) {
      const env = { ...process.env };
      for (const k of SCRUBBED_ENV) delete env[k];
      for (const k of Object.keys(env)) if (k.startsWith('LANGFUSE_INIT_')) delete env[k];
      Object.assign(env, {
        PORT: String(this.port),
        HOSTNAME: '127.0.0.1',
        LANGFUSE_DATA_DIR: this.dataDir,
        SALT: this.salt,
        LANGFUSE_INIT_ORG_ID: initProject.orgId,
        LANGFUSE_INIT_ORG_NAME: initProject.orgName,
        LANGFUSE_INIT_PROJECT_ID: initProject.projectId,
        LANGFUSE_INIT_PROJECT_NAME: initProject.projectName,
        LANGFUSE_INIT_PROJECT_PUBLIC_KEY: initProject.publicKey,
        LANGFUSE_INIT_PROJECT_SECRET_KEY: initProject.secretKey,
        ...(this.grpcPort ? { LANGFUSE_OTLP_GRPC_PORT: String(this.grpcPort) } : {}),
        ...this.extraEnv,
      });
      this.starts += 1;
      fs.appendFileSync(this.logPath, `\n===== e2e harness: start #${this.starts} (${new Date().toISOString()}) port=${this.port} init project=${initProject.projectId} =====\n`);
      const fd = fs.openSync(this.logPath, 'a');
      let child;
      try {
        child = spawn(this.bin, ['server'], { env, stdio: ['ignore', fd, fd] });
      } finally {
        fs.closeSync(fd);
      }
      this._child = child;
      this.lastExitOfCurrent = undefined;
      this._exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          const res = { code, signal };
          this.lastExitOfCurrent = res;
          this.lastExit = res;
          resolve(res);
        });
        child.on('error', (err) => {
          const res = { code: null, signal: null, error: err };
          this.lastExitOfCurrent = res;
          this.lastExit = res;
          resolve(res);
        });
      });
      liveServers.add(this);

      const deadline = Date.now() + (opts.startTimeoutMs || START_TIMEOUT_MS);
      let lastErr = 'no answer yet';
      while (Date.now() < deadline) {
        if (this.lastExitOfCurrent !== undefined) {
          const ex = this.lastExitOfCurrent;
          liveServers.delete(this);
          throw new Error(`langfuse server (${this.name}) exited during start-up: code=${ex.code} signal=${ex.signal}${ex.error ? ' error=' + ex.error.message : ''}\n--- server log tail (${this.logPath}) ---\n${this.logTail()}`);
        }
        try {
          const res = await fetch(`${this.baseUrl}/api/public/health`, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          if (res.status === 200) return;
          lastErr = `health answered ${res.status}`;
        } catch (e) {
          lastErr = e.cause?.code || e.message;
        }
        await sleep(HEALTH_POLL_MS);
      }
      await this.kill('SIGKILL');
      throw new Error(`langfuse server (${this.name}) did not become healthy within ${(opts.startTimeoutMs || START_TIMEOUT_MS) / 1000}s (last: ${lastErr})\n--- server log tail (${this.logPath}) ---\n${this.logTail()}`);
    },

    /** SIGTERM, wait up to 20 s, then SIGKILL. Returns {code, signal, forced}. */
    async stop() {
      if (!this._child || this.lastExitOfCurrent !== undefined) {
        liveServers.delete(this);
        return { ...(this.lastExitOfCurrent || {}), forced: false, alreadyStopped: true };
      }
      this._child.kill('SIGTERM');
      let timeoutHandle;
      const timer = new Promise((resolve) => { timeoutHandle = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS); });
      const first = await Promise.race([this._exited, timer]);
      clearTimeout(timeoutHandle);
      let forced = false;
      if (first === 'timeout') {
        forced = true;
        this._child.kill('SIGKILL');
        await this._exited;
      }
      liveServers.delete(this);
      return { ...this.lastExitOfCurrent, forced };
    },

    /** Sends a signal (default SIGKILL) and waits for the process to exit. */
    async kill(signal = 'SIGKILL') {
      if (!this._child || this.lastExitOfCurrent !== undefined) {
        liveServers.delete(this);
        return this.lastExitOfCurrent || null;
      }
      this._child.kill(signal);
      const res = await this._exited;
      liveServers.delete(this);
      return res;
    },

    /**
     * Stops the server if it runs (SIGTERM) and starts it again on the same data dir and port.
     * opts.project switches the LANGFUSE_INIT_* project (init is additive: keys of every project
     * initialised so far keep working).
     */
    async restart(ropts = {}) {
      const stopResult = this.isRunning() ? await this.stop() : null;
      const p = ropts.project || this.project;
      if (ropts.env) this.extraEnv = { ...this.extraEnv, ...ropts.env };
      if (!this.projects.some((x) => x.projectId === p.projectId)) this.projects.push(p);
      await this._spawn(p);
      return stopResult;
    },
  };

  // LANGFUSE_E2E_TOPOLOGY=scale: the same server object drives web + worker processes on
  // PostgreSQL, Redis and ClickHouse over HTTP instead of one embedded process.
  if (scaleTopologyRequested()) {
    makeScaleServer(server);
    liveServers.add(server);
  }
  await server._spawn(project);
  return server;
}

/** Removes a server's temp dir unless LANGFUSE_E2E_KEEP_TMP=1 or a test failed (keep=true). */
export function cleanupTmp(server, keep = false) {
  if (!server) return;
  if (keep || process.env.LANGFUSE_E2E_KEEP_TMP === '1') {
    console.error(`[e2e] kept temp dir of ${server.name}: ${server.tmpDir}`);
    return;
  }
  try { fs.rmSync(server.tmpDir, { recursive: true, force: true }); } catch { /* best effort */ }
}

/**
 * One HTTP call with fetch. auth: undefined -> server's Basic auth; null -> no Authorization;
 * a string -> that Authorization header. body: object -> JSON; string/Buffer -> sent as-is.
 * Returns {status, headers, text, json} (json is undefined when the body is not JSON).
 */
export async function api(server, method, urlPath, { body, auth, headers = {}, timeoutMs = 15_000 } = {}) {
  const h = { ...headers };
  const authHeader = auth === undefined ? server.auth : auth;
  if (authHeader !== null) h.Authorization = authHeader;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) payload = body;
    else payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  let res;
  let text;
  try {
    res = await fetch(server.baseUrl + urlPath, { method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (e) {
    const why = e?.name === 'TimeoutError' ? `no complete answer within ${timeoutMs} ms` : `${e?.message}${e?.cause ? ' (' + (e.cause.code || e.cause.message) + ')' : ''}`;
    throw new Error(`${method} ${urlPath.slice(0, 200)} failed: ${why}`, { cause: e });
  }
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Raw HTTP with node:http, for bodies a server may refuse mid-upload (413) or that need
 * chunked transfer encoding. A write error after the response arrived is ignored.
 */
export function rawHttp(server, { method = 'POST', path: urlPath, headers = {}, body, chunked = false, timeoutMs = 30_000 }) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    const buf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
    if (buf && !chunked) h['Content-Length'] = String(buf.length);
    if (chunked) h['Transfer-Encoding'] = 'chunked';
    let settled = false;
    let response = null;
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path: urlPath, headers: h, agent: false }, (res) => {
      response = res;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => {
      // The server may answer (413) and close before reading the whole body.
      if (response) return;
      if (!settled) { settled = true; reject(e); }
    });
    if (buf) {
      if (chunked) {
        const step = 64 * 1024;
        let off = 0;
        const pump = () => {
          while (off < buf.length) {
            const ok = req.write(buf.subarray(off, off + step));
            off += step;
            if (!ok) { req.once('drain', pump); return; }
          }
          req.end();
        };
        pump();
      } else {
        req.end(buf);
      }
    } else {
      req.end();
    }
  });
}

/** Envelope of one ingestion event. */
export function ev(type, body, { id = uid('ev-'), timestamp = new Date().toISOString(), metadata } = {}) {
  const e = { id, type, timestamp, body };
  if (metadata !== undefined) e.metadata = metadata;
  return e;
}

/** POST /api/public/ingestion {batch}. */
export function ingest(server, batch, opts = {}) {
  return api(server, 'POST', '/api/public/ingestion', { ...opts, body: { batch, ...(opts.envelopeMetadata ? { metadata: opts.envelopeMetadata } : {}) } });
}

/** Asserts a 207 with every event acknowledged; returns the response. */
export async function ingestOk(server, batch, opts = {}) {
  const res = await ingest(server, batch, opts);
  if (res.status !== 207 || !res.json || !Array.isArray(res.json.errors) || res.json.errors.length !== 0) {
    throw new Error(`ingestion not fully accepted: status=${res.status} body=${res.text.slice(0, 2000)}`);
  }
  return res;
}

/**
 * Calls fn() until done(value) is true or timeoutMs passes; returns the last value either way,
 * so the caller's assertions report precisely what was read last.
 */
export async function pollUntil(fn, done, { timeoutMs = READ_TIMEOUT_MS, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (done(last)) return last;
    } catch (e) {
      last = { pollError: e };
    }
    if (Date.now() >= deadline) return last;
    await sleep(intervalMs);
  }
}

/** GET /api/public/traces/{id} polled until pred(trace) holds (default: 200). */
export function pollTrace(server, traceId, pred = () => true, opts = {}) {
  return pollUntil(
    () => api(server, 'GET', `/api/public/traces/${encodeURIComponent(traceId)}`, { auth: opts.auth }),
    (r) => r.status === 200 && r.json && pred(r.json),
    opts,
  );
}

/** GET /api/public/observations/{id} polled until pred(observation) holds. */
export function pollObservation(server, obsId, pred = () => true, opts = {}) {
  return pollUntil(
    () => api(server, 'GET', `/api/public/observations/${encodeURIComponent(obsId)}`, { auth: opts.auth }),
    (r) => r.status === 200 && r.json && pred(r.json),
    opts,
  );
}

/** Short description of a response for assertion messages. */
export function show(res) {
  if (!res) return String(res);
  if (res.pollError) return `request failed: ${res.pollError.message}`;
  return `HTTP ${res.status} ${String(res.text).slice(0, 1500)}`;
}

/** JSON content type check. */
export function isJsonContentType(res) {
  const ct = typeof res.headers?.get === 'function' ? res.headers.get('content-type') : res.headers?.['content-type'];
  return typeof ct === 'string' && ct.toLowerCase().includes('application/json');
}

/**
 * Metadata as Langfuse returns it: top-level values are stored as strings (non-strings
 * JSON-encoded) and re-parsed when they look like JSON. This normalises both shapes to parsed
 * JSON values so tests compare semantics, not the storage detail.
 */
export function normMeta(m) {
  if (m === null || m === undefined) return m;
  if (typeof m !== 'object' || Array.isArray(m)) return m;
  const out = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'string') {
      try { out[k] = JSON.parse(v); } catch { out[k] = v; }
    } else {
      out[k] = v;
    }
  }
  return out;
}

/**
 * Wraps node:test's `it` so a failing test prints the tail of every given server's log.
 * getServers: () => array of server objects (may contain undefined).
 */
export function withServerLogs(itFn, getServers) {
  const wrapped = (name, optsOrFn, maybeFn) => {
    const fn = typeof optsOrFn === 'function' ? optsOrFn : maybeFn;
    const opts = typeof optsOrFn === 'function' ? {} : optsOrFn;
    return itFn(name, opts, async (t) => {
      try {
        return await fn(t);
      } catch (e) {
        wrapped.failed = true;
        for (const s of getServers().filter(Boolean)) {
          const tail = s.logTail(60);
          console.error(`\n[e2e] test "${name}" failed; last lines of ${s.name} log (${s.logPath}):\n${tail}\n[e2e] end of ${s.name} log\n`);
        }
        throw e;
      }
    });
  };
  wrapped.failed = false;
  return wrapped;
}
