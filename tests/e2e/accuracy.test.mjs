// How good the estimates are (the accuracy view): reached from
// the workload header, it charts estimated against actual durations (an
// inline SVG, no chart library from anywhere), gives the median error and
// lists the worst misses. On a laptop in dark mode and a phone in light mode.
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
  test(`the accuracy view charts estimates against actuals (${name})`, async () => {
    const page = await newPage(browser, app.base, options);
    const slug = name.replace(/\W+/g, '-');
    await signUp(page, app.base, `acc-${slug}@example.com`);
    await createTenant(page, `Accuracy ${slug}`);
    await page.getByRole('link', { name: 'How good are the estimates?' }).click();
    await page.getByText('No timed task with an estimate yet.', { exact: false }).waitFor();
    await page.getByRole('link', { name: /^Back to/ }).click();

    // Every estimate is 42 min (the fake vendor); they took 40, 84 and 14.
    for (const [title, took, shown] of [['Write the report', '40', '40 min'], ['Paint the fence', '84', '1 h 24 min'], ['Call the bank', '14', '14 min']]) {
      await addTodo(page, title);
      await item(page, title).locator('.estimate-text').waitFor();
      await item(page, title).getByRole('checkbox').check();
      await item(page, title).getByLabel('How long did it take? (minutes)').fill(took);
      await item(page, title).getByRole('button', { name: 'Save' }).click();
      await item(page, title).getByText(`Took ${shown}`).waitFor();  // shown back the friendly way
    }
    await page.getByRole('link', { name: 'How good are the estimates?' }).click();
    await page.getByRole('status').filter({ hasText: 'Median error 50 % over the last 3 timed tasks' }).waitFor();
    const chart = page.getByRole('img', { name: /Estimated against actual duration for 3 timed tasks/ });
    await chart.waitFor();
    assert.equal(await chart.locator('circle').count(), 3);
    const worst = page.getByRole('table');
    assert.deepEqual(await worst.locator('tbody tr').first().locator('td').allTextContents(), ['Call the bank', '42 min', '14 min']);
    await page.screenshot({ path: join(artifacts, `accuracy-${slug}.png`), fullPage: true });
    assert.deepEqual(page.foreign, [], 'no request to any other host');
  });
}
