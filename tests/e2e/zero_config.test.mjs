// The embedded default in the browser: no AI configuration at all. The
// built-in model finds similar tasks and the estimate comes from the
// tenant's own history, or honestly says there is not enough of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startAswan, launch, newPage, signUp, createTenant, addTodo, item, artifacts } from './harness.mjs';

let app; let browser;

before(async () => {
  app = await startAswan();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
});

test('with no configuration, estimates come from the tenant\'s own history', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'history@example.com');
  await createTenant(page, 'Homeco');

  await addTodo(page, 'Fix the login bug');
  const first = item(page, 'Fix the login bug');
  await first.getByText('Estimate: not enough history yet').waitFor();
  await first.getByText(/no similar task/).waitFor();

  await first.getByRole('checkbox').check();
  await first.getByLabel('How long did it take? (minutes)').fill('90');
  await first.getByRole('button', { name: 'Save' }).click();
  await item(page, 'Fix the login bug').getByText('Took 90 min').waitFor();

  await addTodo(page, 'Repair the broken sign-in page');
  const second = item(page, 'Repair the broken sign-in page');
  await second.locator('.estimate-text', { hasText: '1 h 30 min, from the actual durations of 1 similar task' }).waitFor();
  await second.getByText('based on 1 similar task').click();
  await second.locator('details li', { hasText: 'Fix the login bug' }).getByText('90 min (actual)').waitFor();

  // Unrelated: no number; once a similar task is timed, asking again gives one.
  await addTodo(page, 'Mow the lawn');
  const lawn = item(page, 'Mow the lawn');
  await lawn.getByText('Estimate: not enough history yet').waitFor();
  await addTodo(page, 'Cut the grass in the back yard');
  const grass = item(page, 'Cut the grass in the back yard');
  await grass.getByRole('checkbox').check();
  await grass.getByLabel('How long did it take? (minutes)').fill('45');
  await grass.getByRole('button', { name: 'Save' }).click();
  await item(page, 'Cut the grass in the back yard').getByText('Took 45 min').waitFor();
  await item(page, 'Mow the lawn').getByRole('button', { name: 'Estimate again' }).click();
  await item(page, 'Mow the lawn').locator('.estimate-text', { hasText: '45 min, from the actual durations of 1 similar task' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'history-estimates.png'), fullPage: true });
  assert.deepEqual(page.foreign, [], 'no request to any other host');
});
