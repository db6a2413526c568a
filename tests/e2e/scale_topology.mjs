// The scale topology for the end-to-end suites: when LANGFUSE_E2E_TOPOLOGY=scale, every "server"
// a test starts is two `langfuse web` and two `langfuse worker` processes on PostgreSQL
// (LANGFUSE_TEST_POSTGRES_URL, a schema of its own), Redis (LANGFUSE_TEST_REDIS_URL, a key prefix
// of its own) and ClickHouse's HTTP interface, served by the chDB-backed test fixture
// (LANGFUSE_CH_FIXTURE; a test fixture, since no modern ClickHouse server package exists here).
// Clients reach the two web processes through a round-robin TCP proxy on the server's port, so
// a write through one web process is read back through the other.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
// harness.mjs imports this module too; its functions are only called at run time, so the cycle is safe.
import { freePort, sleep } from './harness.mjs';

export function scaleTopologyRequested() {
  return process.env.LANGFUSE_E2E_TOPOLOGY === 'scale';
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`LANGFUSE_E2E_TOPOLOGY=scale needs ${name} (scripts/test sets it)`);
  return value;
}

async function waitHttp(url, isAlive, timeoutMs, describe) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`${describe} exited during start-up`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `answered ${res.status}`;
    } catch (e) {
      last = e.cause?.code || e.message;
    }
    await sleep(50);
  }
  throw new Error(`${describe} not healthy within ${timeoutMs / 1000}s (last: ${last})`);
}

// A round-robin TCP proxy: each new client connection goes to the next web process that accepts.
function startProxy(port, targets) {
  let next = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const order = targets.map((_, i) => targets[(next + i) % targets.length]);
    next = (next + 1) % targets.length;
    const connect = (i) => {
      if (i >= order.length) {
        client.destroy();
        return;
      }
      const upstream = net.connect(order[i], '127.0.0.1');
      upstream.once('error', () => {
        upstream.destroy();
        if (!client.destroyed && upstream.bytesWritten === 0 && upstream.bytesRead === 0) connect(i + 1);
        else client.destroy();
      });
      upstream.once('connect', () => {
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
    };
    connect(0);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        close() {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
        dropConnections() {
          for (const s of sockets) s.destroy();
        },
      }));
  });
}

/**
 * Turns the embedded-mode server object of harness.startServer into a scale topology with the
 * same interface: _spawn(initProject), stop(), kill(signal), isRunning(), logTail().
 */
export function makeScaleServer(server) {
  const fixtureBin = required('LANGFUSE_CH_FIXTURE');
  const postgresUrl = required('LANGFUSE_TEST_POSTGRES_URL');
  const redisUrl = required('LANGFUSE_TEST_REDIS_URL');
  const tag = `e2e_${crypto.randomBytes(5).toString('hex')}`;
  const group = {
    fixture: null,
    webs: [],
    workers: [],
    proxy: null,
    fixturePort: null,
    webPorts: null,
    workerPorts: null,
    chPath: path.join(server.dataDir, 'clickhouse-fixture'),
  };
  server.topology = 'scale';
  // Tests that read "the server log" read the first web process's (it runs the OTLP/gRPC receiver).
  server.logPath = path.join(server.tmpDir, 'web-1.log');
  server.scale = group;

  const launch = (name, args, env) => {
    const logPath = path.join(server.tmpDir, `${name}.log`);
    fs.appendFileSync(logPath, `\n===== e2e harness: start #${server.starts} (${new Date().toISOString()}) =====\n`);
    const fd = fs.openSync(logPath, 'a');
    let child;
    try {
      child = spawn(args[0], args.slice(1), { env, stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    const proc = { name, child, logPath, exit: undefined, args, env };
    proc.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => { proc.exit = { code, signal }; resolve(proc.exit); });
      child.on('error', (error) => { proc.exit = { code: null, signal: null, error }; resolve(proc.exit); });
    });
    return proc;
  };
  const all = () => [...group.webs, ...group.workers, ...(group.fixture ? [group.fixture] : [])];

  server._spawn = async function spawnScale(initProject) {
    this.starts += 1;
    group.fixturePort ||= await freePort();
    group.webPorts ||= [await freePort(), await freePort()];
    // LANGFUSE_E2E_SCALE_WORKERS: how many worker processes (default 2; the benchmark compares 1 and 2).
    const workerCount = Math.max(1, Number(process.env.LANGFUSE_E2E_SCALE_WORKERS || 2));
    group.workerPorts ||= await Promise.all(Array.from({ length: workerCount }, () => freePort()));
    fs.mkdirSync(group.chPath, { recursive: true });
    group.fixture = launch('clickhouse-fixture',
      [fixtureBin, '--port', String(group.fixturePort), '--path', group.chPath, '--user', 'e2e', '--password', tag], process.env);
    await waitHttp(`http://127.0.0.1:${group.fixturePort}/ping`, () => group.fixture.exit === undefined, 60_000,
      `ClickHouse HTTP fixture (log ${group.fixture.logPath})`);

    const base = { ...process.env };
    for (const k of Object.keys(base)) {
      if (k.startsWith('LANGFUSE_INIT_') || k.startsWith('REDIS_') || k.startsWith('CLICKHOUSE_')) delete base[k];
    }
    const schemaUrl = `${postgresUrl}${postgresUrl.includes('?') ? '&' : '?'}schema=${tag}`;
    Object.assign(base, {
      HOSTNAME: '127.0.0.1',
      LANGFUSE_DATA_DIR: this.dataDir,
      SALT: this.salt,
      // Every web process signs and checks the UI's session cookies with it.
      NEXTAUTH_SECRET: `e2e-nextauth-${tag}`,
      DATABASE_URL: schemaUrl,
      CLICKHOUSE_URL: `http://127.0.0.1:${group.fixturePort}`,
      CLICKHOUSE_USER: 'e2e',
      CLICKHOUSE_PASSWORD: tag,
      CLICKHOUSE_CLUSTER_ENABLED: 'false',
      REDIS_CONNECTION_STRING: redisUrl,
      REDIS_KEY_PREFIX: `${tag}:`,
      // A killed worker's entries are taken over after this long (default 60 s).
      LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS: '3000',
      ...this.extraEnv,
    });
    const init = {
      LANGFUSE_INIT_ORG_ID: initProject.orgId,
      LANGFUSE_INIT_ORG_NAME: initProject.orgName,
      LANGFUSE_INIT_PROJECT_ID: initProject.projectId,
      LANGFUSE_INIT_PROJECT_NAME: initProject.projectName,
      LANGFUSE_INIT_PROJECT_PUBLIC_KEY: initProject.publicKey,
      LANGFUSE_INIT_PROJECT_SECRET_KEY: initProject.secretKey,
    };
    // The first web process migrates and initialises alone; the others start once it is healthy.
    group.webs = [];
    group.workers = [];
    for (let i = 0; i < 2; i++) {
      const env = { ...base, ...init, PORT: String(group.webPorts[i]) };
      if (this.extraEnv.LANGFUSE_OTLP_GRPC_PORT === undefined) {
        env.LANGFUSE_OTLP_GRPC_PORT = i === 0 && this.grpcPort ? String(this.grpcPort) : 'off';
      }
      const web = launch(`web-${i + 1}`, [this.bin, 'web'], env);
      group.webs.push(web);
      await waitHttp(`http://127.0.0.1:${group.webPorts[i]}/api/public/health`, () => web.exit === undefined, 60_000,
        `langfuse web ${i + 1} (log ${web.logPath})`);
    }
    for (let i = 0; i < group.workerPorts.length; i++) {
      const env = { ...base, LANGFUSE_WORKER_PORT: String(group.workerPorts[i]) };
      const worker = launch(`worker-${i + 1}`, [this.bin, 'worker'], env);
      group.workers.push(worker);
      await waitHttp(`http://127.0.0.1:${group.workerPorts[i]}/api/health`, () => worker.exit === undefined, 60_000,
        `langfuse worker ${i + 1} (log ${worker.logPath})`);
    }
    group.proxy ||= await startProxy(this.port, group.webPorts);
    this._child = group.webs[0].child;
    this.lastExitOfCurrent = undefined;
  };

  server.isRunning = function isRunning() {
    return group.webs.length > 0 && group.webs.every((p) => p.exit === undefined);
  };

  server.logTail = function logTail(lines = 40) {
    return all().map((p) => {
      let text = '';
      try { text = fs.readFileSync(p.logPath, 'utf8').split('\n').slice(-lines).join('\n'); } catch { /* none */ }
      return `--- ${p.name} (${p.logPath}) ---\n${text}`;
    }).join('\n');
  };

  const stopAll = async function stopAll(signal) {
    // Web first (stop accepting), then workers (write what they hold), then the store.
    let forced = false;
    for (const set of [group.webs, group.workers, group.fixture ? [group.fixture] : []]) {
      await Promise.all(set.map(async (p) => {
        if (p.exit !== undefined) return;
        p.child.kill(signal);
        if (signal === 'SIGKILL') return void (await p.exited);
        const timer = sleep(20_000).then(() => 'timeout');
        if ((await Promise.race([p.exited, timer])) === 'timeout') {
          forced = true;
          p.child.kill('SIGKILL');
          await p.exited;
        }
      }));
    }
    // The proxy goes too (an open listener would keep the test process alive); a restart opens
    // it again on the same port.
    await group.proxy?.close();
    group.proxy = null;
    const ex = group.webs[0]?.exit || { code: null, signal };
    this.lastExitOfCurrent = ex;
    this.lastExit = ex;
    return { ...ex, forced };
  };

  server.stop = async function stop() {
    if (!this.isRunning()) return { ...(this.lastExitOfCurrent || {}), forced: false, alreadyStopped: true };
    return stopAll.call(this, 'SIGTERM');
  };

  server.kill = async function kill(signal = 'SIGKILL') {
    if (!group.webs.length) return null;
    const res = await stopAll.call(this, signal);
    return { code: res.code, signal: res.signal };
  };

  // Extra: stop one process of the topology (fault tests).
  server.killProcess = async function killProcess(name, signal = 'SIGKILL') {
    const p = all().find((x) => x.name === name);
    if (!p || p.exit !== undefined) return null;
    p.child.kill(signal);
    return p.exited;
  };

  // Starts a stopped process of the topology again with its arguments (fault tests).
  server.startProcess = async function startProcess(name) {
    const sets = [group.webs, group.workers];
    if (group.fixture?.name === name) {
      group.fixture = launch(name, group.fixture.args, group.fixture.env);
      await waitHttp(`http://127.0.0.1:${group.fixturePort}/ping`, () => group.fixture.exit === undefined, 60_000,
        `ClickHouse HTTP fixture (log ${group.fixture.logPath})`);
      return;
    }
    for (const set of sets) {
      const i = set.findIndex((p) => p.name === name);
      if (i >= 0) set[i] = launch(name, set[i].args, set[i].env);
    }
  };

  // For the harness's exit handler: nothing of the topology outlives the test process.
  server.killAllSync = function killAllSync() {
    for (const p of all()) {
      try { p.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  };
  return server;
}
