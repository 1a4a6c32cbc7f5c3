// Hostile pages and long lists, in a real browser:
// - a page on another origin of the same site (another port on the host)
//   cannot change anything with the victim's session cookie;
// - a cross-site login form cannot swap the victim's session;
// - a long list loads more tasks as the user scrolls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startAswan, launch, newPage, signUp, createTenant } from './harness.mjs';

let app; let browser; let attacker; let attackerPort; let page; let tenant;

before(async () => {
  app = await startAswan({ EMBEDDING_PROVIDER: 'none' });
  browser = await launch();
  // The attacker's site: serves whatever page the test sets.
  attacker = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(attacker.html || '');
  });
  await new Promise((r) => attacker.listen(0, '127.0.0.1', r));
  attackerPort = attacker.address().port;
  page = await newPage(browser, app.base);
  await signUp(page, app.base, 'victim@example.com');
  tenant = await createTenant(page, 'Victim Co');
});

after(async () => {
  await browser?.close();
  attacker?.close();
  app?.stop();
});

/** The signed-in page's own view of the API (its cookie, same origin). */
async function get(path) {
  return page.evaluate(async (p) => {
    const res = await fetch(p, { credentials: 'same-origin' });
    return { status: res.status, body: await res.json(), link: res.headers.get('Link') };
  }, path);
}

/** A page that posts `body` as a text/plain form to `action` on load. */
function formPage(action, body) {
  // text/plain forms send name=value: the name carries the JSON and opens
  // one more string, the value closes it off, so the body is valid JSON (the
  // classic trick the CSRF guard must stop).
  const name = `${body.slice(0, -1)},"x":"`;
  const value = '"}';
  return `<!doctype html><form method="POST" enctype="text/plain" action="${action}">
    <input name='${name}' value='${value}'></form>
    <script>document.forms[0].submit()</script>`;
}

test('a page on another origin of the same site cannot change anything', async () => {
  // mallory has an account the attacker wants made an owner.
  const other = await newPage(browser, app.base);
  await signUp(other, app.base, 'mallory@example.com');
  await other.context().close();

  attacker.html = formPage(`${app.base}/api/tenants/${tenant}/members`, '{"email":"mallory@example.com","role":"owner"}');
  const attackPage = await page.context().newPage();
  const answer = attackPage.waitForResponse((r) => r.url().includes('/members'));
  await attackPage.goto(`http://127.0.0.1:${attackerPort}/`);
  assert.equal((await answer).status(), 403);
  await attackPage.close();
  const members = await get(`/api/tenants/${tenant}/members`);
  assert.deepEqual(members.body.map((m) => m.email), ['victim@example.com']);

  // Nor create a tenant, nor delete one of the victim's tasks.
  attacker.html = formPage(`${app.base}/api/tenants`, '{"name":"Owned by the attacker"}');
  const second = await page.context().newPage();
  const created = second.waitForResponse((r) => r.url().endsWith('/api/tenants'));
  await second.goto(`http://127.0.0.1:${attackerPort}/`);
  assert.equal((await created).status(), 403);
  await second.close();
  const tenants = await get('/api/tenants');
  assert.deepEqual(tenants.body.map((t) => t.name), ['Victim Co']);
});

test('a cross-site login form cannot swap the session', async () => {
  const other = await newPage(browser, app.base);
  await signUp(other, app.base, 'attacker@example.com');
  await other.context().close();

  // localhost is another site than 127.0.0.1.
  attacker.html = formPage(`${app.base}/api/login`, '{"email":"attacker@example.com","password":"correct horse"}');
  const attackPage = await page.context().newPage();
  const answer = attackPage.waitForResponse((r) => r.url().endsWith('/api/login'));
  await attackPage.goto(`http://localhost:${attackerPort}/`);
  assert.equal((await answer).status(), 403);
  await attackPage.close();
  const me = await get('/api/me');
  assert.equal(me.status, 200);
  assert.equal(me.body.email, 'victim@example.com');
});

test('a long list loads more tasks as the user scrolls', async () => {
  const made = await page.evaluate(async (t) => {
    for (let i = 0; i < 120; i += 1) {
      const res = await fetch(`/api/tenants/${t}/todos`, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: `Task ${String(i).padStart(3, '0')}` }),
      });
      if (!res.ok) return res.status;
    }
    return 'ok';
  }, tenant);
  assert.equal(made, 'ok');
  const first = await get(`/api/tenants/${tenant}/todos?limit=50`);
  assert.equal(first.body.length, 50);
  assert.match(first.link, /rel="next"/);

  await page.goto(`${app.base}/tenants/${tenant}`);
  await page.locator('.todo').nth(49).waitFor();
  assert.equal(await page.locator('.todo').count(), 50);
  for (const expected of [100, 120]) {
    await page.locator('.todo').last().scrollIntoViewIfNeeded();
    await page.locator('li.more').scrollIntoViewIfNeeded().catch(() => {});
    await page.waitForFunction((n) => document.querySelectorAll('.todo').length >= n, expected, { timeout: 10000 });
  }
  assert.equal(await page.locator('.todo').count(), 120);
  assert.equal(await page.locator('li.more').count(), 0, 'no more to load');
  assert.equal(await page.locator('.todo .title').last().innerText(), 'Task 000');
});
