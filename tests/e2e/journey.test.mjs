import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startFakeAi, startAswan, launch, newPage, signUp, createTenant, addTodo, item, artifacts } from './harness.mjs';

let ai; let app; let browser;

before(async () => {
  ai = await startFakeAi();
  app = await startAswan({ AI_BASE_URL: ai.url, ESTIMATE_INLINE_TIMEOUT: '0.5' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
  ai?.close();
});

test('the whole journey: sign up, tenant, todos with estimates, complete, deep link, log out and in', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'journey@example.com');
  assert.match(await page.locator('.empty').innerText(), /no tenant yet/);
  const tenant = await createTenant(page, 'Acme');
  assert.match(await page.locator('.empty').innerText(), /No tasks yet/);

  await addTodo(page, 'Write the quarterly report');
  const first = item(page, 'Write the quarterly report');
  await first.locator('.estimate-text', { hasText: 'About 42 minutes.' }).waitFor();
  await addTodo(page, 'Write the yearly report');
  const second = item(page, 'Write the yearly report');
  await second.getByText('1 similar task found').waitFor();
  await second.getByText('1 similar task found').click();
  await second.locator('details li', { hasText: 'Write the quarterly report' }).waitFor();

  // Complete with the time it took.
  await first.getByRole('checkbox').check();
  await first.getByLabel('How long did it take? (minutes)').fill('50');
  await first.getByRole('button', { name: 'Save' }).click();
  await item(page, 'Write the quarterly report').getByText('Took 50 min').waitFor();

  // Filters.
  await page.getByRole('button', { name: 'Done', exact: true }).click();
  // The click re-fetches the list: wait for the re-render (the old list's
  // rows are still there until it lands), then check what it shows.
  await page.waitForFunction(() => document.querySelectorAll('.todo').length === 1, null, { timeout: 5000 }).catch(() => {});
  assert.equal(await page.locator('.todo').count(), 1);
  await page.getByRole('button', { name: 'All', exact: true }).click();
  await page.locator('.todo').nth(1).waitFor();

  // Inline edit.
  await second.getByRole('button', { name: /^Edit/ }).click();
  await page.getByLabel('Edit title').fill('Write the annual report');
  await page.getByLabel('Edit title').press('Enter');
  await page.locator('.todo .title', { hasText: 'Write the annual report' }).waitFor();

  // A deep link survives a reload.
  await page.reload();
  await page.getByRole('heading', { name: 'Acme' }).waitFor();
  assert.ok(page.url().endsWith(`/tenants/${tenant}`));
  await page.locator('.todo .title', { hasText: 'Write the annual report' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'todos.png'), fullPage: true });

  // Log out, log in: the data is still there.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in to Aswan' }).waitFor();
  await page.goto(`${app.base}/tenants/${tenant}`);
  await page.getByRole('heading', { name: 'Log in to Aswan' }).waitFor();
  await page.getByLabel('Email').fill('journey@example.com');
  await page.getByLabel('Password').fill('correct horse');
  await page.getByRole('button', { name: 'Log in' }).click();
  // Back where the deep link pointed, not on the list of tenants.
  await page.waitForURL(`${app.base}/tenants/${tenant}`);
  await page.locator('.todo .title', { hasText: 'Write the annual report' }).waitFor();
  assert.equal(await page.locator('.todo').count(), 2);

  // Delete: gone at once, with a toast to undo; sent when the toast goes.
  const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.status() === 204, { timeout: 15000 });
  await item(page, 'Write the annual report').getByRole('button', { name: /^Delete/ }).click();
  await page.locator('.todo .title', { hasText: 'Write the annual report' }).waitFor({ state: 'detached' });
  await page.getByRole('status').filter({ hasText: 'Deleted “Write the annual report”.' }).waitFor();
  await deleted;
  assert.deepEqual(page.foreign, [], 'no request to any other host');
});

test('a pending estimate updates by itself; a failed one can be retried', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'pending@example.com');
  await createTenant(page, 'Slowco');
  ai.state.chatDelayMs = 1500;
  await addTodo(page, 'Think slowly');
  const slow = item(page, 'Think slowly');
  await slow.getByText('Estimating…').waitFor();
  ai.state.chatDelayMs = 0;
  await slow.locator('.estimate-text', { hasText: 'About 42 minutes.' }).waitFor({ timeout: 15000 });

  ai.state.status = 401;
  await addTodo(page, 'Doomed to fail');
  const doomed = item(page, 'Doomed to fail');
  await doomed.getByText(/Estimate failed: .*credentials/).waitFor();
  ai.state.status = 200;
  await doomed.getByRole('button', { name: 'Retry estimate' }).click();
  await doomed.locator('.estimate-text', { hasText: 'About 42 minutes.' }).waitFor();
});

test('two users in two tenants never see each other', async () => {
  const ada = await newPage(browser, app.base);
  const bob = await newPage(browser, app.base);
  await signUp(ada, app.base, 'ada-e2e@example.com');
  await signUp(bob, app.base, 'bob-e2e@example.com');
  const adaTenant = await createTenant(ada, 'Ada Labs');
  await createTenant(bob, 'Bob Works');
  await addTodo(ada, 'Ada secret plan');
  await addTodo(bob, 'Bob secret plan');
  assert.equal(await ada.getByText('Bob secret plan').count(), 0);
  assert.equal(await bob.getByText('Ada secret plan').count(), 0);
  // Bob follows a link to Ada's tenant: not found, nothing shown.
  await bob.goto(`${app.base}/tenants/${adaTenant}`);
  await bob.getByRole('alert').getByText('tenant not found').waitFor();
  assert.equal(await bob.getByText('Ada secret plan').count(), 0);
  await bob.goto(`${app.base}/tenants`);
  assert.equal(await bob.getByText('Ada Labs').count(), 0);
});

test('a title with markup shows as text', async () => {
  const page = await newPage(browser, app.base);
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs += 1; d.dismiss(); });
  await signUp(page, app.base, 'xss@example.com');
  await createTenant(page, '<b>Bold</b> Co');
  const title = '<img src=x onerror=alert(1)>';
  await addTodo(page, title);
  assert.equal(await page.locator('.todo .title').first().innerText(), title);
  assert.equal(await page.locator('main img').count(), 0);
  assert.equal(await page.getByRole('heading', { name: '<b>Bold</b> Co' }).count(), 1);
  await page.waitForTimeout(300);
  assert.equal(dialogs, 0, 'no script ran');
});

test('owners manage members', async () => {
  const owner = await newPage(browser, app.base);
  const mate = await newPage(browser, app.base);
  await signUp(mate, app.base, 'mate@example.com');
  await signUp(owner, app.base, 'owner@example.com');
  const tenant = await createTenant(owner, 'Team');
  await owner.getByRole('link', { name: 'Members' }).click();
  // Without mail, the owner gets the invitation's link to pass on.
  await owner.getByLabel('Email').fill('mate@example.com');
  await owner.getByRole('button', { name: 'Invite' }).click();
  await owner.getByText('Send mate@example.com this link').waitFor();
  const link = await owner.getByLabel('Invitation link').inputValue();
  await mate.goto(link);
  await mate.getByRole('button', { name: 'Join Team' }).click();
  await mate.waitForURL(`${app.base}/tenants/${tenant}`);
  await mate.getByRole('heading', { name: 'Team', exact: true }).waitFor();
  // Someone else's account cannot use it (and it is used up anyway).
  await owner.reload();
  await owner.getByRole('cell', { name: 'mate@example.com', exact: true }).waitFor();
  await owner.getByText('No pending invitations.').waitFor();
  // Promote, then remove.
  owner.once('dialog', (d) => d.accept());
  await owner.getByLabel('Role of mate@example.com').selectOption('owner');
  await owner.waitForFunction(() => document.querySelector('[aria-label="Role of mate@example.com"]')?.value === 'owner');
  owner.once('dialog', (d) => d.accept());
  await owner.getByRole('button', { name: 'Remove mate@example.com' }).click();
  await owner.getByRole('cell', { name: 'mate@example.com', exact: true }).waitFor({ state: 'detached' });
  await mate.reload();
  await mate.getByRole('alert').getByText('tenant not found').waitFor();
});

test('phone width: no sideways scrolling, everything reachable', async () => {
  const page = await newPage(browser, app.base, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  await signUp(page, app.base, 'phone@example.com');
  await createTenant(page, 'Pocket');
  await addTodo(page, 'A rather long task title that has to wrap nicely on a narrow phone screen');
  await page.locator('.estimate-text').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: join(artifacts, 'phone.png'), fullPage: true });
});
