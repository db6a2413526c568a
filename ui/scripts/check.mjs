// A quick click-through of the built or dev-served app in headless Chromium, for development:
//   node scripts/check.mjs http://127.0.0.1:3000 [email] [password] [traceId]
// Signs up (or in), walks the pages by role and accessible name, and saves screenshots to /tmp/ui-check.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const base = process.argv[2] ?? 'http://localhost:5179';
const email = process.argv[3] ?? `check-${Date.now()}@example.com`;
const password = process.argv[4] ?? 'password123';
const bigTrace = process.argv[5];
const out = '/tmp/ui-check';
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.on('pageerror', (e) => console.log('PAGE ERROR', e.message));
page.on('console', (m) => m.type() === 'error' && console.log('console error:', m.text(), m.location().url));
const shot = (name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: false });
const step = (s) => console.log('--', s, page.url());

await page.goto(base + '/');
await page.waitForURL(/\/auth\/sign-in|\/project\//);
if (!page.url().includes('/auth/')) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/auth\/sign-in/);
}
step('at sign-in');
await page.getByLabel('Email').fill(email);
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Sign in' }).click();
const failed = await page.getByRole('alert').waitFor({ timeout: 1500 }).then(() => true, () => false);
if (failed) {
  step('sign-in failed, signing up');
  await page.getByRole('link', { name: 'Sign up' }).click();
  await page.getByLabel('Name').fill('Check User');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign up' }).click();
}
await page.waitForURL((u) => !u.pathname.startsWith('/auth/'));
step('signed in');
if (page.url().includes('/setup')) {
  await shot('setup');
  await page.getByLabel('Name').fill('Check Org');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('button', { name: 'Create project' }).waitFor();
  await page.getByLabel('Name').fill('Check Project');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.waitForURL(/\/settings$/);
  step('project created');
}
const projectId = new URL(page.url()).pathname.split('/')[2];

await page.goto(`${base}/project/${projectId}/settings`);
await page.getByRole('button', { name: 'Create API key' }).click();
const pk = await page.getByTestId('new-public-key').textContent();
const sk = await page.getByTestId('new-secret-key').textContent();
step(`key created ${pk} ${sk?.slice(0, 10)}...`);
await shot('settings');
await page.getByRole('table', { name: 'API keys' }).getByRole('row').filter({ hasText: pk }).getByRole('button', { name: 'Revoke' }).click();
await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
await page.getByRole('alertdialog').waitFor({ state: 'detached' });
await page.getByRole('table', { name: 'API keys' }).getByText(pk).waitFor({ state: 'detached' });
step('key revoked');
await page.getByRole('button', { name: 'Create API key' }).click();
const key = { pk: await page.getByTestId('new-public-key').textContent(), sk: await page.getByTestId('new-secret-key').textContent() };
console.log('KEY', JSON.stringify(key));

await page.goto(`${base}/project/${projectId}`);
await page.getByTestId('total-traces').waitFor();
step(`dashboard traces=${await page.getByTestId('total-traces').textContent()} obs=${await page.getByTestId('total-observations').textContent()} cost=${await page.getByTestId('total-cost').textContent()}`);
await shot('dashboard');

await page.goto(`${base}/project/${projectId}/traces?range=all`);
const table = page.getByRole('table', { name: 'Traces' });
await table.getByRole('row').nth(1).waitFor();
step(`traces rows=${await table.getByRole('row').count()}`);
await shot('traces');
await page.getByRole('button', { name: 'Columns' }).click();
await page.getByRole('button', { name: 'Columns' }).click();
await page.getByLabel('Name', { exact: true }).fill('chat');
await page.waitForURL(/name=chat/);
await page.waitForTimeout(500);
step(`filtered rows=${await table.getByRole('row').count()}`);
await page.getByLabel('Name', { exact: true }).fill('');
await page.waitForURL((u) => !u.search.includes('name='));
// Keyboard: Tab from the table header to the first row, Enter opens it.
await table.getByRole('row').nth(1).waitFor();
await page.getByRole('button', { name: /Timestamp/ }).focus();
for (let i = 0; i < 12; i++) {
  await page.keyboard.press('Tab');
  if (await page.evaluate(() => document.activeElement?.tagName === 'TR')) break;
}
await page.keyboard.press('Enter');
await page.waitForURL(/\/traces\/[^/?]+$/);
step('opened a trace with the keyboard');

if (bigTrace) await page.goto(`${base}/project/${projectId}/traces/${bigTrace}`);
const started = Date.now();
const tree = page.getByRole('tree', { name: 'Observations' });
await tree.getByRole('treeitem').first().waitFor();
step(`tree rendered in ${Date.now() - started} ms; treeitems in DOM=${await tree.getByRole('treeitem').count()}`);
await tree.getByRole('treeitem').first().click();
await page.getByRole('list', { name: 'Messages' }).first().waitFor({ timeout: 3000 }).then(
  async () => step(`root messages articles=${await page.getByRole('list', { name: 'Messages' }).first().getByRole('article').count()}`),
  () => step('root input not chat-shaped'),
);
await page.keyboard.press('ArrowDown');
await page.keyboard.press('ArrowDown');
await page.waitForTimeout(600);
step(`selected=${await tree.locator('[aria-selected=true]').textContent()}`);
await page.keyboard.press('End');
await page.waitForTimeout(300);
step(`after End selected=${await tree.locator('[aria-selected=true]').textContent()} in DOM=${await tree.getByRole('treeitem').count()}`);
await page.keyboard.press('Home');
await page.keyboard.press('ArrowLeft');
await page.waitForTimeout(100);
step(`collapsed root: treeitems=${await tree.getByRole('treeitem').count()}`);
await page.keyboard.press('ArrowRight');
await page.keyboard.press('ArrowDown');
await page.waitForTimeout(800);
await shot('trace');

for (const section of ['sessions', 'users', 'scores']) {
  await page.goto(`${base}/project/${projectId}/${section}`);
  await page.getByRole('table', { name: section[0].toUpperCase() + section.slice(1) }).waitFor();
  await page.waitForTimeout(400);
  step(`${section} rows=${await page.getByRole('table').first().getByRole('row').count()}`);
  await shot(section);
}
await page.goto(`${base}/project/${projectId}/sessions`);
const sessionLink = page.getByRole('table', { name: 'Sessions' }).getByRole('link').first();
await sessionLink.waitFor({ timeout: 3000 }).catch(() => {});
if (await sessionLink.count()) {
  await sessionLink.click();
  await page.getByRole('list', { name: 'Conversation' }).waitFor();
  step(`session turns=${await page.getByRole('list', { name: 'Conversation' }).locator(':scope > li').count()}`);
  await shot('session');
}
await page.getByRole('button', { name: 'Sign out' }).click();
await page.waitForURL(/sign-in/);
step('signed out');
await browser.close();
