// The workload header (the workload at a glance): open tasks,
// the sum of their estimates, how many have none, "what fits in", and the
// list ordered by estimate; on a laptop in dark mode and on a phone in
// light mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startAswan, startFakeAi, launch, newPage, signUp, createTenant, addTodo, item, artifacts, VIEWS } from './harness.mjs';

let app; let ai; let browser;

before(async () => {
  ai = await startFakeAi();
  app = await startAswan({ AI_BASE_URL: ai.url });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
  ai?.close();
});

for (const [name, options] of VIEWS) {
  test(`the workload header sums open estimates and answers "what fits" (${name})`, async () => {
    ai.state.status = 200;
    const page = await newPage(browser, app.base, options);
    const slug = name.replace(/\W+/g, '-');
    await signUp(page, app.base, `work-${slug}@example.com`);
    await createTenant(page, `Work ${slug}`);
    for (const title of ['Write the report', 'Call the bank', 'Book the venue']) await addTodo(page, title);
    const totals = page.getByRole('region', { name: 'Workload' }).getByRole('status');
    await totals.filter({ hasText: '3 open · ≈ 2 h 6 min of open work' }).waitFor();

    // One that cannot be estimated, one done: the header follows.
    ai.state.status = 401;
    await addTodo(page, 'Plan the offsite');
    await totals.filter({ hasText: '4 open · ≈ 2 h 6 min of open work · 1 without an estimate' }).waitFor();
    ai.state.status = 200;
    await item(page, 'Call the bank').getByRole('checkbox').check();
    await item(page, 'Call the bank').getByRole('button', { name: 'Skip' }).click();
    await totals.filter({ hasText: '3 open · ≈ 1 h 24 min of open work · 1 without an estimate' }).waitFor();

    // What fits: nothing in 30 min; both estimated open tasks in an hour.
    const fits = page.getByRole('group', { name: 'What fits in' });
    await fits.getByRole('button', { name: '30 min' }).click();
    await page.getByText('No open task with an estimate fits in 30 min.').waitFor();
    await fits.getByRole('button', { name: '1 h' }).click();
    const fitting = page.getByRole('list', { name: 'Open tasks that fit in 1 h' });
    await fitting.getByRole('listitem').nth(1).waitFor();
    assert.deepEqual((await fitting.getByRole('button').allTextContents()).sort(), ['Book the venue', 'Write the report']);
    assert.equal(await fits.getByRole('button', { name: '1 h' }).getAttribute('aria-pressed'), 'true');
    await page.screenshot({ path: join(artifacts, `workload-${slug}.png`), fullPage: true });

    // Shortest first: the unestimated task goes last of the open ones; the
    // done one stays in its own section, after them.
    await page.getByRole('group', { name: 'Order' }).getByRole('button', { name: 'Shortest first' }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('ul.todos li.todo:not(.done) .title')].at(-1)?.textContent === 'Plan the offsite');
    assert.equal(await page.locator('ul.todos li.todo:not(.done)').count(), 3);
    assert.deepEqual(await page.locator('ul.todos li.todo.done .title').allTextContents(), ['Call the bank']);
    assert.deepEqual(page.foreign, [], 'no request to any other host');
  });
}
