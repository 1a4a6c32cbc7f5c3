// The interactive API docs at /docs, from the binary alone: Swagger UI
// renders the server's own OpenAPI description under the UI's
// Content-Security-Policy (no violation, no request to another host), and
// "Try it out" calls the API with the browser's session cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startAswan, launch, newPage, signUp, artifacts } from './harness.mjs';

let app; let browser;

before(async () => {
  app = await startAswan({ EMBEDDING_PROVIDER: 'none' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
});

test('/docs renders the description and tries a call with the session', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'docs@example.com');
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));

  await page.goto(`${app.base}/docs`);
  assert.equal(new URL(page.url()).pathname, '/docs/');
  await page.locator('.info .title', { hasText: 'Aswan' }).waitFor();
  // Every tag and the seed's routes are there.
  for (const tag of ['accounts', 'account', 'tenants', 'members', 'todos', 'transfer', 'operations']) {
    await page.locator(`#operations-tag-${tag}`).waitFor();
  }
  await page.locator('#operations-todos-create_todo').getByText('/api/todos', { exact: true }).waitFor();

  // Try GET /api/me: the browser's access_token cookie goes along.
  const me = page.locator('#operations-account-me');
  await me.locator('.opblock-summary').first().click();
  await me.getByRole('button', { name: 'Try it out' }).click();
  await me.getByRole('button', { name: 'Execute' }).click();
  const live = me.locator('.live-responses-table');
  await live.locator('.response-col_status', { hasText: '200' }).waitFor();
  await live.getByText('docs@example.com').first().waitFor();
  await page.screenshot({ path: join(artifacts, 'docs.png'), fullPage: false });

  assert.deepEqual(problems, [], 'no console errors (a CSP violation is one)');
  assert.deepEqual(page.foreign, [], 'no request to any other host');
});
