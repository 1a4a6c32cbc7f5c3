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
  await item(page, 'Fix the login bug').getByText('Took 1 h 30 min').waitFor();

  await addTodo(page, 'Repair the broken login page');
  const second = item(page, 'Repair the broken login page');
  await second.locator('.estimate-text', { hasText: '1 h 30 min, from the actual durations of 1 similar task' }).waitFor();
  await second.getByText('1 similar task found').click();
  await second.locator('details li', { hasText: 'Fix the login bug' }).getByText('1 h 30 min (actual)').waitFor();

  // Unrelated: no number; once a similar task is timed, it gets one by
  // itself (re-estimated in the background, shown without a reload).
  await addTodo(page, 'Mow the lawn');
  const lawn = item(page, 'Mow the lawn');
  await lawn.getByText('Estimate: not enough history yet').waitFor();
  await addTodo(page, 'Cut the grass in the back yard');
  const grass = item(page, 'Cut the grass in the back yard');
  await grass.getByRole('checkbox').check();
  await grass.getByLabel('How long did it take? (minutes)').fill('45');
  await grass.getByRole('button', { name: 'Save' }).click();
  await item(page, 'Cut the grass in the back yard').getByText('Took 45 min').waitFor();
  await item(page, 'Mow the lawn').locator('.estimate-text', { hasText: '45 min, from the actual durations of 1 similar task' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'history-estimates.png'), fullPage: true });
  assert.deepEqual(page.foreign, [], 'no request to any other host');
});

// What the estimate's words get right: the list of
// similar tasks never contradicts the estimate's own count, a done task is
// not offered a new estimate, and a reopened task no longer says "Took".
test('estimates say what they used; done tasks are not re-estimated; reopened ones have not "taken" yet', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'stale@example.com');
  await createTenant(page, 'Stale');
  await addTodo(page, 'Fix the login bug');
  await item(page, 'Fix the login bug').getByRole('checkbox').check();
  await item(page, 'Fix the login bug').getByLabel('How long did it take? (minutes)').fill('2h');
  await item(page, 'Fix the login bug').getByRole('button', { name: 'Save' }).click();
  await item(page, 'Fix the login bug').getByText('Took 2 h').waitFor();
  await addTodo(page, 'Fix the login bug on Safari');
  await item(page, 'Fix the login bug on Safari').locator('.estimate-text').waitFor();
  await addTodo(page, 'Fix the login bug on Firefox');
  const third = item(page, 'Fix the login bug on Firefox');
  await third.locator('.estimate-text', { hasText: 'from the actual durations of 1 similar task' }).waitFor();
  // Two similar tasks were found (one timed, one only estimated); the list
  // says so instead of "based on 2" under "from … 1 similar task".
  const summary = await third.locator('details summary').textContent();
  assert.equal(summary, '2 similar tasks found');
  assert.equal(await third.locator('details li').count(), 2);
  assert.equal(await page.getByText(/based on \d+ similar task/).count(), 0);

  // Not enough history: "Estimate again" is offered while open, not once done.
  await addTodo(page, 'Mow the lawn');
  const lawn = item(page, 'Mow the lawn');
  await lawn.getByRole('button', { name: 'Estimate again' }).waitFor();
  await lawn.getByRole('checkbox').check();
  await lawn.getByRole('button', { name: 'Skip' }).click();
  await rendered(page, 'Mow the lawn', true);
  assert.equal(await item(page, 'Mow the lawn').getByRole('button', { name: 'Estimate again' }).count(), 0);

  // Reopened: the recorded duration is kept, but the task has not "taken" it.
  await item(page, 'Fix the login bug').getByRole('checkbox').uncheck();
  await rendered(page, 'Fix the login bug', false);
  assert.equal(await item(page, 'Fix the login bug').getByText('Took 2 h').count(), 0);
});

/** Waits until the list was drawn again with the task done (or open): the
 * checkbox changes at once, the row only when the server's answer is shown. */
function rendered(page, title, done) {
  return page.waitForFunction(([t, d]) => [...document.querySelectorAll('li.todo')]
    .some((li) => li.querySelector('.title')?.textContent === t && li.classList.contains('done') === d), [title, done]);
}

// Search: only relevant results, as real task rows, an
// empty state, and a way back to the list.
test('search shows only relevant tasks, as tasks, and Escape goes back to the list', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'search@example.com');
  await createTenant(page, 'Search');
  for (const title of ['Buy milk', 'Write the pricing article', 'Fix the login bug']) await addTodo(page, title);
  const field = page.getByRole('searchbox', { name: 'Search tasks' });

  await field.fill('zzzz qqqq');
  await field.press('Enter');
  await page.getByText('No task matches “zzzz qqqq”.').waitFor();
  assert.equal(await page.locator('li.todo').count(), 0);

  await field.fill('pricing article');
  await field.press('Enter');
  await page.getByText(/1 task matches “pricing article”/).waitFor();
  assert.deepEqual(await page.locator('li.todo .title').allTextContents(), ['Write the pricing article']);
  // A real row: it can be completed from the results.
  await item(page, 'Write the pricing article').getByRole('checkbox').check();
  await item(page, 'Write the pricing article').getByRole('button', { name: 'Skip' }).click();
  await rendered(page, 'Write the pricing article', true);
  await page.getByText(/1 task matches “pricing article”/).waitFor();

  await field.press('Escape');
  await page.waitForFunction(() => document.querySelectorAll('li.todo').length === 3);
  assert.equal(await page.getByText(/matches “/).count(), 0);
});
