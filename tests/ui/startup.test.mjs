// Start-up of a project page in headless Chromium against the real binary: with the project in
// the URL, the page's own data request starts beside the session request instead of after it
// (the session answer is held back on purpose to make the order visible), and a signed-out
// visitor still ends on the sign-in page with the way back in `next`.
// Screenshots go to $LANGFUSE_TEST_ARTIFACTS/startup/.

import { after, before, describe, it as baseIt } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { basicAuth, cleanupTmp, ev, ingestOk, pollUntil, show, withServerLogs } from '../e2e/harness.mjs';
import {
  assertNoPageErrors, launchBrowser, newPage, pageFetch, screenshot, signUpByApi, skipWithoutChromium,
  startUiServer, waitForPath, withFailureScreenshots,
} from './browser.mjs';

const SUITE = 'startup';
const run = crypto.randomBytes(4).toString('hex');
const user = { name: 'Sam Startup', email: `sam-${run}@example.com`, password: `sam-pw-${run}` };
const trace = { id: `startup-${run}`, name: `startup-trace-${run}` };
const HOLD_MS = 1500;  // how long the session answer is held back

let srv;
let browser;
let projectId;
let signedIn;  // a context holding the user's session cookie
let current;
const it = withFailureScreenshots(withServerLogs(baseIt, () => [srv]), SUITE, () => [current]);

/** Holds every /api/ui/auth/session answer back by HOLD_MS; records when requests start and end. */
async function watch(page) {
  const events = [];
  const t0 = Date.now();
  const kind = (url) => {
    const p = new URL(url).pathname;
    if (p === '/api/ui/auth/session') return 'session';
    if (/^\/api\/ui\/projects\/[^/]+\/traces$/.test(p)) return 'traces';
    return null;
  };
  page.on('request', (r) => { if (kind(r.url())) events.push({ what: `${kind(r.url())}:start`, at: Date.now() - t0 }); });
  page.on('requestfinished', (r) => { if (kind(r.url())) events.push({ what: `${kind(r.url())}:end`, at: Date.now() - t0 }); });
  page.on('requestfailed', (r) => { if (kind(r.url())) events.push({ what: `${kind(r.url())}:failed`, at: Date.now() - t0 }); });
  await page.route('**/api/ui/auth/session', async (route) => {
    await sleep(HOLD_MS);
    await route.continue();
  });
  return events;
}

const first = (events, what) => events.find((e) => e.what === what)?.at;

describe('project pages start without waiting for the session', { skip: skipWithoutChromium }, () => {
  before(async () => {
    srv = await startUiServer({ name: 'ui-startup' });
    browser = await launchBrowser();
    const page = await newPage(browser);
    signedIn = page.context();
    await signUpByApi(page, srv.baseUrl, user);
    const org = await pageFetch(page, 'POST', '/api/ui/organizations', { body: { name: `Org ${run}` }, csrf: true });
    assert.equal(org.status, 201, org.text);
    const project = await pageFetch(page, 'POST', `/api/ui/organizations/${org.json.id}/projects`, { body: { name: `Project ${run}` }, csrf: true });
    assert.equal(project.status, 201, project.text);
    projectId = project.json.id;
    const key = await pageFetch(page, 'POST', `/api/ui/projects/${projectId}/api-keys`, { body: {}, csrf: true });
    assert.equal(key.status, 201, key.text);
    await ingestOk(srv, [ev('trace-create', { id: trace.id, name: trace.name, timestamp: new Date().toISOString() })],
      { auth: basicAuth(key.json.publicKey, key.json.secretKey) });
    const listed = await pollUntil(
      () => pageFetch(page, 'GET', `/api/ui/projects/${projectId}/traces`),
      (r) => r.status === 200 && r.json.data.length === 1,
      { timeoutMs: 30_000 },
    );
    assert.equal(listed.json?.data?.length, 1, show(listed));
    await page.close();
  });

  after(async () => {
    await browser?.close();
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
  });

  it('the traces request starts before the session answer arrives, and the page fills in after', async () => {
    const page = current = await signedIn.newPage();
    page.pageErrors = [];
    page.on('pageerror', (e) => page.pageErrors.push(e.message));
    const events = await watch(page);
    await page.goto(`${srv.baseUrl}/project/${projectId}/traces?range=all`);
    const table = page.getByRole('table', { name: 'Traces' });
    await table.locator(`tr[data-trace-id="${trace.id}"]`).waitFor();
    // The row is there while the session is still held back.
    assert.equal(first(events, 'session:end'), undefined, `the page waited for the session: ${JSON.stringify(events)}`);
    await screenshot(page, SUITE, '01-traces-before-session');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByText(user.name).waitFor();
    const sessionStart = first(events, 'session:start');
    const sessionEnd = first(events, 'session:end');
    const tracesStart = first(events, 'traces:start');
    assert.ok(sessionStart !== undefined && sessionEnd !== undefined && tracesStart !== undefined, JSON.stringify(events));
    assert.ok(tracesStart < sessionEnd, `traces requested only after the session answer: ${JSON.stringify(events)}`);
    assert.ok(tracesStart - sessionStart < HOLD_MS / 2, `traces requested late: ${JSON.stringify(events)}`);
    // Requested once: the page is not mounted again when the session arrives.
    assert.equal(events.filter((e) => e.what === 'traces:start').length, 1, JSON.stringify(events));
    await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Sessions' }).waitFor();
    assert.equal(await page.getByRole('combobox', { name: 'Project' }).inputValue(), projectId);
    await screenshot(page, SUITE, '02-traces-with-session');
    assertNoPageErrors(page);
    await page.close();
  });

  it('a signed-out visitor still lands on sign-in, with the page to come back to', async () => {
    const page = current = await newPage(browser);
    const events = await watch(page);
    const target = `/project/${projectId}/traces?name=${encodeURIComponent(trace.name)}`;
    await page.goto(srv.baseUrl + target);
    await waitForPath(page, /^\/auth\/sign-in\?next=/);
    assert.equal(new URL(page.url()).searchParams.get('next'), target);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByRole('table', { name: 'Traces' }).count(), 0);
    await screenshot(page, SUITE, '03-signed-out');
    // Signing in there brings the visitor back to the filtered page.
    await page.unroute('**/api/ui/auth/session');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForPath(page, new RegExp(`^/project/${projectId}/traces\\?name=`));
    await page.locator(`tr[data-trace-id="${trace.id}"]`).waitFor();
    assert.ok(events.some((e) => e.what === 'traces:start'), JSON.stringify(events));
    assertNoPageErrors(page);
    await page.context().close();
  });

  it('a project the user is not a member of reads as not found once the session is there', async () => {
    const page = current = await signedIn.newPage();
    await watch(page);
    await page.goto(`${srv.baseUrl}/project/not-${run}/traces`);
    await page.getByRole('heading', { name: 'Project not found' }).waitFor({ timeout: HOLD_MS + 10_000 });
    assert.equal(await page.getByRole('table', { name: 'Traces' }).count(), 0);
    await page.close();
  });
});
