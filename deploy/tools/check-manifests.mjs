// Checks deployment files the way a cluster or Docker would read them, for scripts/check-deploy.
//
//   node deploy/tools/check-manifests.mjs helm <rendered.yaml> <bundled|external>
//       Kubernetes manifests rendered from the chart (deploy/tools/helm-template): parsed YAML,
//       nothing left unrendered, each object valid against Kubernetes' API schema (the
//       kubernetes-models package: types, required fields, enums) with no field the API does not
//       know, references that resolve (selectors, Services, HPA targets, ConfigMaps, Secret keys,
//       named ports), the kinds and names the profile expects, and web and worker given every
//       variable they need.
//   node deploy/tools/check-manifests.mjs compose <config.yaml> <scale|external|embedded>
//       The output of `docker-compose config` for one compose file: the services, healthchecks,
//       start-up conditions, volumes and settings that file is meant to have.
//   node deploy/tools/check-manifests.mjs env-example <.env.example> <compose files...>
//       Every variable the compose files interpolate and every setting the server reads (the
//       names in src/) is documented in the example env file.
//
// Prints each problem on its own line and exits 1 if there is any.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const problems = [];
const fail = (msg) => problems.push(msg);

function parseDocuments(text, label) {
  const docs = [];
  for (const doc of YAML.parseAllDocuments(text, { uniqueKeys: true })) {
    for (const e of [...doc.errors, ...doc.warnings]) fail(`${label}: YAML: ${e.message.split("\n")[0]}`);
    const value = doc.toJS({ maxAliasCount: 1000 });
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes API schema: field names from the kubernetes-models package's type declarations, so
// a misspelt or misplaced field fails here as `kubectl apply` (strict field validation) would.

const require = createRequire(import.meta.url);
const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));
const machineryRoot = path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json"));
let typeIndex = null;  // alias name -> { fields } | { scalar: true }

function declarationFiles(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) declarationFiles(p, out);
    else if (entry.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

// Interfaces of one declaration file: name -> { field -> type text }.
function interfacesOf(text) {
  const out = {};
  const re = /^export interface (\w+)(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/gm;
  for (let m; (m = re.exec(text));) {
    const fields = {};
    const body = m[2].replace(/^\s*\/\*\*[\s\S]*?\*\/\n/gm, "");
    const fieldRe = /^ {4}"([^"]+)"\??: ([\s\S]*?);\n(?= {4}"|$)/gm;
    for (let f; (f = fieldRe.exec(body));) fields[f[1]] = f[2].replace(/\s+/g, " ");
    out[m[1]] = fields;
  }
  return out;
}

function buildTypeIndex() {
  const index = {};
  for (const file of [...declarationFiles(modelsRoot), ...declarationFiles(machineryRoot)]) {
    if (file.includes(`${path.sep}_schemas${path.sep}`)) continue;
    const text = fs.readFileSync(file, "utf8");
    const interfaces = interfacesOf(text);
    const scalars = new Set([...text.matchAll(/^export type (I\w+) = [^{;]+;/gm)].map((m) => m[1]));
    for (const m of text.matchAll(/^export type \{ ([^}]+) \};/gm)) {
      for (const pair of m[1].split(",")) {
        const [local, alias] = pair.trim().split(/\s+as\s+/);
        if (!alias) continue;
        if (interfaces[local]) index[alias] = { fields: interfaces[local], file };
        else if (scalars.has(local)) index[alias] = { scalar: true };
      }
    }
    // The top-level kinds are also found by their file (apps/v1/Deployment.d.ts -> IDeployment).
    const kind = path.basename(file, ".d.ts");
    if (interfaces[`I${kind}`] && interfaces[`I${kind}`].kind) index[`file:${path.relative(modelsRoot, file)}`] = { fields: interfaces[`I${kind}`] };
  }
  return index;
}

// Checks that `value` holds only fields its declared type knows, recursively.
function checkFields(value, typeText, where) {
  typeText = typeText.trim();
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(typeText);
  if (array) {
    if (!Array.isArray(value)) return;  // the schema validation reports the type
    value.forEach((v, i) => checkFields(v, array[1], `${where}[${i}]`));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeText);
  if (map) {
    if (typeof value !== "object" || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) checkFields(v, map[1], `${where}.${k}`);
    return;
  }
  const named = /^(IIoK8s\w+)$/.exec(typeText);
  if (!named) return;  // string, number, boolean, enum literals, unions of those
  const type = typeIndex[named[1]];
  if (!type) {
    fail(`${where}: no schema for ${named[1]} (kubernetes-models changed?)`);
    return;
  }
  if (type.scalar || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!(k in type.fields)) fail(`${where}: unknown field "${k}"`);
    else checkFields(v, type.fields[k], `${where}.${k}`);
  }
}

async function validateSchema(doc, where) {
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  const rel = path.join(group, version, `${doc.kind}.d.ts`);
  let mod;
  try {
    mod = await import(`kubernetes-models/${group ? `${group}/` : ""}${version}/${doc.kind}`);
  } catch {
    fail(`${where}: ${doc.apiVersion} ${doc.kind} is not a Kubernetes API kind`);
    return;
  }
  try {
    new mod[doc.kind](doc).validate();
  } catch (e) {
    fail(`${where}: ${e.message.replace(/\s+/g, " ")}`);
  }
  typeIndex ??= buildTypeIndex();
  const root = typeIndex[`file:${rel}`];
  if (!root) {
    fail(`${where}: no field list for ${doc.apiVersion} ${doc.kind}`);
    return;
  }
  for (const [k, v] of Object.entries(doc)) {
    if (!(k in root.fields)) fail(`${where}: unknown field "${k}"`);
    else checkFields(v, root.fields[k], `${where}.${k}`);
  }
}

// ---------------------------------------------------------------------------------------------

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;

async function checkHelm(file, profile) {
  const text = fs.readFileSync(file, "utf8");
  for (const [re, what] of [[/\{\{|\}\}/, "template braces"], [/<no value>/, "<no value>"], [/%!/, "a printf error"]]) {
    const line = text.split("\n").findIndex((l) => re.test(l));
    if (line >= 0) fail(`${file}:${line + 1}: unrendered ${what}: ${text.split("\n")[line].trim()}`);
  }
  const docs = parseDocuments(text, file);
  const byKind = (kind) => docs.filter((d) => d.kind === kind);
  const find = (kind, name) => docs.find((d) => d.kind === kind && d.metadata?.name === name);
  const seen = new Set();
  for (const doc of docs) {
    const where = `${doc.kind ?? "?"}/${doc.metadata?.name ?? "?"}`;
    if (!doc.apiVersion || !doc.kind || !doc.metadata?.name) {
      fail(`${where}: apiVersion, kind and metadata.name are required`);
      continue;
    }
    if (seen.has(`${doc.kind}/${doc.metadata.name}`)) fail(`${where}: defined twice`);
    seen.add(`${doc.kind}/${doc.metadata.name}`);
    if (!dns1123Label.test(doc.metadata.name) || doc.metadata.name.length > 63) {
      fail(`${where}: name is not a DNS-1123 label of at most 63 characters`);
    }
    await validateSchema(doc, where);
  }

  // Kinds and names of the profile (release "lf", so the prefix is lf-langfuse-cpp).
  const p = "lf-langfuse-cpp";
  const expected = [
    ["ConfigMap", `${p}-env`], ["Secret", `${p}-env`],
    ["Deployment", `${p}-web`], ["Service", `${p}-web`], ["HorizontalPodAutoscaler", `${p}-web`],
    ["PodDisruptionBudget", `${p}-web`],
    ["Deployment", `${p}-worker`], ["Service", `${p}-worker`], ["HorizontalPodAutoscaler", `${p}-worker`],
    ["PodDisruptionBudget", `${p}-worker`],
  ];
  const bundled = [
    ["StatefulSet", `${p}-postgresql`], ["Service", `${p}-postgresql`],
    ["StatefulSet", `${p}-redis`], ["Service", `${p}-redis`],
    ["StatefulSet", `${p}-clickhouse`], ["Service", `${p}-clickhouse`], ["ConfigMap", `${p}-clickhouse-config`],
  ];
  if (profile === "bundled") expected.push(...bundled);
  for (const [kind, name] of expected) if (!find(kind, name)) fail(`missing ${kind}/${name}`);
  if (profile === "external") {
    for (const d of byKind("StatefulSet")) fail(`StatefulSet/${d.metadata.name}: no datastore is bundled in this profile`);
  }
  const wanted = new Set(expected.map(([k, n]) => `${k}/${n}`));
  for (const d of docs) if (!wanted.has(`${d.kind}/${d.metadata?.name}`)) fail(`unexpected ${d.kind}/${d.metadata?.name}`);

  // References between objects.
  const workloads = [...byKind("Deployment"), ...byKind("StatefulSet")];
  for (const w of workloads) {
    const where = `${w.kind}/${w.metadata.name}`;
    const pod = w.spec?.template;
    if (!matches(w.spec?.selector?.matchLabels, pod?.metadata?.labels)) fail(`${where}: selector does not match the pod labels`);
    if (w.kind === "StatefulSet" && !find("Service", w.spec.serviceName)) fail(`${where}: serviceName ${w.spec.serviceName} is no Service`);
    const volumes = new Map((pod?.spec?.volumes ?? []).map((v) => [v.name, v]));
    for (const t of w.spec?.volumeClaimTemplates ?? []) volumes.set(t.metadata.name, t);
    for (const v of volumes.values()) {
      if (v.configMap) {
        const cm = find("ConfigMap", v.configMap.name);
        if (!cm) fail(`${where}: volume ${v.name}: ConfigMap ${v.configMap.name} is not in the chart`);
        v.keys = new Set(Object.keys(cm?.data ?? {}));
      }
    }
    for (const c of pod?.spec?.containers ?? []) {
      const cw = `${where} container ${c.name}`;
      const ports = new Set((c.ports ?? []).map((x) => x.name));
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const port = c[probe]?.httpGet?.port;
        if (typeof port === "string" && !ports.has(port)) fail(`${cw}: ${probe} uses port ${port}, which the container does not name`);
      }
      for (const m of c.volumeMounts ?? []) {
        const v = volumes.get(m.name);
        if (!v) fail(`${cw}: mounts ${m.name}, which is no volume`);
        else if (m.subPath && v.keys && !v.keys.has(m.subPath)) fail(`${cw}: subPath ${m.subPath} is not a key of ConfigMap ${v.configMap.name}`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !(ref.key in (find("Secret", ref.name)?.stringData ?? {}))) fail(`${cw}: env ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
      }
      if (c.securityContext?.allowPrivilegeEscalation !== false) fail(`${cw}: allowPrivilegeEscalation must be false`);
      if (!c.resources?.requests) fail(`${cw}: no resource requests`);
    }
    if (pod?.spec?.securityContext?.runAsNonRoot !== true) fail(`${where}: the pod must run as non-root`);
  }
  for (const s of byKind("Service")) {
    const targets = workloads.filter((w) => matches(s.spec?.selector, w.spec?.template?.metadata?.labels));
    if (targets.length !== 1) fail(`Service/${s.metadata.name}: selects ${targets.length} workloads instead of one`);
    for (const port of s.spec?.ports ?? []) {
      const named = targets[0]?.spec.template.spec.containers.some((c) => (c.ports ?? []).some((x) => x.name === port.targetPort));
      if (typeof port.targetPort === "string" && targets[0] && !named) fail(`Service/${s.metadata.name}: targetPort ${port.targetPort} is no container port`);
    }
  }
  for (const h of byKind("HorizontalPodAutoscaler")) {
    const ref = h.spec?.scaleTargetRef;
    if (!find(ref?.kind, ref?.name)) fail(`HorizontalPodAutoscaler/${h.metadata.name}: target ${ref?.kind}/${ref?.name} is not in the chart`);
    if (!h.spec.metrics?.some((m) => m.resource?.name === "cpu")) fail(`HorizontalPodAutoscaler/${h.metadata.name}: no CPU metric`);
  }
  const workerHpa = find("HorizontalPodAutoscaler", `${p}-worker`);
  const queueMetric = workerHpa?.spec.metrics?.find((m) => m.type === "External");
  if (profile === "external" && queueMetric?.external?.metric?.name !== "langfuse_queue_pending_events") {
    fail(`HorizontalPodAutoscaler/${p}-worker: no external metric langfuse_queue_pending_events`);
  }
  for (const b of byKind("PodDisruptionBudget")) {
    if (("minAvailable" in b.spec) === ("maxUnavailable" in b.spec)) fail(`PodDisruptionBudget/${b.metadata.name}: exactly one of minAvailable and maxUnavailable`);
    if (!workloads.some((w) => matches(b.spec?.selector?.matchLabels, w.spec.template.metadata.labels))) {
      fail(`PodDisruptionBudget/${b.metadata.name}: selects no workload`);
    }
  }

  // web and worker: role, the variables they need, the probes.
  for (const [role, port, health] of [["web", "3000", "/api/public/health"], ["worker", "3030", "/api/health"]]) {
    const d = find("Deployment", `${p}-${role}`);
    const c = d?.spec.template.spec.containers[0];
    if (!c) continue;
    const where = `Deployment/${d.metadata.name}`;
    if (JSON.stringify(c.args) !== JSON.stringify([role])) fail(`${where}: args must be ["${role}"]`);
    const env = {};
    for (const src of c.envFrom ?? []) {
      const ref = src.configMapRef ?? src.secretRef;
      const obj = find(src.configMapRef ? "ConfigMap" : "Secret", ref.name);
      if (!obj) fail(`${where}: envFrom ${ref.name} is not in the chart`);
      Object.assign(env, obj?.data ?? {}, obj?.stringData ?? {});
    }
    for (const e of c.env ?? []) env[e.name] = e.value;
    const need = ["SALT", "DATABASE_URL", "CLICKHOUSE_URL", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "HOSTNAME", "PORT", "LANGFUSE_WORKER_PORT"];
    for (const name of need) if (!env[name]) fail(`${where}: ${name} is not set`);
    if (!env.REDIS_HOST && !env.REDIS_CONNECTION_STRING) fail(`${where}: neither REDIS_HOST nor REDIS_CONNECTION_STRING is set`);
    if (env.REDIS_HOST && !env.REDIS_AUTH && profile === "bundled") fail(`${where}: REDIS_AUTH is not set`);
    if (env.HOSTNAME !== "0.0.0.0") fail(`${where}: HOSTNAME must be 0.0.0.0 (Kubernetes sets it to the pod name)`);
    if (env.DATABASE_URL && !/^postgres(ql)?:\/\/[^/]+@[^/]+\/\w+/.test(env.DATABASE_URL)) fail(`${where}: DATABASE_URL is not a postgresql:// URL`);
    if (env.CLICKHOUSE_URL && !/^https?:\/\/[^/]+$/.test(env.CLICKHOUSE_URL)) fail(`${where}: CLICKHOUSE_URL is not an http(s) URL`);
    if (String(env[role === "web" ? "PORT" : "LANGFUSE_WORKER_PORT"]) !== port) fail(`${where}: listens on ${port} but the variable says otherwise`);
    if (c.startupProbe?.httpGet?.path !== health) fail(`${where}: the startup probe must use ${health}`);
    if (!c.readinessProbe?.httpGet || !c.livenessProbe?.httpGet) fail(`${where}: readiness and liveness probes are required`);
    if (d.spec.template.spec.securityContext?.runAsUser !== 10001) fail(`${where}: must run as the image's user 10001`);
    if (c.securityContext?.readOnlyRootFilesystem !== true) fail(`${where}: the root file system must be read-only`);
  }

  // The bundled ClickHouse gets the same configuration files as compose.
  const chConfig = find("ConfigMap", `${p}-clickhouse-config`);
  if (chConfig) {
    for (const [key, file] of [["config.xml", "deploy/clickhouse/config.d/langfuse.xml"], ["users.xml", "deploy/clickhouse/users.d/langfuse.xml"]]) {
      const want = fs.readFileSync(path.join(repo, file), "utf8").trim();
      if ((chConfig.data?.[key] ?? "").trim() !== want) fail(`ConfigMap/${chConfig.metadata.name}: ${key} differs from ${file}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

function checkCompose(file, shape) {
  const [config] = parseDocuments(fs.readFileSync(file, "utf8"), file);
  const services = config?.services ?? {};
  const roles = { scale: ["web", "worker", "proxy", "postgres", "redis", "clickhouse"], external: ["web", "worker"], embedded: ["langfuse"] }[shape];
  if (!roles) throw new Error(`unknown compose shape ${shape}`);
  const names = Object.keys(services).sort();
  if (JSON.stringify(names) !== JSON.stringify([...roles].sort())) fail(`${file}: services are ${names.join(", ")}, expected ${[...roles].sort().join(", ")}`);
  const command = (s) => [].concat(s?.command ?? []);
  // docker-compose v1 prints volumes in the short syntax, `docker compose` in the long one.
  for (const s of Object.values(services)) {
    s.volumes = (s.volumes ?? []).map((v) => {
      if (typeof v !== "string") return v;
      const [source, target] = v.split(":");
      return { type: source.startsWith("/") || source.startsWith(".") ? "bind" : "volume", source, target };
    });
  }
  for (const [name, s] of Object.entries(services)) {
    if (!s.healthcheck?.test) fail(`${file}: service ${name} has no healthcheck`);
    if (!s.restart) fail(`${file}: service ${name} has no restart policy`);
    for (const v of s.volumes ?? []) {
      if (v.type === "volume" && !(v.source in (config.volumes ?? {}))) fail(`${file}: service ${name} uses undeclared volume ${v.source}`);
      if (v.type === "bind" && !fs.existsSync(v.source)) fail(`${file}: service ${name} mounts missing file ${v.source}`);
    }
  }
  const app = shape === "embedded" ? ["langfuse"] : ["web", "worker"];
  for (const name of app) {
    const s = services[name];
    if (!s) continue;
    const role = name === "langfuse" ? "server" : name;
    if (JSON.stringify(command(s)) !== JSON.stringify([role])) fail(`${file}: ${name} must run \`langfuse ${role}\``);
    if (!/langfuse-cpp/.test(s.image ?? "")) fail(`${file}: ${name} must use the langfuse-cpp image`);
    if (s.environment?.HOSTNAME !== "0.0.0.0") fail(`${file}: ${name} must set HOSTNAME=0.0.0.0 (Docker sets it to the container id)`);
    if (shape === "scale") {
      for (const dep of ["postgres", "redis", "clickhouse"]) {
        if (s.depends_on?.[dep]?.condition !== "service_healthy") fail(`${file}: ${name} must wait for ${dep} to be healthy`);
      }
      const env = s.environment ?? {};
      for (const v of ["DATABASE_URL", "CLICKHOUSE_URL", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "REDIS_HOST", "REDIS_AUTH", "SALT"]) {
        if (!env[v]) fail(`${file}: ${name} has no ${v}`);
      }
      if (!/@postgres:5432\//.test(env.DATABASE_URL ?? "")) fail(`${file}: ${name}'s DATABASE_URL must point at the postgres service`);
      if (env.CLICKHOUSE_URL !== "http://clickhouse:8123") fail(`${file}: ${name}'s CLICKHOUSE_URL must point at the clickhouse service`);
      if (s.ports?.length) fail(`${file}: ${name} publishes ports, so it cannot be scaled (the proxy publishes them)`);
    }
    // docker-compose v1 prints the env file's variables into `environment`; `docker compose`
    // keeps env_file.
    const fromEnvFile = (s.env_file ?? []).length || (s.environment?.DATABASE_URL && s.environment?.CLICKHOUSE_URL);
    if (shape === "external" && !fromEnvFile) fail(`${file}: ${name} must read the datastores from an env file`);
    if (shape === "external" && name === "worker" && s.ports?.length) fail(`${file}: worker publishes ports, so it cannot be scaled`);
    if (shape === "embedded" && !(s.volumes ?? []).some((v) => v.type === "volume" && v.target === "/var/lib/langfuse")) {
      fail(`${file}: the data directory /var/lib/langfuse must be a named volume`);
    }
  }
  if (shape === "scale") {
    const redis = command(services.redis).join(" ");
    for (const arg of ["--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"]) {
      if (!redis.includes(arg)) fail(`${file}: redis must run with ${arg}`);
    }
    if (!/^postgres:15(\.|$)/.test(services.postgres?.image ?? "")) fail(`${file}: postgres must be PostgreSQL 15`);
    if (!/^redis:7(\.|$)/.test(services.redis?.image ?? "")) fail(`${file}: redis must be Redis 7`);
    if (!/^clickhouse\/clickhouse-server:2[45]\.\d+/.test(services.clickhouse?.image ?? "")) fail(`${file}: clickhouse must be a pinned 24.x or 25.x clickhouse/clickhouse-server`);
    const targets = (services.clickhouse?.volumes ?? []).map((v) => v.target);
    for (const t of ["/etc/clickhouse-server/config.d/langfuse.xml", "/etc/clickhouse-server/users.d/langfuse.xml", "/var/lib/clickhouse"]) {
      if (!targets.includes(t)) fail(`${file}: clickhouse must mount ${t}`);
    }
    if (!services.clickhouse?.mem_limit) fail(`${file}: clickhouse needs a memory limit (the server sizes itself to it)`);
    for (const name of ["postgres", "redis", "clickhouse"]) {
      if (!(services[name]?.volumes ?? []).some((v) => v.type === "volume")) fail(`${file}: ${name} must keep its data in a named volume`);
    }
    if (services.proxy?.depends_on?.web?.condition !== "service_healthy") fail(`${file}: the proxy must wait for a healthy web`);
  }
}

// ---------------------------------------------------------------------------------------------

function checkEnvExample(file, composeFiles) {
  const text = fs.readFileSync(file, "utf8");
  const documented = new Set();
  for (const line of text.split("\n")) {
    const m = /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line);
    if (m) documented.add(m[1]);
    for (const n of line.matchAll(/\b([A-Z][A-Z0-9_]{2,})=/g)) documented.add(n[1]);
  }
  for (const compose of composeFiles) {
    for (const m of fs.readFileSync(compose, "utf8").matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)) {
      if (!documented.has(m[1])) fail(`${file}: ${m[1]} (used by ${path.basename(compose)}) is not documented`);
    }
  }
  // Every setting the server reads: Langfuse-style names quoted in the sources (tests aside).
  const read = new Map();
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(cpp|h)$/.test(entry.name) && !/_(test|chdbtest|pgtest|fuzz)\.cpp$|test_|_test_/.test(entry.name)) {
        for (const m of fs.readFileSync(p, "utf8").matchAll(/"((?:LANGFUSE|CLICKHOUSE|REDIS)_[A-Z0-9_]+|DATABASE_URL|SALT|ENCRYPTION_KEY|NEXTAUTH_SECRET|PORT|HOSTNAME)"/g)) {
          if (!m[1].startsWith("LANGFUSE_TEST_")) read.set(m[1], path.relative(repo, p));
        }
      }
    }
  };
  walk(path.join(repo, "src"));
  for (const [name, where] of read) if (!documented.has(name)) fail(`${file}: ${name} (read by ${where}) is not documented`);
}

const [mode, file, ...rest] = process.argv.slice(2);
if (mode === "helm") await checkHelm(file, rest[0]);
else if (mode === "compose") checkCompose(file, rest[0]);
else if (mode === "env-example") checkEnvExample(file, rest);
else {
  console.error("usage: check-manifests.mjs helm FILE bundled|external | compose FILE scale|external|embedded | env-example FILE COMPOSE...");
  process.exit(2);
}
for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
