// The web UI's account routes and static files (docs/ui-api.md): sign-up / sign-in with the
// session cookie, CSRF, organisations, projects, API keys that work at once against the public API
// and stop working when revoked, member roles (VIEWER limits, foreign projects 404, the last
// OWNER), AUTH_DISABLE_SIGNUP, and the app's files under LANGFUSE_UI_DIR (cache headers, SPA
// fallback, gzip, no way out of the directory).

import { describe, it as baseIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, cleanupTmp, api, rawHttp, basicAuth, ev, ingest, pollTrace, show, uid, withServerLogs, ISO_MS_RE, waitFor,
} from './harness.mjs';
import { scaleTopologyRequested } from './scale_topology.mjs';

// Scale topology: two web processes behind a round-robin proxy. A key revoked through one reaches
// the other's cache through Redis within about a second (its cache TTL stays at the default).
const SCALE = scaleTopologyRequested();

let srv;
let uiDir;
const it = withServerLogs(baseIt, () => [srv]);

const INDEX = '<!doctype html><html><body><div id="app"></div></body></html>';
const ASSET = 'console.log("app");';

/** A browser-like session: keeps the cookie and the CSRF token. */
function client(server) {
  const c = {
    cookie: null,
    csrf: null,
    async call(method, urlPath, { body, csrf = true, headers = {} } = {}) {
      const h = { ...headers };
      if (c.cookie) h.Cookie = c.cookie;
      if (csrf && c.csrf && !['GET', 'HEAD'].includes(method)) h['X-CSRF-Token'] = c.csrf;
      const res = await api(server, method, urlPath, { body, auth: null, headers: h });
      const setCookie = res.headers.getSetCookie();
      for (const sc of setCookie) {
        const [pair] = sc.split(';');
        const [name, value] = pair.split('=');
        if (name === 'langfuse.session') c.cookie = value ? `langfuse.session=${value}` : null;
      }
      res.setCookie = setCookie;
      return res;
    },
    async refresh() {
      const res = await c.call('GET', '/api/ui/auth/session');
      assert.equal(res.status, 200, show(res));
      c.csrf = res.json.csrfToken;
      return res.json;
    },
  };
  return c;
}

async function signUp(server, name) {
  const c = client(server);
  const email = `${name}-${uid().slice(0, 8)}@Example.com`;
  const res = await c.call('POST', '/api/ui/auth/signup', { body: { name, email, password: 'correct horse' } });
  assert.equal(res.status, 201, show(res));
  await c.refresh();
  c.email = email.toLowerCase();
  c.userId = res.json.user.id;
  return c;
}

before(async () => {
  const tmp = fs.mkdtempSync(path.join(process.env.LANGFUSE_TEST_TMP || '/tmp', 'lf-e2e-uidir-'));
  uiDir = path.join(tmp, 'dist');
  fs.mkdirSync(path.join(uiDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(uiDir, 'index.html'), INDEX);
  fs.writeFileSync(path.join(uiDir, 'assets', 'x.js'), ASSET);
  fs.writeFileSync(path.join(uiDir, 'assets', 'x.js.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'TOP SECRET');
  fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(uiDir, 'leak.txt'));
  srv = await startServer({
    name: 'ui-account',
    env: { LANGFUSE_UI_DIR: uiDir },
  });
});

after(async () => {
  if (srv) await srv.stop();
  cleanupTmp(srv, it.failed);
  if (uiDir && !it.failed) fs.rmSync(path.dirname(uiDir), { recursive: true, force: true });
});

describe('web UI accounts', () => {
  it('sign-up sets an HttpOnly session cookie; the session answers with a CSRF token', async () => {
    const config = await api(srv, 'GET', '/api/ui/auth/config', { auth: null });
    assert.equal(config.status, 200, show(config));
    assert.deepEqual(config.json, { signUpDisabled: false });

    const c = client(srv);
    const email = `Alice-${uid().slice(0, 8)}@Example.com`;
    const res = await c.call('POST', '/api/ui/auth/signup', { body: { name: 'Alice', email, password: 'password1' } });
    assert.equal(res.status, 201, show(res));
    assert.equal(res.json.user.email, email.toLowerCase());
    assert.equal(res.json.user.name, 'Alice');
    assert.equal(typeof res.json.user.id, 'string');
    assert.equal(res.json.user.password, undefined);
    assert.equal(res.setCookie.length, 1);
    const cookie = res.setCookie[0];
    for (const attr of ['HttpOnly', 'SameSite=Lax', 'Path=/', 'Max-Age=2592000']) assert.ok(cookie.includes(attr), cookie);
    assert.ok(!cookie.includes('Secure'), cookie);

    const s = await c.refresh();
    assert.deepEqual(s.user, res.json.user);
    assert.deepEqual(s.organizations, []);
    assert.ok(s.csrfToken.length >= 32);

    // Same address in another case: 409, and the first account keeps its password.
    const dup = await api(srv, 'POST', '/api/ui/auth/signup', {
      auth: null, body: { name: 'Mallory', email: email.toUpperCase(), password: 'password2' },
    });
    assert.equal(dup.status, 409, show(dup));
    const signin = await api(srv, 'POST', '/api/ui/auth/signin', { auth: null, body: { email, password: 'password1' } });
    assert.equal(signin.status, 200, show(signin));
    assert.equal(signin.json.user.name, 'Alice');

    // Over TLS (behind a proxy) the cookie is Secure.
    const tls = await api(srv, 'POST', '/api/ui/auth/signup', {
      auth: null, headers: { 'X-Forwarded-Proto': 'https' },
      body: { name: 'T', email: `tls-${uid().slice(0, 8)}@example.com`, password: 'password1' },
    });
    assert.equal(tls.status, 201, show(tls));
    assert.ok(tls.headers.getSetCookie()[0].includes('; Secure'), tls.headers.getSetCookie()[0]);
  });

  it('bad sign-up input is a 400 naming the field and creates nothing', async () => {
    const email = `bad-${uid().slice(0, 8)}@example.com`;
    const cases = [
      [{ name: 'B', email, password: 'short' }, /password/],
      [{ email, password: 'long enough' }, /name/],
      [{ name: 'B', email: 'not-an-email', password: 'long enough' }, /email/],
      [{ name: 'B', email, password: 12345678 }, /password/],
      [{ name: '   ', email, password: 'long enough' }, /name/],
      [[1, 2], /JSON object/],
      ['{"name": "B", ', /JSON object/],
    ];
    for (const [body, re] of cases) {
      const res = await api(srv, 'POST', '/api/ui/auth/signup', { auth: null, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${show(res)}`);
      assert.match(res.json.message, re);
    }
    // A cross-site form cannot send JSON: text/plain is refused.
    const form = await api(srv, 'POST', '/api/ui/auth/signup', {
      auth: null, headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ name: 'B', email, password: 'long enough' }),
    });
    assert.equal(form.status, 400, show(form));
    const signin = await api(srv, 'POST', '/api/ui/auth/signin', { auth: null, body: { email, password: 'long enough' } });
    assert.equal(signin.status, 401, show(signin));
  });

  it('sign-in: wrong password and unknown email get the same 401; sign-out clears the cookie', async () => {
    const alice = await signUp(srv, 'Alice');
    const wrong = await api(srv, 'POST', '/api/ui/auth/signin', { auth: null, body: { email: alice.email, password: 'wrong password' } });
    assert.equal(wrong.status, 401, show(wrong));
    const unknown = await api(srv, 'POST', '/api/ui/auth/signin', { auth: null, body: { email: `nobody-${uid()}@example.com`, password: 'wrong password' } });
    assert.equal(unknown.status, 401, show(unknown));
    assert.equal(wrong.json.message, 'Invalid email or password');
    assert.deepEqual(unknown.json, wrong.json);
    assert.deepEqual(wrong.headers.getSetCookie(), []);

    const c = client(srv);
    const ok = await c.call('POST', '/api/ui/auth/signin', { body: { email: alice.email.toUpperCase(), password: 'correct horse' } });
    assert.equal(ok.status, 200, show(ok));
    assert.equal(ok.json.user.id, alice.userId);
    await c.refresh();

    const noCookie = await api(srv, 'GET', '/api/ui/auth/session', { auth: null });
    assert.equal(noCookie.status, 401, show(noCookie));
    const forged = await api(srv, 'GET', '/api/ui/auth/session', { auth: null, headers: { Cookie: `langfuse.session=${Buffer.from(alice.userId).toString('base64url')}.9999999999.AAAA` } });
    assert.equal(forged.status, 401, show(forged));

    const noCsrf = await c.call('POST', '/api/ui/auth/signout', { csrf: false });
    assert.equal(noCsrf.status, 403, show(noCsrf));
    const out = await c.call('POST', '/api/ui/auth/signout');
    assert.equal(out.status, 200, show(out));
    assert.match(out.setCookie[0], /^langfuse\.session=;.*Max-Age=0/);
    assert.equal(c.cookie, null);
    const after = await c.call('GET', '/api/ui/auth/session');
    assert.equal(after.status, 401, show(after));
  });

  it('organisations, projects and API keys: a created key ingests at once, a revoked one is refused', async () => {
    const alice = await signUp(srv, 'Alice');
    const noCsrf = await alice.call('POST', '/api/ui/organizations', { body: { name: 'Acme' }, csrf: false });
    assert.equal(noCsrf.status, 403, show(noCsrf));
    const badCsrf = await alice.call('POST', '/api/ui/organizations', { body: { name: 'Acme' }, csrf: false, headers: { 'X-CSRF-Token': 'x' + alice.csrf } });
    assert.equal(badCsrf.status, 403, show(badCsrf));
    const noName = await alice.call('POST', '/api/ui/organizations', { body: { name: 7 } });
    assert.equal(noName.status, 400, show(noName));
    assert.deepEqual((await alice.refresh()).organizations, []);

    const org = await alice.call('POST', '/api/ui/organizations', { body: { name: 'Acme' } });
    assert.equal(org.status, 201, show(org));
    assert.equal(org.json.role, 'OWNER');
    assert.deepEqual(org.json.projects, []);
    const proj = await alice.call('POST', `/api/ui/organizations/${org.json.id}/projects`, { body: { name: 'Bots' } });
    assert.equal(proj.status, 201, show(proj));
    assert.deepEqual(proj.json, { id: proj.json.id, name: 'Bots', orgId: org.json.id });
    const session = await alice.refresh();
    assert.deepEqual(session.organizations, [{ id: org.json.id, name: 'Acme', role: 'OWNER', projects: [{ id: proj.json.id, name: 'Bots' }] }]);
    const got = await alice.call('GET', `/api/ui/projects/${proj.json.id}`);
    assert.deepEqual(got.json, { id: proj.json.id, name: 'Bots', orgId: org.json.id, role: 'OWNER' });

    const keyPath = `/api/ui/projects/${proj.json.id}/api-keys`;
    const key = await alice.call('POST', keyPath, { body: { note: 'ci' } });
    assert.equal(key.status, 201, show(key));
    assert.match(key.json.publicKey, /^pk-lf-/);
    assert.match(key.json.secretKey, /^sk-lf-/);
    assert.equal(key.json.displaySecretKey, `${key.json.secretKey.slice(0, 6)}...${key.json.secretKey.slice(-4)}`);
    assert.equal(key.json.note, 'ci');
    assert.match(key.json.createdAt, ISO_MS_RE);
    const noBodyKey = await alice.call('POST', keyPath);
    assert.equal(noBodyKey.status, 201, show(noBodyKey));
    assert.equal(noBodyKey.json.note, null);
    const badNote = await alice.call('POST', keyPath, { body: { note: ['x'] } });
    assert.equal(badNote.status, 400, show(badNote));

    const auth = basicAuth(key.json.publicKey, key.json.secretKey);
    const traceId = uid('ui-trace-');
    const ing = await ingest(srv, [ev('trace-create', { id: traceId, name: 'from-ui-key' })], { auth });
    assert.equal(ing.status, 207, show(ing));
    assert.deepEqual(ing.json.errors, []);
    const read = await pollTrace(srv, traceId, () => true, { auth });
    assert.equal(read.status, 200, show(read));
    assert.equal(read.json.projectId, proj.json.id);
    // The init project's key does not see it.
    const other = await api(srv, 'GET', `/api/public/traces/${traceId}`);
    assert.equal(other.status, 404, show(other));

    const list = await alice.call('GET', keyPath);
    assert.equal(list.status, 200, show(list));
    assert.deepEqual(list.json.data.map((k) => k.id).sort(), [key.json.id, noBodyKey.json.id].sort());
    const listed = list.json.data.find((k) => k.id === key.json.id);
    assert.equal(listed.secretKey, undefined);
    assert.equal(listed.displaySecretKey, key.json.displaySecretKey);
    assert.ok(!list.text.includes(key.json.secretKey));

    const revokeNoCsrf = await alice.call('DELETE', `${keyPath}/${key.json.id}`, { csrf: false });
    assert.equal(revokeNoCsrf.status, 403, show(revokeNoCsrf));
    const revoke = await alice.call('DELETE', `${keyPath}/${key.json.id}`);
    assert.equal(revoke.status, 200, show(revoke));
    assert.deepEqual(revoke.json, {});
    const again = await alice.call('DELETE', `${keyPath}/${key.json.id}`);
    assert.equal(again.status, 404, show(again));
    // At once on the process that revoked it (embedded: the only one); at scale, on every process
    // within a few seconds (the revocation is broadcast; the cache TTL is 300 s).
    if (SCALE) {
      await waitFor('the revocation on every web process', async () => {
        for (let i = 0; i < 4; i++) {
          if ((await api(srv, 'GET', `/api/public/traces/${traceId}`, { auth })).status !== 401) return false;
        }
        return true;
      }, 5000);
    }
    for (let i = 0; i < (SCALE ? 4 : 1); i++) {
      const refused = await ingest(srv, [ev('trace-create', { id: uid(), name: 'after-revoke' })], { auth });
      assert.equal(refused.status, 401, show(refused));
      const refusedRead = await api(srv, 'GET', `/api/public/traces/${traceId}`, { auth });
      assert.equal(refusedRead.status, 401, show(refusedRead));
    }
    assert.deepEqual((await alice.call('GET', keyPath)).json.data.map((k) => k.id), [noBodyKey.json.id]);
  });

  it('roles: a VIEWER reads but cannot create keys, another organisation is 404, the last OWNER stays', async () => {
    const alice = await signUp(srv, 'Alice');
    const bob = await signUp(srv, 'Bob');
    const org = (await alice.call('POST', '/api/ui/organizations', { body: { name: 'Alice Org' } })).json;
    const proj = (await alice.call('POST', `/api/ui/organizations/${org.id}/projects`, { body: { name: 'P' } })).json;
    const bobOrg = (await bob.call('POST', '/api/ui/organizations', { body: { name: 'Bob Org' } })).json;
    const bobProj = (await bob.call('POST', `/api/ui/organizations/${bobOrg.id}/projects`, { body: { name: 'BP' } })).json;

    // Not a member yet: everything of Alice's is 404 for Bob (never 403), and the other way round.
    assert.equal((await bob.call('GET', `/api/ui/projects/${proj.id}`)).status, 404);
    assert.equal((await bob.call('GET', `/api/ui/projects/${proj.id}/api-keys`)).status, 404);
    assert.equal((await bob.call('POST', `/api/ui/projects/${proj.id}/api-keys`, { body: {} })).status, 404);
    assert.equal((await bob.call('GET', `/api/ui/organizations/${org.id}/members`)).status, 404);
    assert.equal((await alice.call('GET', `/api/ui/projects/${bobProj.id}`)).status, 404);
    assert.equal((await alice.call('POST', `/api/ui/organizations/${bobOrg.id}/projects`, { body: { name: 'x' } })).status, 404);
    assert.equal((await alice.call('GET', '/api/ui/projects/no-such-project')).status, 404);

    const members = `/api/ui/organizations/${org.id}/members`;
    const unknown = await alice.call('POST', members, { body: { email: `ghost-${uid()}@example.com`, role: 'VIEWER' } });
    assert.equal(unknown.status, 404, show(unknown));
    const badRole = await alice.call('POST', members, { body: { email: bob.email, role: 'KING' } });
    assert.equal(badRole.status, 400, show(badRole));
    const added = await alice.call('POST', members, { body: { email: bob.email.toUpperCase(), role: 'VIEWER' } });
    assert.equal(added.status, 201, show(added));
    assert.deepEqual(added.json, { userId: bob.userId, name: 'Bob', email: bob.email, role: 'VIEWER' });
    assert.equal((await alice.call('POST', members, { body: { email: bob.email, role: 'VIEWER' } })).status, 409);

    // Bob as VIEWER: reads, cannot write.
    const asViewer = await bob.call('GET', `/api/ui/projects/${proj.id}`);
    assert.equal(asViewer.status, 200, show(asViewer));
    assert.equal(asViewer.json.role, 'VIEWER');
    assert.equal((await bob.call('GET', `/api/ui/projects/${proj.id}/api-keys`)).status, 200);
    const viewerKey = await bob.call('POST', `/api/ui/projects/${proj.id}/api-keys`, { body: {} });
    assert.equal(viewerKey.status, 403, show(viewerKey));
    assert.equal((await bob.call('POST', `/api/ui/organizations/${org.id}/projects`, { body: { name: 'x' } })).status, 403);
    assert.equal((await bob.call('PUT', `${members}/${bob.userId}`, { body: { role: 'ADMIN' } })).status, 403);
    const listed = await bob.call('GET', members);
    assert.equal(listed.status, 200, show(listed));
    assert.deepEqual(listed.json.data.map((m) => [m.userId, m.role]).sort(), [[alice.userId, 'OWNER'], [bob.userId, 'VIEWER']].sort());
    const bobSession = await bob.refresh();
    assert.deepEqual(bobSession.organizations.map((o) => [o.id, o.role]).sort(), [[org.id, 'VIEWER'], [bobOrg.id, 'OWNER']].sort());

    // The last OWNER can be neither demoted nor removed.
    const demote = await alice.call('PUT', `${members}/${alice.userId}`, { body: { role: 'ADMIN' } });
    assert.equal(demote.status, 400, show(demote));
    const remove = await alice.call('DELETE', `${members}/${alice.userId}`);
    assert.equal(remove.status, 400, show(remove));

    // An ADMIN manages keys and members but not the OWNER role.
    const promoted = await alice.call('PUT', `${members}/${bob.userId}`, { body: { role: 'ADMIN' } });
    assert.equal(promoted.status, 200, show(promoted));
    assert.equal(promoted.json.role, 'ADMIN');
    const adminKey = await bob.call('POST', `/api/ui/projects/${proj.id}/api-keys`, { body: {} });
    assert.equal(adminKey.status, 201, show(adminKey));
    assert.equal((await bob.call('PUT', `${members}/${bob.userId}`, { body: { role: 'OWNER' } })).status, 403);
    assert.equal((await bob.call('PUT', `${members}/${alice.userId}`, { body: { role: 'VIEWER' } })).status, 403);
    assert.equal((await bob.call('DELETE', `${members}/${alice.userId}`)).status, 403);
    assert.equal((await bob.call('PUT', `${members}/no-such-user`, { body: { role: 'VIEWER' } })).status, 404);

    // With a second OWNER the first may step down.
    assert.equal((await alice.call('PUT', `${members}/${bob.userId}`, { body: { role: 'OWNER' } })).status, 200);
    const stepDown = await alice.call('PUT', `${members}/${alice.userId}`, { body: { role: 'ADMIN' } });
    assert.equal(stepDown.status, 200, show(stepDown));
    const removeAlice = await bob.call('DELETE', `${members}/${alice.userId}`);
    assert.equal(removeAlice.status, 200, show(removeAlice));
    assert.equal((await alice.call('GET', `/api/ui/projects/${proj.id}`)).status, 404);
  });

  it('the session survives a restart (embedded: the secret is kept in the data directory, 0600)', async () => {
    const alice = await signUp(srv, 'Alice');
    if (!SCALE) {  // at scale the processes share NEXTAUTH_SECRET instead
      const secretFile = path.join(srv.dataDir, 'session.secret');
      assert.equal(fs.statSync(secretFile).mode & 0o777, 0o600);
    }
    await srv.restart();
    const s = await alice.call('GET', '/api/ui/auth/session');
    assert.equal(s.status, 200, show(s));
    assert.equal(s.json.user.id, alice.userId);
    assert.equal(s.json.csrfToken, alice.csrf);
  });
});

describe('web UI static files', () => {
  it('index.html is no-cache, hashed assets are immutable, client routes get index.html', async () => {
    const root = await api(srv, 'GET', '/', { auth: null });
    assert.equal(root.status, 200, show(root));
    assert.equal(root.text, INDEX);
    assert.match(root.headers.get('content-type'), /^text\/html/);
    assert.equal(root.headers.get('cache-control'), 'no-cache');

    const asset = await rawHttp(srv, { method: 'GET', path: '/assets/x.js' });
    assert.equal(asset.status, 200);
    assert.equal(asset.text, ASSET);
    assert.match(asset.headers['content-type'], /^text\/javascript/);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(asset.headers['content-encoding'], undefined);

    const gz = await rawHttp(srv, { method: 'GET', path: '/assets/x.js', headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(gz.headers.vary, /Accept-Encoding/);

    for (const route of ['/project/p1/traces/t1', '/auth/sign-in', '/setup?next=%2F']) {
      const res = await api(srv, 'GET', route, { auth: null });
      assert.equal(res.status, 200, `${route}: ${show(res)}`);
      assert.equal(res.text, INDEX);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
    }
    assert.equal((await api(srv, 'GET', '/assets/missing-123.js', { auth: null })).status, 404);
  });

  it('no path leaves the UI directory, and /api/ paths stay JSON 404s', async () => {
    for (const p of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets/%2E%2E/%2e%2e/secret.txt',
      '/assets%2f..%2f..%2fsecret.txt', '/..%5csecret.txt', '/leak.txt']) {
      const res = await rawHttp(srv, { method: 'GET', path: p });
      assert.ok(!res.text.includes('TOP SECRET'), `${p}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.ok(res.status === 404 || res.text === INDEX, `${p}: ${res.status}`);
    }
    for (const p of ['/api/ui/nothing', '/api/public/nothing', '/api']) {
      const res = await api(srv, 'GET', p, { auth: null });
      assert.equal(res.status, 404, `${p}: ${show(res)}`);
      assert.equal(res.json.error, 'LangfuseNotFoundError');
    }
    // Non-GET methods on app paths are not served.
    assert.equal((await api(srv, 'POST', '/project/x', { auth: null, body: {} })).status, 404);
  });
});

describe('AUTH_DISABLE_SIGNUP', () => {
  let closed;
  const it2 = withServerLogs(baseIt, () => [closed]);
  after(async () => {
    if (closed) await closed.stop();
    cleanupTmp(closed, it2.failed);
  });

  it('refuses sign-up with 403 and says so in the config; without a UI dir app paths are 404', async () => {
    closed = await startServer({ name: 'ui-nosignup', env: { AUTH_DISABLE_SIGNUP: 'true', LANGFUSE_UI_DIR: '' } });
    const config = await api(closed, 'GET', '/api/ui/auth/config', { auth: null });
    assert.deepEqual(config.json, { signUpDisabled: true });
    const res = await api(closed, 'POST', '/api/ui/auth/signup', {
      auth: null, body: { name: 'N', email: `n-${uid().slice(0, 8)}@example.com`, password: 'password1' },
    });
    assert.equal(res.status, 403, show(res));
    assert.equal((await api(closed, 'GET', '/project/x', { auth: null })).status, 404);
  });
});
