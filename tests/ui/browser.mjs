// Browser test helpers: Debian's Chromium driven by playwright-core against the real binary
// (started by tests/e2e/harness.mjs) serving the built app from ui/dist.
//
// Environment (besides the e2e harness's LANGFUSE_BIN, LANGFUSE_TEST_TMP, ...):
//   LANGFUSE_CHROMIUM          the Chromium executable (default /usr/bin/chromium); the suites skip
//                              when it is missing, and only then
//   LANGFUSE_UI_DIR            the built app (default ui/dist of this tree; `npm run build` in ui/)
//   LANGFUSE_TEST_ARTIFACTS    where screenshots go (default build/test-artifacts/ui/)
//   LANGFUSE_UI_TIMEOUT_MS     how long a locator waits (default 15000)
//
// Playwright never downloads a browser here: the executable is always given.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { startServer } from '../e2e/harness.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.LANGFUSE_CHROMIUM || '/usr/bin/chromium';
export const UI_DIR = path.resolve(REPO, process.env.LANGFUSE_UI_DIR || 'ui/dist');
export const ARTIFACTS = path.resolve(REPO, process.env.LANGFUSE_TEST_ARTIFACTS || 'build/test-artifacts/ui');
export const TIMEOUT_MS = Number(process.env.LANGFUSE_UI_TIMEOUT_MS || 15_000);

/** A node:test `skip` value: false when Chromium is there, else the reason. */
export const skipWithoutChromium = (() => {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
    return false;
  } catch {
    return `Chromium not found at ${CHROMIUM} (Debian package chromium; scripts/setup installs it)`;
  }
})();

/** Fails clearly when the app has not been built. */
export function requireUiBuild() {
  const index = path.join(UI_DIR, 'index.html');
  if (!fs.existsSync(index)) {
    throw new Error(`${index} is missing: build the app first (cd ui && npm ci && npm run build), or set LANGFUSE_UI_DIR`);
  }
}

/** The real binary serving the app; `opts` as the e2e harness's startServer. */
export function startUiServer(opts = {}) {
  requireUiBuild();
  return startServer({ name: 'ui', ...opts, env: { LANGFUSE_UI_DIR: UI_DIR, ...(opts.env || {}) } });
}

/** Headless Chromium (--no-sandbox: the tests may run as root, e.g. in a container). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--lang=en-US'],
  });
}

/**
 * A fresh context (own cookies) and page. Uncaught errors in the page are collected in
 * page.pageErrors; assertNoPageErrors(page) fails a test on them.
 */
export async function newPage(browser, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  page.pageErrors = [];
  page.on('pageerror', (e) => page.pageErrors.push(e.message));
  return page;
}

export function assertNoPageErrors(page) {
  assert.deepEqual(page.pageErrors, [], 'uncaught errors in the page');
}

/** Saves a full-page screenshot as ARTIFACTS/<suite>/<name>.png; returns its path. */
export async function screenshot(page, suite, name) {
  const dir = path.join(ARTIFACTS, suite);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * fetch() from inside the page (its cookies, same origin). csrf: true adds X-CSRF-Token from
 * GET /api/ui/auth/session, a string adds that token. Returns {status, json, text}.
 */
export function pageFetch(page, method, url, { body, csrf = false } = {}) {
  return page.evaluate(async ({ method, url, body, csrf }) => {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (csrf === true) {
      const s = await fetch('/api/ui/auth/session');
      headers['X-CSRF-Token'] = (await s.json()).csrfToken;
    } else if (typeof csrf === 'string') {
      headers['X-CSRF-Token'] = csrf;
    }
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text };
  }, { method, url, body, csrf });
}

/** Waits until locator.count() equals n (or pred(count) holds); fails with the last count. */
export async function waitForCount(locator, n, { timeoutMs = TIMEOUT_MS, what = String(locator) } = {}) {
  const pred = typeof n === 'function' ? n : (c) => c === n;
  const deadline = Date.now() + timeoutMs;
  let count;
  for (;;) {
    count = await locator.count();
    if (pred(count)) return count;
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  assert.fail(`${what}: count ${count} after ${timeoutMs} ms, expected ${typeof n === 'function' ? 'a count matching ' + n : n}`);
}

/** Waits until the page's URL matches re (path + query). */
export async function waitForPath(page, re) {
  await page.waitForURL((u) => re.test(u.pathname + u.search));
}

/** Roles of interactive controls, each of which needs an accessible name. */
export const CONTROL_ROLES = new Set([
  'button', 'link', 'textbox', 'searchbox', 'combobox', 'listbox', 'checkbox', 'radio', 'switch',
  'spinbutton', 'slider', 'menuitem', 'tab', 'option', 'treeitem', 'tree', 'table', 'grid', 'row',
]);

/**
 * The controls without an accessible name in the ARIA tree under `locator` (Playwright's aria
 * snapshot: roles and names as assistive technology sees them). Rows are checked only when
 * focusable rows are asked for (`rows: true`): table rows are not controls unless they take focus.
 */
export async function unnamedControls(locator, { rows = false } = {}) {
  const tree = await locator.ariaSnapshotJSON();
  const missing = [];
  const walk = (nodes, trail) => {
    for (const node of Array.isArray(nodes) ? nodes : [nodes]) {
      if (!node || typeof node !== 'object') continue;
      const role = node.role;
      const here = role ? [...trail, role] : trail;
      if (role && CONTROL_ROLES.has(role) && (role !== 'row' || rows) && role !== 'option') {
        const name = typeof node.name === 'string' ? node.name.trim() : '';
        if (!name) missing.push(here.join(' > '));
      }
      if (node.children) walk(node.children, here);
    }
  };
  walk(tree, []);
  return missing;
}

/** Every node of the ARIA tree under `locator` with the given role: [{role, name, ...}]. */
export async function ariaNodes(locator, role) {
  const tree = await locator.ariaSnapshotJSON();
  const out = [];
  const walk = (nodes) => {
    for (const node of Array.isArray(nodes) ? nodes : [nodes]) {
      if (!node || typeof node !== 'object') continue;
      if (node.role === role) out.push(node);
      if (node.children) walk(node.children);
    }
  };
  walk(tree);
  return out;
}

/**
 * The focused element as the accessibility tree sees it, through the DevTools protocol:
 * {role, name, tag, testId, traceId}. `cdp` is page.context().newCDPSession(page).
 */
export async function focusedNode(page, cdp) {
  const { result } = await cdp.send('Runtime.evaluate', { expression: 'document.activeElement' });
  const dom = await page.evaluate(() => {
    const el = document.activeElement;
    return el ? { tag: el.tagName.toLowerCase(), traceId: el.getAttribute('data-trace-id'), type: el.getAttribute('type') } : null;
  });
  if (!result.objectId) return { role: null, name: '', ...dom };
  const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { objectId: result.objectId, fetchRelatives: false });
  await cdp.send('Runtime.releaseObject', { objectId: result.objectId });
  const node = nodes.find((n) => !n.ignored) || nodes[0];
  return { role: node?.role?.value ?? null, name: String(node?.name?.value ?? '').trim(), ...dom };
}

/** Signs a user up through the app's JSON API from a page (no UI); returns the user. */
export async function signUpByApi(page, baseUrl, { name, email, password }) {
  if (!page.url().startsWith(baseUrl)) await page.goto(baseUrl + '/auth/sign-in');
  const res = await pageFetch(page, 'POST', '/api/ui/auth/signup', { body: { name, email, password } });
  assert.equal(res.status, 201, `sign-up of ${email}: ${res.status} ${res.text}`);
  return res.json.user;
}

/**
 * Wraps an `it` so a failing test also saves a screenshot of each open page
 * (ARTIFACTS/<suite>/FAILED-<test>-<n>.png) and prints the pages' URLs.
 */
export function withFailureScreenshots(itFn, suite, getPages) {
  const wrapped = (name, optsOrFn, maybeFn) => {
    const fn = typeof optsOrFn === 'function' ? optsOrFn : maybeFn;
    const opts = typeof optsOrFn === 'function' ? {} : optsOrFn;
    return itFn(name, opts, async (t) => {
      try {
        return await fn(t);
      } catch (e) {
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        const pages = getPages().filter((p) => p && !p.isClosed());
        for (const [i, p] of pages.entries()) {
          try {
            const file = await screenshot(p, suite, `FAILED-${slug}-${i}`);
            console.error(`[ui] "${name}" failed at ${p.url()}; screenshot ${file}`);
          } catch { /* the page may be gone */ }
        }
        throw e;
      }
    });
  };
  Object.defineProperty(wrapped, 'failed', { get: () => itFn.failed });
  return wrapped;
}
