// Accounts in the browser, with a real SMTP server on loopback (aiosmtpd):
// an invitation followed from the mail it sent, email verification, a
// password reset by mail, the account page (sessions, API tokens, password,
// log out everywhere, delete), and a tenant's settings (rename, delete).
// Run on SQLite, and on PostgreSQL when the suite has one (scripts/test
// always does: ASWAN_TEST_DATABASE_URL).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startAswan, startSmtp, freePort, freshPostgres, linkIn, launch, newPage, signUp, createTenant, addTodo, artifacts } from './harness.mjs';

const backends = ['sqlite', ...(process.env.ASWAN_TEST_DATABASE_URL ? ['postgres'] : [])];

for (const backend of backends) describe(backend, () => {
let app; let smtp; let browser; let base;

before(async () => {
  smtp = await startSmtp();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const database = backend === 'postgres' ? { DATABASE_URL: freshPostgres('e2e_accounts') } : {};
  app = await startAswan({
    BIND: `127.0.0.1:${port}`, PUBLIC_URL: base, SMTP_URL: smtp.url,
    SMTP_FROM: 'Aswan <aswan@example.com>', EMBEDDING_PROVIDER: 'none', ...database,
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  app?.stop();
  smtp?.stop();
});

async function logIn(page, email, password = 'correct horse') {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

test('an invitation is mailed, and the invitee joins from the link in it', async () => {
  const owner = await newPage(browser, base);
  await signUp(owner, base, 'owner@example.com');
  const tenant = await createTenant(owner, 'Corp');
  await addTodo(owner, 'Plan the offsite');
  await owner.getByRole('link', { name: 'Members' }).click();
  await owner.getByLabel('Email').fill('bob@example.com');
  await owner.getByRole('button', { name: 'Invite' }).click();
  await owner.getByText('An invitation was mailed to bob@example.com').waitFor();
  const shown = await owner.getByLabel('Invitation link').inputValue();
  await owner.locator('#invitations td.email', { hasText: 'bob@example.com' }).waitFor();

  // A second invitation: resent (a new link), then revoked, in the UI.
  await owner.getByLabel('Email').fill('zoe@example.com');
  await owner.getByRole('button', { name: 'Invite' }).click();
  await owner.locator('#invitations td.email', { hasText: 'zoe@example.com' }).waitFor();
  const first = await owner.getByLabel('Invitation link').inputValue();
  await owner.getByRole('button', { name: 'Resend the invitation to zoe@example.com' }).click();
  await owner.waitForFunction((old) => document.getElementById('invitation-link')?.value !== old, first);
  await owner.getByRole('button', { name: 'Revoke the invitation to zoe@example.com' }).click();
  await owner.locator('#invitations td.email', { hasText: 'zoe@example.com' }).waitFor({ state: 'detached' });

  const mail = await smtp.waitFor('bob@example.com', 'You have an invitation on Aswan');
  const link = linkIn(mail, `${base}/invite/`);
  assert.equal(link, shown);

  // Bob opens the link signed out: he signs up, proves his address, joins.
  const bob = await newPage(browser, base);
  await bob.goto(link);
  await bob.getByRole('heading', { name: 'Log in to Aswan' }).waitFor();
  await bob.getByRole('link', { name: 'Create an account' }).click();
  await bob.getByLabel('Email').fill('bob@example.com');
  await bob.getByLabel(/^Password/).fill('correct horse');
  await bob.getByRole('button', { name: 'Sign up' }).click();
  await bob.getByRole('heading', { name: 'Join Corp' }).waitFor();
  await bob.getByRole('button', { name: 'Join Corp' }).click();
  await bob.getByText('verify your email address first').waitFor();
  const verify = linkIn(await smtp.waitFor('bob@example.com', 'Confirm your email'), `${base}/verify-email/`);
  await bob.goto(verify);
  await bob.getByRole('heading', { name: 'Email confirmed' }).waitFor();
  await bob.goto(link);
  await bob.getByRole('button', { name: 'Join Corp' }).click();
  await bob.getByText('You joined Corp as member.').waitFor();
  assert.equal(new URL(bob.url()).pathname, `/tenants/${tenant}`);
  await bob.locator('.todo .title', { hasText: 'Plan the offsite' }).waitFor();

  // The link is used up; the owner's list is empty again.
  await bob.goto(link);
  await bob.getByText('this invitation is invalid, used, revoked or expired').waitFor();
  await owner.reload();
  await owner.getByText('No pending invitations.').waitFor();
  await owner.screenshot({ path: join(artifacts, `members-invitations-${backend}.png`), fullPage: true });
  assert.deepEqual(owner.foreign, []);
});

test('a forgotten password is reset from the mailed link', async () => {
  const page = await newPage(browser, base);
  await signUp(page, base, 'carol@example.com');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByLabel('Email').fill('carol@example.com');
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await page.getByRole('heading', { name: 'Check your mailbox' }).waitFor();
  const link = linkIn(await smtp.waitFor('carol@example.com', 'Reset your Aswan password'), `${base}/reset-password/`);
  await page.goto(link);
  await page.getByLabel(/^New password/).fill('carol picks a new one');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByText('Your password is changed. Log in with it.').waitFor();
  await logIn(page, 'carol@example.com', 'carol picks a new one');
  await page.getByRole('heading', { name: 'Your tenants' }).waitFor();
});

test('the account page: sessions, API tokens, password, everywhere, deletion', async () => {
  const page = await newPage(browser, base);
  await signUp(page, base, 'dan@example.com');
  const other = await newPage(browser, base);
  await other.goto(`${base}/login`);
  await logIn(other, 'dan@example.com');
  await other.getByRole('heading', { name: 'Your tenants' }).waitFor();

  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
  await page.getByText('this one').waitFor();
  assert.equal(await page.locator('table').first().locator('tbody tr').count(), 2);
  // Sign the other browser out.
  await page.getByRole('button', { name: /^Sign out the session/ }).click();
  await page.locator('table').first().locator('tbody tr').nth(1).waitFor({ state: 'detached' });
  await other.reload();
  await other.getByRole('heading', { name: 'Log in to Aswan' }).waitFor();

  // Where mail is on, an account that has not proven its address gets no
  // token, and the page says why; once the mailed link is opened, it does.
  await page.getByLabel('Token name').fill('CI');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByText('verify your email address first').waitFor();
  const verify = linkIn(await smtp.waitFor('dan@example.com', 'Confirm your email'), `${base}/verify-email/`);
  await page.goto(verify);
  await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
  await page.goto(`${base}/account`);
  await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();

  // A token, shown once, that works as Bearer; then revoked.
  await page.getByLabel('Token name').fill('CI');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = await page.getByLabel(/Your new token/).inputValue();
  assert.match(token, /^aswan_pat_/);
  const asScript = await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(asScript.status, 200);
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Revoke the token CI' }).click();
  await page.getByText('No tokens yet.').waitFor();
  assert.equal((await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${token}` } })).status, 401);

  // A read-only token reads and cannot write.
  await page.getByLabel('Token name').fill('Dashboard');
  await page.getByLabel('Access').selectOption('read');
  await page.getByRole('button', { name: 'Create token' }).click();
  const reader = await page.getByLabel(/Your new token/).inputValue();
  await page.getByRole('cell', { name: 'Read only' }).waitFor();
  assert.equal((await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${reader}` } })).status, 200);
  const write = await fetch(`${base}/api/tenants`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${reader}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'Not allowed' }),
  });
  assert.equal(write.status, 403);

  // Password: a common one is refused with the server's words.
  await page.getByLabel('Current password').fill('correct horse');
  await page.getByLabel(/^New password/).fill('password1');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('is one of the most common passwords').waitFor();
  await page.getByLabel(/^New password/).fill('dan has a better one');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Your password is changed').waitFor();
  // The new password ends every API token.
  assert.equal((await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${reader}` } })).status, 401);
  await page.screenshot({ path: join(artifacts, `account-${backend}.png`), fullPage: true });

  // Download my data.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download my data (JSON)' }).click()]);
  const data = JSON.parse(await (await import('node:fs/promises')).readFile(await download.path(), 'utf8'));
  assert.equal(data.user.email, 'dan@example.com');

  // Log out everywhere: the other browser too.
  await other.goto(`${base}/login`);
  await logIn(other, 'dan@example.com', 'dan has a better one');
  await other.getByRole('heading', { name: 'Your tenants' }).waitFor();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Log out everywhere' }).click();
  await page.getByText('Every session is signed out.').waitFor();
  await other.reload();
  await other.getByRole('heading', { name: 'Log in to Aswan' }).waitFor();
  await logIn(page, 'dan@example.com', 'dan has a better one');
  await page.getByRole('heading', { name: 'Your tenants' }).waitFor();

  // Delete the account (a tenant of his own goes with it). The login
  // above landed on the list of tenants.
  await createTenant(page, 'Dan alone');
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByLabel('Your password, to confirm').fill('dan has a better one');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await page.getByText('Your account is deleted.').waitFor();
  await page.goto(`${base}/login`);
  await logIn(page, 'dan@example.com', 'dan has a better one');
  await page.getByText('incorrect email or password').waitFor();
  assert.deepEqual(page.foreign, []);
});

test('tenant settings: rename, and delete with the name typed', async () => {
  const page = await newPage(browser, base);
  await signUp(page, base, 'erin@example.com');
  await createTenant(page, 'Old name');
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel('Name', { exact: true }).fill('New name');
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByText('Renamed.').waitFor();
  await page.getByLabel('Type "New name" to confirm').fill('new name');
  await page.getByRole('button', { name: 'Delete this tenant' }).click();
  await page.getByText("type the tenant's name exactly").waitFor();
  await page.getByLabel('Type "New name" to confirm').fill('New name');
  await page.getByRole('button', { name: 'Delete this tenant' }).click();
  await page.getByText('New name is deleted.').waitFor();
  await page.getByText('You belong to no tenant yet.').waitFor();
});
});
