// The dense list: one line per task,
// 15+ tasks on a laptop screen and 6+ on a phone's, open tasks first and
// the done ones in a section that folds away (and stays folded).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startAswan, launch, newPage, signUp, createTenant, artifacts, VIEWS } from './harness.mjs';

let app; let browser;

before(async () => {
  app = await startAswan({ EMBEDDING_PROVIDER: 'none' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
});

/** How many task rows lie wholly on screen once the list is scrolled to the top. */
async function rowsOnScreen(page) {
  await page.evaluate(() => document.querySelector('ul.todos').scrollIntoView({ block: 'start' }));
  return page.evaluate(() => [...document.querySelectorAll('ul.todos li.todo')]
    .filter((li) => { const r = li.getBoundingClientRect(); return !li.hidden && r.top >= 0 && r.bottom <= innerHeight; }).length);
}

for (const [name, options] of VIEWS) {
  test(`tasks are dense and done ones fold away (${name})`, async () => {
    const page = await newPage(browser, app.base, options);
    const slug = name.replace(/\W+/g, '-');
    await signUp(page, app.base, `dense-${slug}@example.com`);
    await createTenant(page, `Dense ${slug}`);
    const tenant = page.url().split('/').pop();
    // Twenty tasks, two of them done, through the API (the page's session).
    await page.evaluate(async (t) => {
      for (let i = 1; i <= 20; i += 1) {
        const res = await fetch(`/api/tenants/${t}/todos`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ title: `Task number ${i} with a realistic length of title` }) });
        const todo = await res.json();
        if (i <= 2) await fetch(`/api/tenants/${t}/todos/${todo.id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ complete: true }) });
      }
    }, tenant);
    await page.reload();
    await page.locator('ul.todos li.todo').nth(19).waitFor({ state: 'attached' });
    const wanted = name.startsWith('laptop') ? 15 : 6;
    const seen = await rowsOnScreen(page);
    await page.screenshot({ path: join(artifacts, `list-${slug}.png`) });
    assert.ok(seen >= wanted, `${seen} tasks on screen, want ${wanted}+`);

    // Open first, then "Done (2)" and the done ones; folding hides them.
    const titles = await page.locator('ul.todos li.todo .title').allTextContents();
    assert.deepEqual(titles.slice(-2).sort(), ['Task number 1 with a realistic length of title', 'Task number 2 with a realistic length of title']);
    const fold = page.getByRole('button', { name: 'Done (2)' });
    assert.equal(await fold.getAttribute('aria-expanded'), 'true');
    await fold.click();
    assert.equal(await fold.getAttribute('aria-expanded'), 'false');
    assert.equal(await page.locator('ul.todos li.todo.done:visible').count(), 0);
    await page.reload();
    await page.getByRole('button', { name: 'Done (2)' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Done (2)' }).getAttribute('aria-expanded'), 'false', 'still folded');
    assert.equal(await page.locator('ul.todos li.todo.done:visible').count(), 0);
    await page.getByRole('button', { name: 'Done (2)' }).click();
    assert.equal(await page.locator('ul.todos li.todo.done:visible').count(), 2);
    assert.deepEqual(page.foreign, [], 'no request to any other host');
  });
}
