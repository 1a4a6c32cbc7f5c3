// Timers, which feed the estimates: start one on a
// task, it counts live and survives a reload (it is kept by the server);
// completing the timed task proposes its time as the actual duration; Stop
// stops it. On a laptop in dark mode and on a phone in light mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startAswan, launch, newPage, signUp, createTenant, addTodo, item, artifacts, VIEWS } from './harness.mjs';

let app; let browser;

before(async () => {
  app = await startAswan({ EMBEDDING_PROVIDER: 'none' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
});

for (const [name, options] of VIEWS) {
  test(`a task's timer runs across a reload and proposes its time on completion (${name})`, async () => {
    const page = await newPage(browser, app.base, options);
    const slug = name.replace(/\W+/g, '-');
    await signUp(page, app.base, `timer-${slug}@example.com`);
    await createTenant(page, `Timers ${slug}`);
    await addTodo(page, 'Write the report');
    await addTodo(page, 'Call the bank');

    await item(page, 'Write the report').getByRole('button', { name: 'Start timer for Write the report' }).click();
    const clock = item(page, 'Write the report').getByRole('timer', { name: 'Time spent on Write the report' });
    await clock.waitFor();
    // It counts by itself.
    await page.waitForFunction(() => /Timing 0:0[2-9]/.test(document.querySelector('[data-timer-clock]')?.textContent || ''));
    await page.screenshot({ path: join(artifacts, `timer-${slug}.png`), fullPage: true });

    // Kept by the server: a reload finds it still running.
    await page.reload();
    await item(page, 'Write the report').getByRole('timer').waitFor();
    assert.equal(await item(page, 'Call the bank').getByRole('timer').count(), 0);

    // One at a time: starting another moves it; Stop stops it.
    await item(page, 'Call the bank').getByRole('button', { name: 'Start timer for Call the bank' }).click();
    await item(page, 'Call the bank').getByRole('timer').waitFor();
    assert.equal(await item(page, 'Write the report').getByRole('timer').count(), 0);
    await item(page, 'Call the bank').getByRole('button', { name: 'Stop timer for Call the bank' }).click();
    await item(page, 'Call the bank').getByRole('button', { name: 'Start timer for Call the bank' }).waitFor();

    // Done while timed: the timer's time is proposed, and saved.
    await item(page, 'Write the report').getByRole('button', { name: 'Start timer for Write the report' }).click();
    await item(page, 'Write the report').getByRole('timer').waitFor();
    await item(page, 'Write the report').getByRole('checkbox').check();
    const took = item(page, 'Write the report').getByLabel('How long did it take? (minutes)');
    assert.equal(await took.inputValue(), '1');
    await item(page, 'Write the report').getByText('The timer ran 1 min: save it, or type another time.').waitFor();
    await item(page, 'Write the report').getByRole('button', { name: 'Save' }).click();
    await item(page, 'Write the report').getByText('Took 1 min').waitFor();
    const status = await page.evaluate(async () => (await fetch('/api/me/timer')).status);
    assert.equal(status, 204, 'the timer stopped');
    assert.deepEqual(page.foreign, [], 'no request to any other host');
  });
}
