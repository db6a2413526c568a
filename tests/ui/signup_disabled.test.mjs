// AUTH_DISABLE_SIGNUP=true in headless Chromium: no way to sign up in the app, the server refuses
// a direct sign-up, and the user provisioned by LANGFUSE_INIT_USER_* signs in to the init project.

import { after, before, describe, it as baseIt } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { cleanupTmp, withServerLogs } from '../e2e/harness.mjs';
import {
  assertNoPageErrors, launchBrowser, newPage, pageFetch, screenshot, skipWithoutChromium, startUiServer,
  waitForPath, withFailureScreenshots,
} from './browser.mjs';

const SUITE = 'signup-disabled';
const run = crypto.randomBytes(4).toString('hex');
const initUser = { email: `init-${run}@example.com`, password: `init-pw-${run}` };

let srv;
let browser;
let page;
const it = withFailureScreenshots(withServerLogs(baseIt, () => [srv]), SUITE, () => [page]);

describe('sign-up disabled (AUTH_DISABLE_SIGNUP) in Chromium', { skip: skipWithoutChromium }, () => {
  before(async () => {
    srv = await startUiServer({
      name: 'ui-signup-disabled',
      env: {
        AUTH_DISABLE_SIGNUP: 'true',
        LANGFUSE_INIT_USER_EMAIL: initUser.email,
        LANGFUSE_INIT_USER_NAME: 'Init User',
        LANGFUSE_INIT_USER_PASSWORD: initUser.password,
      },
    });
    browser = await launchBrowser();
    page = await newPage(browser);
  });

  after(async () => {
    await browser?.close();
    if (srv) {
      await srv.stop();
      cleanupTmp(srv, it.failed);
    }
  });

  it('offers no sign-up, and the server refuses one', async () => {
    await page.goto(`${srv.baseUrl}/auth/sign-in`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const config = await pageFetch(page, 'GET', '/api/ui/auth/config');
    assert.deepEqual(config.json, { signUpDisabled: true });
    assert.equal(await page.getByRole('link', { name: 'Sign up' }).count(), 0, 'a Sign up link on the sign-in page');
    await page.goto(`${srv.baseUrl}/auth/sign-up`);
    await page.getByText(/disabled/i).first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign up' }).count(), 0, 'a Sign up button');
    await screenshot(page, SUITE, '01-sign-up-disabled');
    const res = await pageFetch(page, 'POST', '/api/ui/auth/signup', { body: { name: 'X', email: `x-${run}@example.com`, password: 'password-123' } });
    assert.equal(res.status, 403, res.text);
    const signin = await pageFetch(page, 'POST', '/api/ui/auth/signin', { body: { email: `x-${run}@example.com`, password: 'password-123' } });
    assert.equal(signin.status, 401, `the refused user exists: ${signin.text}`);
    assertNoPageErrors(page);
  });

  it('lets the provisioned user sign in to the init project as its owner', async () => {
    await page.goto(`${srv.baseUrl}/auth/sign-in`);
    await page.getByLabel('Email').fill(initUser.email);
    await page.getByLabel('Password').fill(initUser.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForPath(page, new RegExp(`^/project/${srv.projectId}`));
    const session = await pageFetch(page, 'GET', '/api/ui/auth/session');
    const org = session.json.organizations.find((o) => o.id === srv.project.orgId);
    assert.ok(org, session.text);
    assert.equal(org.role, 'OWNER');
    await screenshot(page, SUITE, '02-init-user-signed-in');
    assertNoPageErrors(page);
  });
});
