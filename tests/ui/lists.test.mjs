// The sessions and users pages in headless Chromium against the real binary: sorting by a
// column header is done by the server (the order differs from the default and survives a
// reload), the header carries aria-sort, and the search and time range filter rows; all of it
// kept in the URL. Screenshots go to $LANGFUSE_TEST_ARTIFACTS/lists/.

import { after, before, describe, it as baseIt } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, basicAuth, cleanupTmp, ev, ingestOk, pollUntil, show, withServerLogs } from '../e2e/harness.mjs';
import {
  assertNoPageErrors, launchBrowser, newPage, pageFetch, screenshot, signUpByApi, skipWithoutChromium,
  startUiServer, TIMEOUT_MS, unnamedControls, waitForPath, withFailureScreenshots,
} from './browser.mjs';

const SUITE = 'lists';
const run = crypto.randomBytes(4).toString('hex');
const user = { name: 'Lee Lists', email: `lee-${run}@example.com`, password: `lee-pw-${run}` };
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
// Three sessions, each with its own user:
//   alpha: 1 trace 50 min ago, cost 3.0            (user ann)
//   beta:  3 traces 40, 35, 30 min ago, cost 0.5   (user bob)
//   gamma: 2 traces 3 days ago, cost 1.0            (user cyd)
const sessions = {
  alpha: { id: `alpha-${run}`, user: `ann-${run}`, traces: [50 * MIN], cost: 3.0 },
  beta: { id: `beta-${run}`, user: `bob-${run}`, traces: [40 * MIN, 35 * MIN, 30 * MIN], cost: 0.5 },
  gamma: { id: `gamma-${run}`, user: `cyd-${run}`, traces: [3 * DAY, 3 * DAY - MIN], cost: 1.0 },
};
const S = (...names) => names.map((n) => sessions[n].id);
const U = (...names) => names.map((n) => sessions[n].user);

let srv;
let browser;
let projectId;
let page;
const it = withFailureScreenshots(withServerLogs(baseIt, () => [srv]), SUITE, () => [page]);

/** Waits until the table's rows (their data attribute `attr`) are `expected`, in order. */
async function waitForRows(table, attr, expected) {
  const rows = table.locator(`tbody tr[${attr}]`);
  const deadline = Date.now() + TIMEOUT_MS;
  let seen;
  for (;;) {
    seen = await rows.evaluateAll((els, a) => els.map((e) => e.getAttribute(a)), attr);
    if (JSON.stringify(seen) === JSON.stringify(expected)) return;
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  assert.deepEqual(seen, expected, `rows of ${attr}`);
}

/** aria-sort of every sortable column header, by the header's name: {Cost: 'descending', ...}. */
async function ariaSorts(table) {
  return table.locator('thead th[aria-sort]').evaluateAll((ths) =>
    Object.fromEntries(ths.map((th) => [th.querySelector('button').textContent.replace(/[▲▼]/g, '').trim(), th.getAttribute('aria-sort')])));
}

function query(p) {
  return new URL(p.url()).searchParams;
}

describe('sessions and users pages in Chromium', { skip: skipWithoutChromium }, () => {
  before(async () => {
    srv = await startUiServer({ name: 'ui-lists' });
    browser = await launchBrowser();
    page = await newPage(browser);
    await signUpByApi(page, srv.baseUrl, user);
    const org = await pageFetch(page, 'POST', '/api/ui/organizations', { body: { name: `Org ${run}` }, csrf: true });
    assert.equal(org.status, 201, org.text);
    const project = await pageFetch(page, 'POST', `/api/ui/organizations/${org.json.id}/projects`, { body: { name: `Project ${run}` }, csrf: true });
    assert.equal(project.status, 201, project.text);
    projectId = project.json.id;
    const key = await pageFetch(page, 'POST', `/api/ui/projects/${projectId}/api-keys`, { body: {}, csrf: true });
    assert.equal(key.status, 201, key.text);
    const auth = basicAuth(key.json.publicKey, key.json.secretKey);

    const now = Date.now();
    const events = [];
    let count = 0;
    for (const s of Object.values(sessions)) {
      s.traces.forEach((ago, i) => {
        const id = `${s.id}-t${i}`;
        const at = new Date(now - ago).toISOString();
        events.push(ev('trace-create', { id, name: 'list-trace', userId: s.user, sessionId: s.id, timestamp: at }));
        events.push(ev('generation-create', {
          id: `${id}-g`, traceId: id, name: 'gen', startTime: at, endTime: at, model: 'gpt-4o',
          usageDetails: { input: 1, output: 1, total: 2 }, costDetails: { total: s.cost / s.traces.length },
        }));
        count++;
      });
    }
    await ingestOk(srv, events, { auth });
    const listed = await pollUntil(
      () => pageFetch(page, 'GET', `/api/ui/projects/${projectId}/sessions?orderBy=totalCost.desc`),
      (r) => r.status === 200 && r.json.meta.totalItems === 3 && r.json.data[0]?.id === sessions.alpha.id
        && r.json.data.every((x) => x.totalCost > 0),
      { timeoutMs: 30_000 },
    );
    assert.equal(listed.json?.meta?.totalItems, 3, show(listed));
    const traces = await api(srv, 'GET', '/api/public/traces?limit=10', { auth });
    assert.equal(traces.json.data.length, count, show(traces));
  });

  after(async () => {
    await browser?.close();
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
  });

  it('sessions: sorted by the server from the column headers, filtered by search and time range, all in the URL', async () => {
    await page.goto(`${srv.baseUrl}/project/${projectId}/sessions`);
    const table = page.getByRole('table', { name: 'Sessions' });
    // Default: newest first trace first.
    await waitForRows(table, 'data-session-id', S('beta', 'alpha', 'gamma'));
    assert.deepEqual(await ariaSorts(table), {
      Session: 'none', Created: 'descending', 'Last trace': 'none', Traces: 'none', Tokens: 'none', Cost: 'none',
    });
    assert.deepEqual(await unnamedControls(page.locator('main')), [], 'unnamed controls on the sessions page');

    await table.getByRole('button', { name: 'Cost' }).click();
    await waitForRows(table, 'data-session-id', S('alpha', 'gamma', 'beta'));
    assert.equal(query(page).get('orderBy'), 'totalCost.desc');
    assert.equal((await ariaSorts(table)).Cost, 'descending');
    assert.equal((await ariaSorts(table)).Created, 'none');
    await table.getByRole('button', { name: 'Cost' }).click();
    await waitForRows(table, 'data-session-id', S('beta', 'gamma', 'alpha'));
    assert.equal(query(page).get('orderBy'), 'totalCost.asc');
    assert.equal((await ariaSorts(table)).Cost, 'ascending');
    await table.getByRole('button', { name: 'Traces' }).click();
    await waitForRows(table, 'data-session-id', S('beta', 'gamma', 'alpha'));
    assert.equal(query(page).get('orderBy'), 'traceCount.desc');
    await table.getByRole('button', { name: 'Traces' }).click();
    await waitForRows(table, 'data-session-id', S('alpha', 'gamma', 'beta'));
    await screenshot(page, SUITE, '01-sessions-by-traces');

    // The order is the server's: the same URL answers the same order to a direct request.
    const direct = await pageFetch(page, 'GET', `/api/ui/projects/${projectId}/sessions?orderBy=traceCount.asc`);
    assert.deepEqual(direct.json.data.map((x) => x.id), S('alpha', 'gamma', 'beta'));

    // Search (case-insensitive, on the session id), kept in the URL with the order.
    await page.getByRole('searchbox', { name: 'Search sessions' }).fill(`GAMMA-${run}`.toUpperCase());
    await waitForRows(table, 'data-session-id', S('gamma'));
    assert.equal(query(page).get('q'), `GAMMA-${run}`.toUpperCase());
    await page.reload();
    await waitForRows(table, 'data-session-id', S('gamma'));
    assert.equal(await page.getByRole('searchbox', { name: 'Search sessions' }).inputValue(), `GAMMA-${run}`.toUpperCase());
    assert.equal((await ariaSorts(table)).Traces, 'ascending');
    await page.getByRole('searchbox', { name: 'Search sessions' }).fill('');
    await waitForRows(table, 'data-session-id', S('alpha', 'gamma', 'beta'));
    assert.equal(query(page).has('q'), false);

    // Time range: the past 24 hours drop gamma (3 days old); "All time" brings it back.
    await page.getByRole('combobox', { name: 'Time range' }).selectOption('24h');
    await waitForRows(table, 'data-session-id', S('alpha', 'beta'));
    assert.equal(query(page).get('range'), '24h');
    await screenshot(page, SUITE, '02-sessions-24h');
    await page.getByRole('combobox', { name: 'Time range' }).selectOption('all');
    await waitForRows(table, 'data-session-id', S('alpha', 'gamma', 'beta'));
    assert.equal(query(page).has('range'), false);

    // A shared link opens the same view; a bad orderBy in it falls back to the default order.
    await page.goto(`${srv.baseUrl}/project/${projectId}/sessions?orderBy=totalCost.desc&range=24h`);
    await waitForRows(table, 'data-session-id', S('alpha', 'beta'));
    await page.goto(`${srv.baseUrl}/project/${projectId}/sessions?orderBy=userIds.up`);
    await waitForRows(table, 'data-session-id', S('beta', 'alpha', 'gamma'));
    await waitForPath(page, /sessions\?orderBy=userIds\.up$/);
    assertNoPageErrors(page);
  });

  it('users: sorted by the server from the column headers, filtered by search and time range, all in the URL', async () => {
    await page.goto(`${srv.baseUrl}/project/${projectId}/users`);
    const table = page.getByRole('table', { name: 'Users' });
    // Default: most recently seen first.
    await waitForRows(table, 'data-user-id', U('beta', 'alpha', 'gamma'));
    assert.equal((await ariaSorts(table))['Last seen'], 'descending');
    assert.deepEqual(await unnamedControls(page.locator('main')), [], 'unnamed controls on the users page');

    await table.getByRole('button', { name: 'Cost' }).click();
    await waitForRows(table, 'data-user-id', U('alpha', 'gamma', 'beta'));
    assert.equal(query(page).get('orderBy'), 'totalCost.desc');
    assert.equal((await ariaSorts(table)).Cost, 'descending');
    assert.equal((await ariaSorts(table))['Last seen'], 'none');
    await table.getByRole('button', { name: 'Traces' }).click();
    await waitForRows(table, 'data-user-id', U('beta', 'gamma', 'alpha'));
    await table.getByRole('button', { name: 'First seen' }).click();
    await waitForRows(table, 'data-user-id', U('beta', 'alpha', 'gamma'));
    await table.getByRole('button', { name: 'First seen' }).click();
    await waitForRows(table, 'data-user-id', U('gamma', 'alpha', 'beta'));
    assert.equal(query(page).get('orderBy'), 'firstTrace.asc');
    assert.equal((await ariaSorts(table))['First seen'], 'ascending');
    await screenshot(page, SUITE, '03-users-by-first-seen');

    await page.getByRole('searchbox', { name: 'Search users' }).fill(`Bob-${run}`);
    await waitForRows(table, 'data-user-id', U('beta'));
    assert.equal(query(page).get('q'), `Bob-${run}`);
    await page.getByRole('searchbox', { name: 'Search users' }).fill('');
    await waitForRows(table, 'data-user-id', U('gamma', 'alpha', 'beta'));

    await page.getByRole('combobox', { name: 'Time range' }).selectOption('24h');
    await waitForRows(table, 'data-user-id', U('alpha', 'beta'));
    await page.reload();
    await waitForRows(table, 'data-user-id', U('alpha', 'beta'));
    assert.equal(await page.getByRole('combobox', { name: 'Time range' }).inputValue(), '24h');
    assert.equal((await ariaSorts(table))['First seen'], 'ascending');
    await screenshot(page, SUITE, '04-users-24h');
    assertNoPageErrors(page);
  });
});
