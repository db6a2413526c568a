// Keyboard operation and accessible names on the sign-in form and the traces table, in headless
// Chromium against the real binary. Every focus stop is read through the browser's accessibility
// tree (DevTools protocol), every control in the ARIA tree must have a name.
// Screenshots go to $LANGFUSE_TEST_ARTIFACTS/keyboard/.

import { after, before, describe, it as baseIt } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { api, basicAuth, cleanupTmp, ev, ingestOk, pollUntil, show, withServerLogs } from '../e2e/harness.mjs';
import {
  assertNoPageErrors, focusedNode, launchBrowser, newPage, pageFetch, screenshot, signUpByApi,
  skipWithoutChromium, startUiServer, unnamedControls, waitForCount, waitForPath, withFailureScreenshots,
} from './browser.mjs';

const SUITE = 'keyboard';
const run = crypto.randomBytes(4).toString('hex');
const user = { name: 'Kim Keyboard', email: `kim-${run}@example.com`, password: `kim-pw-${run}` };
// Newest first in the table: trace 0 is the newest.
const traces = [0, 1, 2].map((i) => ({ id: `kbd-${run}-${i}`, name: `keyboard-trace-${i}`, minutesAgo: 5 + i * 10 }));

let srv;
let browser;
let projectId;
let current;  // the page of the running test, for a screenshot when it fails
const it = withFailureScreenshots(withServerLogs(baseIt, () => [srv]), SUITE, () => [current]);

/** Presses Tab until pred(focused) holds (at most `max` times); returns every stop passed. */
async function tabUntil(page, cdp, pred, max = 60) {
  const stops = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const node = await focusedNode(page, cdp);
    stops.push(node);
    if (pred(node)) return stops;
  }
  assert.fail(`not reached after ${max} Tab presses; stops: ${JSON.stringify(stops.map((s) => [s.role, s.name]))}`);
}

/** A stop with no accessible name, or focus lost to the document, fails with the whole list. */
function assertNamedStops(stops) {
  const bad = stops.filter((s) => !s.name || s.tag === 'body');
  assert.deepEqual(bad, [], `focus stops without an accessible name: ${JSON.stringify(stops.map((s) => [s.role, s.name, s.tag]))}`);
}

describe('keyboard and accessible names in Chromium', { skip: skipWithoutChromium }, () => {
  before(async () => {
    srv = await startUiServer({ name: 'ui-keyboard' });
    browser = await launchBrowser();

    // A user with an organisation, a project, a key and three traces, all through the JSON API.
    const page = await newPage(browser);
    await signUpByApi(page, srv.baseUrl, user);
    const org = await pageFetch(page, 'POST', '/api/ui/organizations', { body: { name: `Org ${run}` }, csrf: true });
    assert.equal(org.status, 201, org.text);
    const project = await pageFetch(page, 'POST', `/api/ui/organizations/${org.json.id}/projects`, { body: { name: `Project ${run}` }, csrf: true });
    assert.equal(project.status, 201, project.text);
    projectId = project.json.id;
    const key = await pageFetch(page, 'POST', `/api/ui/projects/${projectId}/api-keys`, { body: {}, csrf: true });
    assert.equal(key.status, 201, key.text);
    const auth = basicAuth(key.json.publicKey, key.json.secretKey);
    await page.context().close();

    const now = Date.now();
    await ingestOk(srv, traces.map((t) => ev('trace-create', {
      id: t.id, name: t.name, userId: `kbd-user-${run}`, timestamp: new Date(now - t.minutesAgo * 60_000).toISOString(),
      input: { question: `question ${t.name}` },
    })), { auth });
    const listed = await pollUntil(
      () => api(srv, 'GET', '/api/public/traces?limit=10', { auth }),
      (r) => r.status === 200 && r.json.data.length === traces.length,
      { timeoutMs: 30_000 },
    );
    assert.equal(listed.json?.data?.length, traces.length, show(listed));
  });

  after(async () => {
    await browser?.close();
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
  });

  it('sign-in form: every control is named, and the form works with Tab and Enter alone', async () => {
    const page = current = await newPage(browser);
    const cdp = await page.context().newCDPSession(page);
    await page.goto(`${srv.baseUrl}/auth/sign-in`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await screenshot(page, SUITE, '01-sign-in');

    assert.deepEqual(await unnamedControls(page.locator('body')), [], 'unnamed controls on the sign-in page');
    assert.equal(await page.getByRole('textbox', { name: 'Email' }).count(), 1);
    assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
    assert.equal(await page.getByRole('link', { name: 'Sign up' }).count(), 1);

    // Tab order: Email, then Password, then the Sign in button, every stop named.
    const stops = await tabUntil(page, cdp, (n) => n.role === 'button' && n.name === 'Sign in', 20);
    assertNamedStops(stops);
    const order = stops.map((s) => s.name);
    const email = order.indexOf('Email');
    const password = order.indexOf('Password');
    assert.ok(email >= 0 && password === email + 1 && order.length - 1 === password + 1,
      `Tab order Email -> Password -> Sign in: ${JSON.stringify(order)}`);

    // A wrong password, by keyboard: the error is announced (role alert), the form stays.
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await tabUntil(page, cdp, (n) => n.name === 'Email', 20);
    await page.keyboard.type(user.email);
    await page.keyboard.press('Tab');
    assert.equal((await focusedNode(page, cdp)).name, 'Password');
    await page.keyboard.type('not-the-password');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: /invalid email or password/i }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/auth\/sign-in/);
    await screenshot(page, SUITE, '02-sign-in-error');

    // The right one: Shift+Tab from the button back to Password, replace it, Enter signs in.
    await page.getByRole('button', { name: 'Sign in' }).focus();
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focusedNode(page, cdp)).name, 'Password');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(user.password);
    await page.keyboard.press('Enter');
    await waitForPath(page, new RegExp(`^/project/${projectId}`));
    assertNoPageErrors(page);
    await page.context().close();
  });

  it('traces table: every control is named, rows take focus in order and Enter opens the trace', async () => {
    const page = current = await newPage(browser);
    const cdp = await page.context().newCDPSession(page);
    await page.goto(`${srv.baseUrl}/auth/sign-in?next=${encodeURIComponent(`/project/${projectId}/traces`)}`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByLabel('Password').press('Enter');
    await waitForPath(page, new RegExp(`^/project/${projectId}/traces`));
    const table = page.getByRole('table', { name: 'Traces' });
    const rows = table.locator('tbody tr[tabindex]');
    await waitForCount(rows, traces.length, { what: 'rows of the traces table' });

    // The documented controls exist with their names (a text field with suggestions is a combobox).
    const filters = page.getByRole('group', { name: 'Filters' });
    for (const label of ['Name', 'User', 'Session', 'Tags', 'Environment', 'Level', 'Metadata key', 'Metadata value']) {
      const named = filters.getByRole('textbox', { name: label, exact: true })
        .or(filters.getByRole('combobox', { name: label, exact: true }));
      assert.equal(await named.count(), 1, `filter control "${label}"`);
    }
    assert.equal(await page.getByRole('searchbox', { name: 'Search traces' }).count(), 1);
    for (const name of ['Columns', 'Previous page', 'Next page']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 1, `button "${name}"`);
    }

    // Everything in the page's main area, rows included and with the column picker open, is named.
    const main = page.getByRole('main');
    assert.deepEqual(await unnamedControls(main, { rows: true }), [], 'unnamed controls on the traces page');
    await page.getByRole('button', { name: 'Columns' }).click();
    assert.equal(await page.getByRole('button', { name: 'Columns' }).getAttribute('aria-expanded'), 'true');
    assert.deepEqual(await unnamedControls(main, { rows: true }), [], 'unnamed controls with the column picker open');
    await screenshot(page, SUITE, '03-traces-columns');
    await page.getByRole('button', { name: 'Columns' }).click();
    assert.deepEqual(await unnamedControls(page.locator('body')), [], 'unnamed controls anywhere on the traces page');

    // From the search box, Tab reaches the rows; each stop is named; rows come newest first.
    await page.getByRole('searchbox', { name: 'Search traces' }).focus();
    const stops = await tabUntil(page, cdp, (n) => n.traceId !== null, 60);
    assertNamedStops(stops);
    const first = stops.at(-1);
    assert.equal(first.traceId, traces[0].id, `first focused row: ${JSON.stringify(first)}`);
    assert.match(first.name, new RegExp(traces[0].id));
    await page.keyboard.press('Tab');
    const second = await focusedNode(page, cdp);
    assert.equal(second.traceId, traces[1].id, `second focused row: ${JSON.stringify(second)}`);
    await screenshot(page, SUITE, '04-traces-row-focused');

    // Enter opens the focused row's trace; Back returns to the table.
    await page.keyboard.press('Enter');
    await waitForPath(page, new RegExp(`^/project/${projectId}/traces/${traces[1].id}$`));
    const tree = page.getByRole('tree', { name: 'Observations' });
    await tree.waitFor();
    await screenshot(page, SUITE, '05-trace-opened-by-keyboard');
    await page.goBack();
    await waitForCount(rows, traces.length, { what: 'rows after going back' });

    // Space opens a row too.
    await rows.nth(2).focus();
    await page.keyboard.press('Space');
    await waitForPath(page, new RegExp(`^/project/${projectId}/traces/${traces[2].id}$`));
    assertNoPageErrors(page);
    await page.context().close();
  });
});
