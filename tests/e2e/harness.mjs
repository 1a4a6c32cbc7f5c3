// Test harness for the browser tests: a fake OpenAI-compatible vendor, the
// real aswan binary on a free port with a fresh SQLite file, and headless
// Debian Chromium driven by playwright-core.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createTcpServer, connect } from 'node:net';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

/** Each new view is tested on a laptop and on a phone (375 px), in both
 * themes: `[name, browser context options]`. */
const LAPTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true };
export const VIEWS = [
  ['laptop, dark', { ...LAPTOP, colorScheme: 'dark' }],
  ['laptop, light', { ...LAPTOP, colorScheme: 'light' }],
  ['phone, dark', { ...PHONE, colorScheme: 'dark' }],
  ['phone, light', { ...PHONE, colorScheme: 'light' }],
];

/** A fake vendor: bag-of-words embeddings, a fixed JSON answer; programmable. */
export async function startFakeAi() {
  const state = { chatDelayMs: 0, status: 200, chatCalls: 0 };
  const embed = (text) => {
    const v = new Array(16).fill(0);
    for (const w of text.toLowerCase().replace(/^search_(query|document): /, '').split(/[^a-z0-9]+/).filter(Boolean)) {
      let hash = 0;
      for (const c of w) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
      v[hash % 16] += 1;
    }
    const n = Math.hypot(...v) || 1;
    return v.map((x) => x / n);
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      const send = (code, obj) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
      if (state.status !== 200) return send(state.status, { error: { message: 'fake', code: 'invalid_api_key' } });
      const json = JSON.parse(body || '{}');
      if (req.url.endsWith('/embeddings')) {
        return send(200, { data: json.input.map((t, index) => ({ index, embedding: embed(t) })) });
      }
      state.chatCalls += 1;
      if (state.chatDelayMs) await new Promise((r) => setTimeout(r, state.chatDelayMs));
      return send(200, { choices: [{ message: { role: 'assistant', content: '{"minutes": 42, "text": "About 42 minutes."}' } }] });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { state, url: `http://127.0.0.1:${server.address().port}/v1`, close: () => server.close() };
}

/** Starts `aswan serve` and resolves with its base URL once it listens. */
export async function startAswan(env = {}) {
  const bin = process.env.ASWAN_BIN || join(here, '../../target/debug/aswan');
  const dir = mkdtempSync(join(tmpdir(), 'aswan-e2e-'));
  const child = spawn(bin, [], {
    cwd: dir,
    env: {
      PATH: process.env.PATH, BIND: '127.0.0.1:0', LOG_FORMAT: 'text', LOG_LEVEL: 'warn,aswan=info',
      DATABASE_URL: `sqlite://${join(dir, 'e2e.db')}`, ESTIMATE_RETRY_BASE: '0.1', ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const base = await new Promise((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk) => {
      seen += chunk;
      const m = seen.match(/address=(\S+)/);
      if (m) resolve(`http://${m[1]}`);
    });
    child.on('exit', (code) => reject(new Error(`aswan exited early (${code}): ${seen}`)));
  });
  return { base, stop: () => child.kill('SIGTERM') };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A new page that fails the test on any request to another host. */
export async function newPage(browser, base, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url()); });
  page.foreign = foreign;
  return page;
}

export async function signUp(page, base, email) {
  await page.goto(`${base}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel(/^Password/).fill('correct horse');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Your tenants' }).waitFor();
}

export async function createTenant(page, name) {
  await page.getByLabel('New tenant').fill(name);
  await page.getByRole('button', { name: 'Create tenant' }).click();
  await page.getByRole('heading', { name }).waitFor();
  return page.url().split('/tenants/')[1];
}

export async function addTodo(page, title) {
  await page.getByLabel('New task').fill(title);
  await page.getByLabel('New task').press('Enter');
  await page.locator('.todo .title', { hasText: title }).first().waitFor();
}

/** The list item whose title is exactly `title`. */
export function item(page, title) {
  const exact = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('.todo').filter({ has: page.locator('.title', { hasText: exact }) });
}

/** A free loopback port (for a server whose own URL must be known up front). */
export function freePort() {
  return new Promise((resolve) => {
    const srv = createTcpServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/**
 * A real SMTP server on loopback: aiosmtpd (pinned, scripts/py-venv),
 * keeping every message in a Maildir that waitFor() reads.
 */
export async function startSmtp() {
  const python = execFileSync(join(here, '../../scripts/py-venv'), { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'aswan-mail-'));
  const port = await freePort();
  const child = spawn(python, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', join(dir, 'box')], { stdio: 'ignore' });
  for (let i = 0; ; i += 1) {
    const up = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 200) throw new Error('aiosmtpd did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const mails = () => {
    let names = [];
    try { names = readdirSync(join(dir, 'box', 'new')); } catch { return []; }
    return names.map((n) => join(dir, 'box', 'new', n))
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
      .map((f) => readFileSync(f, 'utf8'));
  };
  return {
    url: `smtp://127.0.0.1:${port}`,
    /** The text part of the first mail to `to` whose subject has `subject`. */
    async waitFor(to, subject) {
      for (let i = 0; i < 400; i += 1) {
        const raw = mails().find((m) => new RegExp(`^To: .*${to}`, 'mi').test(m) && new RegExp(`^Subject: .*${subject}`, 'mi').test(m));
        if (raw) return textPart(raw);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no mail to ${to} about ${subject}`);
    },
    stop: () => child.kill('SIGTERM'),
  };
}

function textPart(raw) {
  const text = raw.replace(/\r\n/g, '\n');
  const start = text.indexOf('Content-Type: text/plain');
  const part = text.slice(start);
  const split = part.indexOf('\n\n');
  const head = part.slice(0, split);
  let body = part.slice(split + 2).split('\n--')[0];
  if (/quoted-printable/i.test(head)) {
    body = body.replace(/=\n/g, '');
    body = Buffer.from(body.replace(/=([0-9A-F]{2})/g, (_, x) => String.fromCharCode(parseInt(x, 16))), 'latin1').toString('utf8');
  }
  return body;
}

/** The first link in `text` that starts with `prefix`. */
export function linkIn(text, prefix) {
  const at = text.indexOf(prefix);
  if (at < 0) throw new Error(`no ${prefix} link in ${text}`);
  return text.slice(at).split(/\s/)[0];
}

/** A new, empty database on the suite's PostgreSQL (ASWAN_TEST_DATABASE_URL): its URL. */
export function freshPostgres(prefix) {
  const admin = process.env.ASWAN_TEST_DATABASE_URL;
  const psql = process.env.ASWAN_PG_BIN ? join(process.env.ASWAN_PG_BIN, 'psql') : 'psql';
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  execFileSync(psql, [admin, '-qAtc', `CREATE DATABASE ${name}`]);
  return `${admin.slice(0, admin.lastIndexOf('/'))}/${name}`;
}
