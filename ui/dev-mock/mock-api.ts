// MOCK of the /api/ui JSON routes for `npm run dev:mock` (development only; never part of dist/).
// In-memory, one process, no persistence; data is synthetic: 300 traces, one of which
// ("trace-big") has 10,000 observations to exercise the virtualised tree.
import type { Plugin } from 'vite';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Json = Record<string, unknown>;
const now = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();

const user = { id: 'u1', name: 'Mock User', email: 'mock@example.com' };
let signedIn = false;
const orgs = [{ id: 'org1', name: 'Mock Org', role: 'OWNER', projects: [{ id: 'proj1', name: 'Mock Project' }] }];
const keys: Json[] = [];
const members: Json[] = [{ userId: 'u1', name: user.name, email: user.email, role: 'OWNER' }];

const traces = Array.from({ length: 300 }, (_, i) => ({
  id: i === 0 ? 'trace-big' : `trace-${i}`,
  timestamp: iso(now - i * 7 * 60_000),
  name: ['chat', 'rag-query', 'summarize'][i % 3],
  userId: `user-${i % 7}`,
  sessionId: `session-${i % 20}`,
  tags: i % 4 === 0 ? ['prod', 'beta'] : ['prod'],
  environment: 'default',
  release: null,
  version: null,
  level: i % 13 === 0 ? 'ERROR' : 'DEFAULT',
  latency: 0.2 + (i % 10) * 0.31,
  totalCost: 0.000123 * (i % 9),
  inputTokens: 100 + i,
  outputTokens: 50 + i,
  totalTokens: 150 + 2 * i,
  observationCount: i === 0 ? 10000 : 3,
  scores: i % 5 === 0 ? [{ name: 'quality', value: 0.8, stringValue: null, dataType: 'NUMERIC' }] : [],
  input: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: `Question ${i}?` }],
  output: { role: 'assistant', content: `Answer ${i}. ${'long text '.repeat(i === 1 ? 200 : 1)}` },
  metadata: { source: 'mock', n: i },
}));

function observationsOf(traceId: string) {
  const trace = traces.find((t) => t.id === traceId);
  if (!trace) return [];
  const start = Date.parse(trace.timestamp);
  const count = trace.id === 'trace-big' ? 10000 : 3;
  const out = [];
  for (let i = 0; i < count; i++) {
    const parent = i === 0 ? null : `${traceId}-o${Math.floor((i - 1) / 4)}`;
    const s = start + i * 3;
    out.push({
      id: `${traceId}-o${i}`, traceId, parentObservationId: parent,
      type: i % 3 === 2 ? 'GENERATION' : i % 3 === 1 ? 'SPAN' : 'EVENT', name: `step-${i % 17}`,
      startTime: iso(s), endTime: iso(s + 5 + (i % 50)), completionStartTime: null,
      level: i % 97 === 0 ? 'WARNING' : 'DEFAULT', statusMessage: null,
      model: i % 3 === 2 ? 'gpt-4o' : null,
      usageDetails: i % 3 === 2 ? { input: 10, output: 20, total: 30 } : {},
      costDetails: i % 3 === 2 ? { total: 0.00042 } : {}, totalCost: i % 3 === 2 ? 0.00042 : null,
      latency: (5 + (i % 50)) / 1000,
    });
  }
  return out;
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}
const error = (res: ServerResponse, status: number, message: string) => send(res, status, { message, error: message });

async function readBody(req: IncomingMessage): Promise<Json> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? (JSON.parse(text) as Json) : {};
}

function paged<T>(rows: T[], q: URLSearchParams) {
  const page = Number(q.get('page') ?? 1);
  const limit = Number(q.get('limit') ?? 50);
  return { data: rows.slice((page - 1) * limit, page * limit), meta: { page, limit, totalItems: rows.length, totalPages: Math.ceil(rows.length / limit) } };
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://mock');
  const p = url.pathname;
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  if (p === '/api/ui/auth/config') return send(res, 200, { signUpDisabled: false });
  if (p === '/api/ui/auth/signin' || p === '/api/ui/auth/signup') {
    const body = await readBody(req);
    if (String(body.password ?? '').length < 8) return error(res, 401, 'Invalid email or password');
    signedIn = true;
    return send(res, p.endsWith('signup') ? 201 : 200, { user });
  }
  if (!signedIn) return error(res, 401, 'Unauthorized');
  if (method !== 'GET' && req.headers['x-csrf-token'] !== 'mock-csrf') return error(res, 403, 'Invalid CSRF token');
  if (p === '/api/ui/auth/signout') { signedIn = false; return send(res, 200, {}); }
  if (p === '/api/ui/auth/session') return send(res, 200, { user, csrfToken: 'mock-csrf', organizations: orgs });
  if (p === '/api/ui/organizations' && method === 'POST') {
    const body = await readBody(req);
    const org = { id: `org${orgs.length + 1}`, name: String(body.name), role: 'OWNER', projects: [] as { id: string; name: string }[] };
    orgs.push(org);
    return send(res, 201, org);
  }
  let m = p.match(/^\/api\/ui\/organizations\/([^/]+)\/projects$/);
  if (m && method === 'POST') {
    const body = await readBody(req);
    const project = { id: `proj${Math.random().toString(36).slice(2, 8)}`, name: String(body.name) };
    orgs.find((o) => o.id === m![1])?.projects.push(project);
    return send(res, 201, { ...project, orgId: m[1] });
  }
  m = p.match(/^\/api\/ui\/organizations\/([^/]+)\/members(?:\/([^/]+))?$/);
  if (m) {
    if (method === 'GET') return send(res, 200, { data: members });
    if (method === 'POST') {
      const body = await readBody(req);
      const member = { userId: `u${members.length + 1}`, name: String(body.email).split('@')[0], email: body.email, role: body.role };
      members.push(member);
      return send(res, 201, member);
    }
    const member = members.find((x) => x.userId === m![2]);
    if (!member) return error(res, 404, 'Member not found');
    if (method === 'PUT') { member.role = (await readBody(req)).role; return send(res, 200, member); }
    members.splice(members.indexOf(member), 1);
    return send(res, 200, {});
  }
  m = p.match(/^\/api\/ui\/projects\/([^/]+)(\/.*)?$/);
  if (!m) return error(res, 404, 'Not found');
  const rest = m[2] ?? '';
  if (rest === '') return send(res, 200, { id: m[1], name: 'Mock Project', orgId: 'org1', role: 'OWNER' });
  if (rest === '/api-keys') {
    if (method === 'GET') return send(res, 200, { data: keys });
    const body = await readBody(req);
    const id = Math.random().toString(36).slice(2, 10);
    const key = { id, publicKey: `pk-lf-${id}`, secretKey: `sk-lf-${id}secret`, displaySecretKey: `sk-lf-...${id.slice(-4)}`, note: body.note ?? null, createdAt: iso(Date.now()), lastUsedAt: null };
    const { secretKey: _secret, ...listed } = key;
    keys.push(listed);
    return send(res, 201, key);
  }
  m = rest.match(/^\/api-keys\/(.+)$/);
  if (m && method === 'DELETE') { keys.splice(keys.findIndex((k) => k.id === m![1]), 1); return send(res, 200, {}); }
  if (rest === '/traces') {
    let rows = traces.filter((t) => !q.get('fromTimestamp') || t.timestamp >= q.get('fromTimestamp')!);
    const search = (q.get('search') ?? '').toLowerCase();
    if (search) rows = rows.filter((t) => t.id.includes(search) || t.name.includes(search));
    for (const f of JSON.parse(q.get('filter') ?? '[]') as Json[]) {
      const col = f.column as keyof (typeof traces)[0];
      if (f.column === 'tags') rows = rows.filter((t) => (f.value as string[]).every((v) => t.tags.includes(v)));
      else if (f.column === 'metadata') rows = rows.filter((t) => String((t.metadata as Json)[f.key as string]) === f.value);
      else if (Array.isArray(f.value)) rows = rows.filter((t) => (f.value as unknown[]).includes(t[col]));
      else rows = rows.filter((t) => t[col] === f.value);
    }
    const [by, dir] = (q.get('orderBy') ?? 'timestamp.desc').split('.');
    rows = [...rows].sort((a, b) => {
      const x = a[by as keyof typeof a] as string | number;
      const y = b[by as keyof typeof b] as string | number;
      return (x < y ? -1 : x > y ? 1 : 0) * (dir === 'asc' ? 1 : -1);
    });
    return send(res, 200, paged(rows.map(({ input: _i, output: _o, metadata: _m, ...r }) => r), q));
  }
  if (rest === '/traces/filter-options') {
    return send(res, 200, { names: ['chat', 'rag-query', 'summarize'], tags: ['beta', 'prod'], environments: ['default'], users: ['user-0', 'user-1'] });
  }
  m = rest.match(/^\/traces\/([^/]+)$/);
  if (m) {
    const trace = traces.find((t) => t.id === decodeURIComponent(m![1]));
    if (!trace) return error(res, 404, 'Trace not found');
    return send(res, 200, { trace, observations: observationsOf(trace.id), scores: [{ id: 's1', name: 'quality', value: 0.8, stringValue: null, dataType: 'NUMERIC', source: 'API', comment: 'ok', observationId: null }] });
  }
  m = rest.match(/^\/traces\/([^/]+)\/observations\/([^/]+)$/);
  if (m) {
    const obs = observationsOf(decodeURIComponent(m[1])).find((o) => o.id === decodeURIComponent(m![2]));
    if (!obs) return error(res, 404, 'Observation not found');
    return send(res, 200, { ...obs, input: { messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi from parts' }] }] }, output: { result: [1, 2, 3], text: 'x'.repeat(2000) }, metadata: { a: 1 }, modelParameters: { temperature: 0.2 }, promptName: null });
  }
  // The session and user lists: search on the key, orderBy as the server takes it.
  const listed = <T extends Record<string, unknown>>(rows: T[], key: string, defaultOrder: string) => {
    const search = (q.get('search') ?? '').toLowerCase();
    const [by, dir] = (q.get('orderBy') || defaultOrder).split('.');
    return rows
      .filter((r) => String(r[key]).toLowerCase().includes(search))
      .sort((a, b) => {
        const x = a[by] as string | number;
        const y = b[by] as string | number;
        const c = x < y ? -1 : x > y ? 1 : 0;
        if (c !== 0) return dir === 'asc' ? c : -c;
        return String(a[key]) < String(b[key]) ? -1 : 1;
      });
  };
  if (rest === '/sessions') {
    const ids = [...new Set(traces.map((t) => t.sessionId))];
    const rows = ids.map((id) => { const ts = traces.filter((t) => t.sessionId === id); return { id, createdAt: ts[ts.length - 1].timestamp, lastTraceAt: ts[0].timestamp, traceCount: ts.length, userIds: [...new Set(ts.map((t) => t.userId))], totalCost: 0.01 * ts.length, totalTokens: 1234 * ts.length }; });
    return send(res, 200, paged(listed(rows, 'id', 'createdAt.desc'), q));
  }
  m = rest.match(/^\/sessions\/([^/]+)$/);
  if (m) {
    const ts = traces.filter((t) => t.sessionId === decodeURIComponent(m![1])).reverse();
    return send(res, 200, { id: m[1], traces: ts.map((t) => ({ id: t.id, timestamp: t.timestamp, name: t.name, userId: t.userId, input: t.input, output: t.output, latency: t.latency, totalCost: t.totalCost })) });
  }
  if (rest === '/users') {
    const rows = Array.from({ length: 7 }, (_, i) => ({ userId: `user-${i}`, traceCount: 43 + i, observationCount: 129 - i, totalTokens: 12345 * (i % 3), totalCost: 0.0123 * (7 - i), firstTrace: iso(now - 86_400_000 + i * 60_000), lastTrace: iso(now - i * 60_000) }));
    return send(res, 200, paged(listed(rows, 'userId', 'lastTrace.desc'), q));
  }
  if (rest === '/scores') {
    return send(res, 200, paged(traces.filter((t) => t.scores.length).map((t) => ({ id: `score-${t.id}`, timestamp: t.timestamp, name: 'quality', value: 0.8, stringValue: null, dataType: 'NUMERIC', source: 'API', comment: null, traceId: t.id, traceName: t.name, observationId: null })).filter((s) => !q.get('name') || s.name === q.get('name')), q));
  }
  if (rest === '/dashboard') {
    const hours = Array.from({ length: 24 }, (_, i) => iso(Math.floor(now / 3_600_000) * 3_600_000 - (23 - i) * 3_600_000));
    return send(res, 200, {
      tracesOverTime: hours.map((time, i) => ({ time, count: 5 + (i % 7) })),
      observationsOverTime: hours.map((time, i) => ({ time, count: 15 + (i % 9) * 3 })),
      costByModel: hours.flatMap((time, i) => [{ time, model: 'gpt-4o', cost: 0.001 * (i % 5) }, { time, model: 'claude', cost: 0.0005 * (i % 3) }]),
      latencyByName: [{ name: 'step-1', p50: 0.12, p90: 0.5, p99: 1.7, count: 120 }],
      scores: [{ name: 'quality', dataType: 'NUMERIC', avg: 0.8, count: 60 }],
      totals: { traces: 300, observations: 10598, totalCost: 0.012345 },
    });
  }
  return error(res, 404, 'Not found');
}

export function mockApiPlugin(): Plugin {
  return {
    name: 'langfuse-ui-mock-api',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (!req.url?.startsWith('/api/')) return next();
        handle(req, res).catch((e: Error) => error(res, 500, e.message));
      });
    },
    configurePreviewServer(server) {
      server.middlewares.use((req, res, next) => {
        if (!req.url?.startsWith('/api/')) return next();
        handle(req, res).catch((e: Error) => error(res, 500, e.message));
      });
    },
  };
}
