// Ways the UI once lost edits or hid errors, each driven as a
// user would (each failed on the code before its fix).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAswan, launch, newPage, signUp, createTenant, addTodo, item } from './harness.mjs';

let app; let browser;

before(async () => {
  app = await startAswan({ EMBEDDING_PROVIDER: 'none' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
});

test('Escape discards an edit; Enter saves it once', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'edit@example.com');
  await createTenant(page, 'Edits');
  await addTodo(page, 'Original title');
  const patches = [];
  page.on('request', (r) => { if (r.method() === 'PATCH') patches.push(r.postData()); });

  await item(page, 'Original title').getByRole('button', { name: 'Edit Original title' }).click();
  await page.getByLabel('Edit title').fill('SHOULD NOT BE SAVED');
  await page.getByLabel('Edit title').press('Escape');
  await item(page, 'Original title').waitFor();
  await page.waitForTimeout(300);
  assert.deepEqual(patches, [], 'Escape sent no change');

  await item(page, 'Original title').getByRole('button', { name: 'Edit Original title' }).click();
  await page.getByLabel('Edit title').fill('Better title');
  await page.getByLabel('Edit title').press('Enter');
  await item(page, 'Better title').waitFor();
  await page.waitForTimeout(300);
  assert.equal(patches.length, 1, `one PATCH, not ${patches.length}`);
  await page.reload();
  await item(page, 'Better title').waitFor();
});

test('errors stay on screen after the list refreshes', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'errors@example.com');
  const tenant = await createTenant(page, 'Errors');
  await addTodo(page, 'Something');
  // A blank title: the server's 422 stays visible.
  await item(page, 'Something').getByRole('button', { name: 'Edit Something' }).click();
  await page.getByLabel('Edit title').fill('   x   '.replace('x', '\u0007'));
  await page.getByLabel('Edit title').press('Enter');
  await page.getByRole('alert').getByText('title: must not contain control characters').waitFor();
  await page.waitForTimeout(500);
  assert.equal(await page.getByRole('alert').isVisible(), true);
  // Demoting the last owner: the 409 says why the role snapped back.
  await page.goto(`${app.base}/tenants/${tenant}/members`);
  page.once('dialog', (d) => d.accept());
  await page.getByLabel('Role of errors@example.com').selectOption('member');
  await page.getByRole('alert').getByText('a tenant must keep at least one owner').waitFor();
  await page.waitForTimeout(500);
  assert.equal(await page.getByRole('alert').isVisible(), true);
  assert.equal(await page.getByLabel('Role of errors@example.com').inputValue(), 'owner');
});

test('a wrong password keeps the email field', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'keep@example.com');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('Email').fill('keep@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').getByText('incorrect email or password').waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), 'keep@example.com');
});

test('an unknown tenant, or one just left, is a page with a way out', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'lost@example.com');
  await page.goto(`${app.base}/tenants/00000000-0000-4000-8000-000000000000`);
  await page.getByRole('heading', { name: 'This tenant is not available' }).waitFor();
  assert.equal(await page.getByText('Loading…').count(), 0);
  await page.getByRole('link', { name: 'Go to your tenants' }).click();
  await page.getByRole('heading', { name: 'Your tenants' }).waitFor();
  await page.goto(`${app.base}/tenants/00000000-0000-4000-8000-000000000000/members`);
  await page.getByRole('heading', { name: 'This tenant is not available' }).waitFor();
});

test('opening a tenant puts the focus in the add field', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'focus@example.com');
  await createTenant(page, 'Focus');
  await page.getByRole('link', { name: 'Tenants' }).click();
  await page.getByRole('link', { name: /Focus/ }).click();
  await page.getByRole('heading', { name: 'Focus' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'new-todo');
  await page.keyboard.type('Typed straight away');
  await page.keyboard.press('Enter');
  await item(page, 'Typed straight away').waitFor();
});

test('arrow keys neither switch tenants nor change a role unasked', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'keys@example.com');
  const second = await createTenant(page, 'Second');
  await page.getByRole('link', { name: 'Tenants' }).click();
  const first = await createTenant(page, 'First');
  // The switcher is a menu: Tab to it and press ArrowDown: nothing moves.
  await page.getByText('Switch tenant').focus();
  await page.keyboard.press('ArrowDown');
  await page.waitForTimeout(300);
  assert.equal(new URL(page.url()).pathname, `/tenants/${first}`);
  await page.getByText('Switch tenant').click();
  await page.getByRole('link', { name: 'Second' }).click();
  await page.waitForURL(`${app.base}/tenants/${second}`);

  // A role: an arrow key asks first; dismissing sends nothing.
  const mate = await newPage(browser, app.base);
  await signUp(mate, app.base, 'keysmate@example.com');
  await page.getByRole('link', { name: 'Members' }).click();
  await page.getByLabel('Email').fill('keysmate@example.com');
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.getByLabel('Invitation link').inputValue();
  await mate.goto(link);
  await mate.getByRole('button', { name: 'Join Second' }).click();
  await mate.waitForURL(`${app.base}/tenants/${second}`);
  await page.reload();
  const patches = [];
  page.on('request', (r) => { if (r.method() === 'PATCH') patches.push(r.url()); });
  let asked = 0;
  page.once('dialog', (d) => { asked += 1; d.dismiss(); });
  await page.getByLabel('Role of keysmate@example.com').focus();
  await page.keyboard.press('ArrowUp');
  await page.waitForTimeout(300);
  assert.equal(asked, 1, 'asked before changing the role');
  assert.deepEqual(patches, []);
  assert.equal(await page.getByLabel('Role of keysmate@example.com').inputValue(), 'member');
});

test('after saving an edit or a duration, the focus stays on the task', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'stay@example.com');
  await createTenant(page, 'Stay');
  await addTodo(page, 'Keep me in focus');
  await item(page, 'Keep me in focus').getByRole('button', { name: 'Edit Keep me in focus' }).click();
  await page.getByLabel('Edit title').fill('Still in focus');
  await page.getByLabel('Edit title').press('Enter');
  await item(page, 'Still in focus').waitFor();
  await page.waitForFunction(() => document.activeElement?.matches('li.todo input[type=checkbox]'));
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Done: Still in focus');
  await page.keyboard.press('Space');
  await page.getByLabel('How long did it take? (minutes)').fill('25');
  await page.keyboard.press('Enter');
  await item(page, 'Still in focus').getByText('Took 25 min').waitFor();
  await page.waitForFunction(() => document.activeElement?.matches('li.todo input[type=checkbox]'));
});

test('durations as people type them: 1.5h, 1h30, 45m', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'durations@example.com');
  await createTenant(page, 'Durations');
  for (const [title, typed, took] of [['Hours', '1.5h', 'Took 1 h 30 min'], ['Mixed', '1h30', 'Took 1 h 30 min'], ['Minutes', '45m', 'Took 45 min']]) {
    await addTodo(page, title);
    await item(page, title).getByRole('checkbox').check();
    await item(page, title).getByLabel('How long did it take? (minutes)').fill(typed);
    await item(page, title).getByRole('button', { name: 'Save' }).click();
    await item(page, title).getByText(took).waitFor();
  }
  // Not a duration: said next to the field, in words, and nothing is sent.
  await addTodo(page, 'Nonsense');
  await item(page, 'Nonsense').getByRole('checkbox').check();
  await item(page, 'Nonsense').getByLabel('How long did it take? (minutes)').fill('a while');
  await item(page, 'Nonsense').getByRole('button', { name: 'Save' }).click();
  await item(page, 'Nonsense').getByText('Type a duration like 90, 1.5h, 1h30 or 45m').waitFor();
});

test('on a phone the members page keeps roles, buttons and emails whole', async () => {
  const page = await newPage(browser, app.base, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const email = 'christopher.longname-example@subdomain.example.com';
  await signUp(page, app.base, email);
  const tenant = await createTenant(page, 'Phone');
  await page.goto(`${app.base}/tenants/${tenant}/members`);
  const select = page.getByLabel(`Role of ${email}`);
  await select.waitFor();
  const measured = await page.evaluate((mail) => {
    const sel = document.querySelector('td select');
    // The widest option's text, drawn in the select's font, must fit inside.
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = getComputedStyle(sel).font;
    const needed = Math.max(...[...sel.options].map((o) => ctx.measureText(o.text).width));
    const button = [...document.querySelectorAll('td button')].find((b) => b.textContent === 'Leave');
    const buttonLines = (() => {
      const r = document.createRange(); r.selectNodeContents(button);
      return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
    })();
    // Where the email's lines break: the characters that start a new line.
    const cell = [...document.querySelectorAll('td')].find((td) => td.textContent === mail);
    const starts = [];
    let lastTop = null; let index = 0;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i += 1, index += 1) {
        const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
        const top = Math.round(r.getBoundingClientRect().top);
        if (lastTop !== null && top > lastTop + 2) starts.push(index);
        lastTop = top;
      }
    }
    return { selectInner: sel.clientWidth, needed, buttonLines, starts };
  }, email);
  assert.ok(measured.selectInner >= measured.needed + 16, `role select ${measured.selectInner}px for ${measured.needed}px of text`);
  assert.equal(measured.buttonLines, 1, '"Leave" on one line');
  for (const i of measured.starts) {
    // Before the @, after a dot or a hyphen: never inside a word.
    assert.ok(email[i] === '@' || '.-'.includes(email[i - 1]), `the email breaks at "${email.slice(0, i)}|${email.slice(i)}"`);
  }
});

// The keyboard, and undo instead of confirm(): n, /, j/k, x, e,
// Delete and ? work from the keyboard alone; deleting and completing show
// a toast with Undo instead of a confirm() box.
test('keyboard shortcuts drive the list; delete and complete can be undone', async () => {
  const page = await newPage(browser, app.base);
  await signUp(page, app.base, 'shortcuts@example.com');
  await createTenant(page, 'Shortcuts');
  for (const title of ['First task', 'Second task', 'Third task']) await addTodo(page, title);
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs += 1; d.dismiss(); });
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') || document.activeElement?.id);

  // Out of the add field (Escape does nothing there; Tab leaves it).
  await page.locator('h1').click();
  await page.keyboard.press('j');
  assert.equal(await focused(), 'Done: Third task');
  await page.keyboard.press('j');
  assert.equal(await focused(), 'Done: Second task');
  await page.keyboard.press('k');
  assert.equal(await focused(), 'Done: Third task');
  // Typing in a field is never a shortcut.
  await page.keyboard.press('n');
  assert.equal(await focused(), 'new-todo');
  await page.keyboard.type('jk');
  assert.equal(await page.locator('#new-todo').inputValue(), 'jk');
  await page.locator('#new-todo').fill('');
  await page.locator('h1').click();
  await page.keyboard.press('/');
  assert.equal(await focused(), 'search');
  await page.locator('h1').click();

  // ? shows the shortcuts, and hides them.
  await page.keyboard.press('?');
  await page.getByRole('region', { name: 'Keyboard shortcuts' }).waitFor();
  await page.getByRole('button', { name: 'Close' }).click();
  assert.equal(await page.getByRole('region', { name: 'Keyboard shortcuts' }).count(), 0);

  // e edits the focused task.
  await page.locator('h1').click();
  await page.keyboard.press('j');
  await page.keyboard.press('e');
  await page.getByLabel('Edit title').fill('Third task, renamed');
  await page.getByLabel('Edit title').press('Enter');
  await item(page, 'Third task, renamed').waitFor();

  // x completes it, with Undo.
  await page.locator('h1').click();
  await page.keyboard.press('j');
  await page.keyboard.press('x');
  await page.getByRole('status').filter({ hasText: 'Completed “Third task, renamed”.' }).getByRole('button', { name: 'Undo' }).click();
  await page.waitForFunction(() => ![...document.querySelectorAll('li.todo input[type=checkbox]')].some((c) => c.checked));

  // Delete removes the focused task at once; Undo brings it back, unsent.
  const deletes = [];
  page.on('request', (r) => { if (r.method() === 'DELETE') deletes.push(r.url()); });
  await page.locator('h1').click();
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  assert.equal(await focused(), 'Done: Second task');
  await page.keyboard.press('Delete');
  await item(page, 'Second task').waitFor({ state: 'detached' });
  assert.equal(await focused(), 'Done: First task', 'the focus moves to a neighbour');
  await page.getByRole('status').filter({ hasText: 'Deleted “Second task”.' }).getByRole('button', { name: 'Undo' }).click();
  await item(page, 'Second task').waitFor();
  // Deleted for good once the toast goes.
  await item(page, 'First task').getByRole('button', { name: 'Delete First task' }).click();
  await page.waitForResponse((r) => r.request().method() === 'DELETE' && r.status() === 204, { timeout: 15000 });
  assert.equal(deletes.length, 1, 'only the one not undone was sent');
  await page.reload();
  await item(page, 'Second task').waitFor();
  assert.equal(await item(page, 'First task').count(), 0);
  assert.equal(dialogs, 0, 'no confirm() box');
});
