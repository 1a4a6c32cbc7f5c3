// Aswan's UI: plain JavaScript modules, no build step. Every piece of user
// text goes through textContent (see h()), never innerHTML.

import * as account from './account.js';
import * as workload from './workload.js';
import * as timer from './timer.js';
import * as accuracy from './accuracy.js';
import * as keys from './keys.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const flash = document.getElementById('flash');

let me = null;          // the signed-in user, or null
let pollTimer = null;   // refreshes a list while estimates are pending

// ---- DOM helper ----------------------------------------------------------

/** Creates an element. `props`: attributes, `class`, `text`, `on<event>`. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function say(message, kind = 'error') {
  flash.textContent = message;
  flash.className = kind === 'info' ? 'info' : '';
  flash.hidden = false;
}

function clearFlash() {
  flash.hidden = true;
  flash.textContent = '';
}

// ---- API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok) {
    const detail = data && typeof data.detail === 'string' ? data.detail : `Request failed (${res.status})`;
    throw new ApiError(res.status, detail);
  }
  return data;
}

/** A GET of one page of a list: its items and the next page's URL, if any (the Link header). */
async function apiPage(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const detail = data && typeof data.detail === 'string' ? data.detail : `Request failed (${res.status})`;
    throw new ApiError(res.status, detail);
  }
  const link = res.headers.get('Link') || '';
  const next = link.match(/<([^>]+)>;\s*rel="next"/);
  return { items: data, next: next ? next[1] : null };
}

/** Runs an action; shows the API's detail if it fails. The message stays
 * until the user acts again (see the listener below): a refresh that
 * follows a failure must not wipe the reason away. */
async function attempt(action) {
  try {
    return await action();
  } catch (e) {
    // A session that ended sends the user to log in; a failed login or
    // sign-up (no session yet) stays on its form, fields kept.
    if (e instanceof ApiError && e.status === 401 && me) {
      me = null;
      await navigate('/login');
    }
    say(e.message || 'Something went wrong');
    return undefined;
  }
}

// The user acting again clears the last message (before the action's own
// request, whose failure then shows).
for (const type of ['submit', 'click', 'change']) {
  document.addEventListener(type, (e) => {
    if (e.target instanceof Element && e.target.closest('#flash')) return;
    if (type === 'click' && !e.target.closest?.('button, a, input[type=checkbox]')) return;
    // A text field's change fires when it loses focus (also when a refresh
    // removes it): only a choice the user makes counts.
    if (type === 'change' && !e.target.matches?.('select, input[type=checkbox]')) return;
    clearFlash();
  }, true);
}

// ---- routing ---------------------------------------------------------------

const routes = [
  [/^\/$/, () => (me ? tenantsView() : navigate('/login', true))],
  [/^\/login$/, () => authView('login')],
  [/^\/signup$/, () => authView('signup')],
  [/^\/forgot-password$/, () => account.forgotPasswordView()],
  [/^\/reset-password\/([A-Za-z0-9_-]+)$/, (t) => account.resetPasswordView(t)],
  [/^\/verify-email\/([A-Za-z0-9_-]+)$/, (t) => account.verifyEmailView(t)],
  [/^\/invite\/([A-Za-z0-9_-]+)$/, (t) => account.inviteView(t)],
  [/^\/account$/, () => account.accountView()],
  [/^\/tenants$/, () => tenantsView()],
  [/^\/tenants\/([0-9a-f-]{36})$/i, (id) => todosView(id)],
  [/^\/tenants\/([0-9a-f-]{36})\/members$/i, (id) => membersView(id)],
  [/^\/tenants\/([0-9a-f-]{36})\/accuracy$/i, (id) => accuracy.accuracyView(id)],
  [/^\/tenants\/([0-9a-f-]{36})\/settings$/i, (id) => account.tenantSettingsView(id)],
];

/** Pages anyone may open, signed in or not. */
const PUBLIC = [/^\/login$/, /^\/signup$/, /^\/forgot-password$/, /^\/reset-password\//, /^\/verify-email\//];

/** Where to go after signing in: the page that asked for it (e.g. an invitation). */
const RETURN_KEY = 'aswan.returnTo';

/** Goes to `path`; resolves once its view has loaded (so that a message
 * said afterwards is not cleared by the view's own requests). */
function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

async function render() {
  clearTimeout(pollTimer);
  const path = location.pathname;
  const needsAuth = !PUBLIC.some((re) => re.test(path));
  if (needsAuth && !me) {
    if (path !== '/') sessionStorage.setItem(RETURN_KEY, path);
    navigate('/login', true);
    return;
  }
  renderNav();
  for (const [re, view] of routes) {
    const m = path.match(re);
    if (m) {
      await view(...m.slice(1));
      // The view may have put focus where work starts (the add field);
      // otherwise the page's start, for screen readers.
      if (!main.contains(document.activeElement) || document.activeElement === main) main.focus({ preventScroll: true });
      return;
    }
  }
  show(h('h1', { text: 'Page not found' }), h('p', {}, h('a', { href: '/', 'data-link': true, text: 'Back to your tenants' })));
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (a && !e.ctrlKey && !e.metaKey && !e.shiftKey && a.origin === location.origin) {
    e.preventDefault();
    navigate(a.pathname);
  }
});
window.addEventListener('popstate', render);

function renderNav() {
  if (!me) {
    nav.replaceChildren();
    return;
  }
  nav.replaceChildren(
    h('span', { class: 'muted', text: me.email }),
    h('a', { href: '/tenants', 'data-link': true, text: 'Tenants' }),
    h('a', { href: '/account', 'data-link': true, text: 'Account' }),
    h('button', { type: 'button', onclick: logout, text: 'Log out' }),
  );
}

async function logout() {
  await attempt(() => api('POST', '/api/logout'));
  me = null;
  navigate('/login');
  say('You are logged out.', 'info');
}

// ---- views -----------------------------------------------------------------

function authView(mode) {
  const signup = mode === 'signup';
  const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'email', required: true });
  const password = h('input', {
    id: 'password', type: 'password', name: 'password', required: true, minlength: signup ? '8' : null,
    autocomplete: signup ? 'new-password' : 'current-password',
  });
  const form = h('form', {
    class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      const ok = await attempt(() => api('POST', signup ? '/api/sign-up' : '/api/login', { email: email.value, password: password.value }));
      if (ok === undefined) return;
      me = await api('GET', '/api/me');
      const back = sessionStorage.getItem(RETURN_KEY);
      sessionStorage.removeItem(RETURN_KEY);
      navigate(back && back.startsWith('/') && !back.startsWith('//') ? back : '/tenants');
    },
  },
  h('label', { for: 'email', text: 'Email' }), email,
  h('label', { for: 'password', text: signup ? 'Password (8 characters or more)' : 'Password' }), password,
  h('p', {}, h('button', { class: 'primary', type: 'submit', text: signup ? 'Sign up' : 'Log in' })),
  h('p', { class: 'muted' }, signup ? 'Have an account? ' : 'New here? ',
    h('a', { href: signup ? '/login' : '/signup', 'data-link': true, text: signup ? 'Log in' : 'Create an account' })),
  signup ? null : h('p', { class: 'muted' }, h('a', { href: '/forgot-password', 'data-link': true, text: 'Forgot your password?' })));
  show(h('section', { class: 'auth' }, h('h1', { text: signup ? 'Create your account' : 'Log in to Aswan' }), form));
  email.focus();
}

async function tenantsView() {
  const tenants = await attempt(() => api('GET', '/api/tenants?limit=1000'));
  if (tenants === undefined) return;
  const name = h('input', { id: 'tenant-name', type: 'text', required: true, maxlength: '100', placeholder: 'Acme Inc.' });
  const form = h('form', {
    class: 'row',
    onsubmit: async (e) => {
      e.preventDefault();
      const t = await attempt(() => api('POST', '/api/tenants', { name: name.value }));
      if (t) navigate(`/tenants/${t.id}`);
    },
  }, h('div', { class: 'grow' }, h('label', { for: 'tenant-name', text: 'New tenant' }), name),
  h('button', { class: 'primary', type: 'submit', text: 'Create tenant' }));
  const list = tenants.length
    ? h('ul', { class: 'tenants' }, tenants.map((t) => h('li', { class: 'card' },
      h('a', { href: `/tenants/${t.id}`, 'data-link': true }, h('strong', { text: t.name }), ' ', h('span', { class: 'muted', text: `(${t.role})` })))))
    : h('p', { class: 'empty', text: 'You belong to no tenant yet. Create one to start adding tasks.' });
  show(h('h1', { text: 'Your tenants' }), list, h('h2', { text: 'Create a tenant' }), form);
}

function reEstimateButton(todo, label, refresh) {
  return h('button', { type: 'button', class: 'link', text: label,
    onclick: async () => { await attempt(() => api('POST', `/api/tenants/${todo.tenant_id}/todos/${todo.id}/estimate`)); refresh(); } });
}

function estimateView(todo, refresh) {
  const box = h('div', { class: `estimate ${todo.estimate_status}` });
  switch (todo.estimate_status) {
    case 'pending':
      box.append(h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Estimating…');
      break;
    case 'ready': {
      const basis = todo.estimate_basis || [];
      if (todo.estimate_minutes != null) {
        const range = todo.estimate_low_minutes != null && todo.estimate_high_minutes != null
          ? ` (${workload.formatMinutes(todo.estimate_low_minutes)}–${workload.formatMinutes(todo.estimate_high_minutes)})` : '';
        box.append(h('span', { class: 'chip', title: 'Estimate', text: `≈ ${workload.formatMinutes(todo.estimate_minutes)}${range}` }), ' ');
      }
      // The chip says the number; the words say where it came from.
      const words = h('span', { class: 'words', title: todo.estimate }, h('span', { class: 'sr-only', text: 'Estimate: ' }),
        h('span', { class: 'estimate-text', text: todo.estimate }));
      box.append(words);
      if (basis.length) {
        // The estimate's own words say how many tasks it used (those with a
        // recorded duration, when any has one); this lists every one found.
        box.append(h('details', {}, h('summary', { text: `${basis.length} similar task${basis.length === 1 ? '' : 's'} found` }),
          h('ul', {}, basis.map((b) => h('li', {}, h('span', { text: b.title }), ' — ',
            b.minutes == null ? 'no duration' : `${workload.formatMinutes(b.minutes)} ${b.actual ? '(actual)' : '(estimated)'}`)))));
      } else {
        box.append(h('span', { class: 'muted', text: 'no similar past tasks yet' }));
      }
      break;
    }
    case 'insufficient_history':
      // No number rather than an invented one; worth asking again once
      // similar tasks have been completed with their durations (moot once
      // this one is done).
      if (todo.complete) break;
      box.append(h('span', { text: `Estimate: ${todo.estimate}` }), ' ',
        h('span', { class: 'muted', text: `(${todo.estimate_reason || 'no similar tasks with a duration'})` }), ' ',
        reEstimateButton(todo, 'Estimate again', refresh));
      break;
    case 'failed':
      box.append(h('span', { text: `Estimate failed: ${todo.estimate_reason || 'unknown reason'}` }));
      if (!todo.complete) box.append(' ', reEstimateButton(todo, 'Retry estimate', refresh));
      break;
    default:
      if (todo.estimate) box.append('Estimate: ', h('span', { text: todo.estimate }));
  }
  // A reopened task keeps its recorded duration (nothing saved is lost),
  // but it is not "took" any more until it is done again.
  if (todo.actual_minutes && todo.complete) box.append(h('span', { class: 'took', text: `Took ${workload.formatMinutes(todo.actual_minutes)}` }));
  return box;
}

/** Tasks per page of the list. */
const PAGE = 50;

/** A tenant page the user cannot open (it does not exist, or they are not,
 * or no longer, a member): a way out instead of "Loading…". */
function unavailable() {
  show(h('h1', { text: 'This tenant is not available' }),
    h('p', { class: 'card', text: 'It does not exist, or you are not (or no longer) one of its members.' }),
    h('p', {}, h('a', { href: '/tenants', 'data-link': true, text: 'Go to your tenants' })));
}

async function todosView(tenantId) {
  const [tenant, tenants] = await Promise.all([
    attempt(() => api('GET', `/api/tenants/${tenantId}`)),
    attempt(() => api('GET', '/api/tenants?limit=1000')),
  ]);
  if (!tenant || !tenants) { unavailable(); return; }
  const base = `/api/tenants/${tenantId}/todos`;
  let filter = 'all';
  let search = null; // the query whose results are shown, or null: the list
  const list = h('ul', { class: 'todos', 'aria-label': 'Tasks' });
  let order = 'newest'; // or 'shortest': by estimate, unestimated last
  // "What fits" names a task: show it in the list and focus it.
  const header = workload.workloadSection(base, {
    accuracyHref: `/tenants/${tenantId}/accuracy`,
    openTask: (id) => {
      const row = list.querySelector(`li[data-id="${id}"]`);
      row?.scrollIntoView({ block: 'center' });
      row?.querySelector('input[type=checkbox]')?.focus();
    },
  });

  // "Done (3)", a button that folds the done tasks away and back.
  const DONE_FOLDED = 'aswan.doneFolded';
  const doneHead = (items) => {
    const folded = localStorage.getItem(DONE_FOLDED) === '1';
    for (const li of items) li.hidden = folded;
    const button = h('button', {
      type: 'button', class: 'link', 'aria-expanded': String(!folded), text: `Done (${items.length})`,
      onclick: () => {
        const fold = button.getAttribute('aria-expanded') === 'true';
        localStorage.setItem(DONE_FOLDED, fold ? '1' : '0');
        button.setAttribute('aria-expanded', String(!fold));
        for (const li of items) li.hidden = fold;
      },
    });
    return h('li', { class: 'done-head' }, button);
  };

  // The list arrives a page at a time: more loads as the user scrolls to its
  // end. A refresh reloads as many tasks as are shown.
  let shown = PAGE;
  let observer = null;
  const moreItem = (next) => {
    const button = h('button', { type: 'button', class: 'link', text: 'Load more tasks' });
    const li = h('li', { class: 'more' }, button);
    let loading = false;
    const load = async () => {
      if (loading) return;
      loading = true;
      const page = await attempt(() => apiPage(next));
      if (page === undefined) { loading = false; return; }
      observer?.disconnect();
      li.replaceWith(...page.items.map((t) => todoItem(t, base, refresh)), ...(page.next ? [moreItem(page.next)] : []));
      shown += page.items.length;
    };
    button.addEventListener('click', load);
    observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) load(); });
    observer.observe(li);
    return li;
  };

  const refresh = async () => {
    clearTimeout(pollTimer);
    if (search) return runSearch();
    // The basis is opt-in on lists (BENCHMARKS.md); this list shows it.
    const params = new URLSearchParams({ limit: String(Math.min(shown, 1000)), include: 'basis' });
    if (filter !== 'all') params.set('complete', String(filter === 'done'));
    const page = await attempt(() => apiPage(`${base}?${params}`));
    if (page === undefined) return;
    const todos = order === 'shortest'
      ? [...page.items].sort((a, b) => (a.estimate_minutes ?? Infinity) - (b.estimate_minutes ?? Infinity))
      : page.items;
    observer?.disconnect();
    // Open tasks first; done ones after them, under a heading that folds
    // them away (remembered across visits).
    const open = todos.filter((t) => !t.complete);
    const done = todos.filter((t) => t.complete);
    const doneItems = done.map((t) => todoItem(t, base, refresh));
    list.replaceChildren(...open.map((t) => todoItem(t, base, refresh)),
      ...(open.length && done.length ? [doneHead(doneItems)] : []), ...doneItems);
    if (page.next) list.append(moreItem(page.next));
    if (!todos.length) {
      list.append(h('li', { class: 'empty', text: filter === 'all' ? 'No tasks yet. Add the first one above.' : 'Nothing here.' }));
    }
    if (todos.some((t) => t.estimate_status === 'pending')) pollTimer = setTimeout(refresh, 1500);
    header.render();
  };

  const title = h('input', { id: 'new-todo', type: 'text', required: true, maxlength: '256', placeholder: 'What needs doing?', autocomplete: 'off' });
  const add = h('form', {
    class: 'row',
    onsubmit: async (e) => {
      e.preventDefault();
      const text = title.value;
      title.value = '';
      const created = await attempt(() => api('POST', base, { title: text }));
      if (created === undefined) title.value = text;
      await refresh();
      title.focus();
    },
  }, h('label', { for: 'new-todo', class: 'sr-only', text: 'New task' }), h('div', { class: 'grow' }, title),
  h('button', { class: 'primary', type: 'submit', text: 'Add' }));

  const filters = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show' });
  for (const [key, label] of [['all', 'All'], ['open', 'Open'], ['done', 'Done']]) {
    filters.append(h('button', {
      type: 'button', 'aria-pressed': String(key === filter), text: label,
      onclick: (e) => {
        filter = key;
        shown = PAGE;
        for (const b of filters.children) b.setAttribute('aria-pressed', String(b === e.currentTarget));
        search = null;
        refresh();
      },
    }));
  }

  const sorter = h('div', { class: 'filters', role: 'group', 'aria-label': 'Order' });
  for (const [key, label] of [['newest', 'Newest first'], ['shortest', 'Shortest first']]) {
    sorter.append(h('button', {
      type: 'button', 'aria-pressed': String(key === order), text: label,
      onclick: (e) => {
        order = key;
        for (const b of sorter.children) b.setAttribute('aria-pressed', String(b === e.currentTarget));
        refresh();
      },
    }));
  }

  const q = h('input', { id: 'search', type: 'search', placeholder: 'Search tasks', maxlength: '256' });
  // Back to the whole list: the field emptied (its × or Escape), or the button.
  const endSearch = () => { if (search === null) return; q.value = ''; search = null; refresh(); };
  q.addEventListener('search', () => { if (!q.value.trim()) endSearch(); });
  q.addEventListener('keydown', (e) => { if (e.key === 'Escape') endSearch(); });
  // The results are the tasks themselves (complete, edit, time them), as in
  // the list; an action runs the search again.
  const runSearch = async () => {
    const query = search;
    const hits = await attempt(() => api('GET', `${base}/search?q=${encodeURIComponent(query)}`));
    if (hits === undefined || search !== query) return;
    const todos = (await Promise.all(hits.map((hit) => api('GET', `${base}/${hit.id}`).catch(() => null)))).filter(Boolean);
    if (search !== query) return;
    const back = h('button', { type: 'button', class: 'link', text: 'Back to all tasks', onclick: endSearch });
    const head = h('li', { class: 'search-head' },
      h('span', { text: todos.length ? `${todos.length} ${todos.length === 1 ? 'task matches' : 'tasks match'} “${query}”` : `No task matches “${query}”.` }), ' ', back);
    list.replaceChildren(head, ...todos.map((t) => todoItem(t, base, refresh)));
  };
  const searchForm = h('form', {
    class: 'row grow', role: 'search',
    onsubmit: async (e) => {
      e.preventDefault();
      if (!q.value.trim()) { endSearch(); return; }
      search = q.value.trim();
      observer?.disconnect();
      await runSearch();
    },
  }, h('label', { for: 'search', class: 'sr-only', text: 'Search tasks' }), h('div', { class: 'grow' }, q));

  // A menu of links, not a <select> that switches on every arrow key.
  const others = tenants.filter((t) => t.id !== tenantId);
  const switcher = others.length ? h('details', { class: 'switcher' },
    h('summary', { text: 'Switch tenant' }),
    h('ul', {}, others.map((t) => h('li', {}, h('a', { href: `/tenants/${t.id}`, 'data-link': true, text: t.name }))))) : null;

  show(
    h('div', { class: 'row' }, h('h1', { class: 'grow', text: tenant.name }), switcher),
    h('p', { class: 'row' }, h('a', { href: `/tenants/${tenantId}/members`, 'data-link': true, text: 'Members' }),
      tenant.role === 'owner' ? h('a', { href: `/tenants/${tenantId}/settings`, 'data-link': true, text: 'Settings' }) : null),
    header.element,
    add,
    h('div', { class: 'row spaced' }, filters, sorter, searchForm),
    list,
  );
  // Work starts at the add field, also while the list loads.
  title.focus();
  await timer.load();
  await refresh();
  if (!main.contains(document.activeElement) || document.activeElement === main) title.focus();
}

/** After an action on a task re-rendered the list: the focus goes back to
 * that task (its checkbox), not to the page's body. */
function refocus(id) {
  const box = document.querySelector(`li.todo[data-id="${id}"] input[type=checkbox]`);
  if (box && (document.activeElement === document.body || !document.activeElement)) box.focus();
}

function todoItem(todo, base, refresh) {
  const path = `${base}/${todo.id}`;
  const li = h('li', { class: `todo${todo.complete ? ' done' : ''}`, 'data-id': todo.id });
  const titleEl = h('span', { class: 'title', title: todo.title, text: todo.title });
  const check = h('input', {
    type: 'checkbox', checked: todo.complete, 'aria-label': `Done: ${todo.title}`,
    onchange: async () => {
      const updated = await attempt(() => api('PATCH', path, { complete: check.checked }));
      if (updated === undefined) { check.checked = !check.checked; return; }
      // Done while timed: the timer stops and its time is proposed.
      const timed = check.checked && timer.isRunning(todo.id) ? await timer.stop() : null;
      if (check.checked) {
        keys.toast(`Completed “${todo.title}”.`, {
          undo: async () => { await attempt(() => api('PATCH', path, { complete: false })); await refresh(); refocus(todo.id); },
        });
        askDuration(li, path, refresh, timed);
      } else refresh();
    },
  });
  const edit = () => {
    const input = h('input', { type: 'text', value: todo.title, maxlength: '256', 'aria-label': 'Edit title' });
    // One ending per edit: Enter or leaving the field saves, Escape does
    // not. The refresh that follows removes the field, which blurs it: that
    // blur must not save again (or save what Escape discarded).
    let ended = false;
    const end = async (keep) => {
      if (ended) return;
      ended = true;
      if (keep && input.value.trim() && input.value !== todo.title) {
        await attempt(() => api('PATCH', path, { title: input.value }));
      }
      await refresh();
      refocus(todo.id);
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); end(true); }
      if (e.key === 'Escape') { e.preventDefault(); end(false); }
    });
    input.addEventListener('blur', () => end(true));
    titleEl.replaceWith(input);
    input.focus();
    input.select();
  };
  titleEl.addEventListener('dblclick', edit);
  // One line per task: done box, title, estimate (its words, cut to fit;
  // the similar tasks behind it a click away), the actions.
  li.append(check, titleEl, estimateView(todo, refresh), h('span', { class: 'actions' },
    timer.control(todo, path, refresh),
    h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${todo.title}`, 'data-action': 'edit', onclick: edit }),
    h('button', {
      type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete ${todo.title}`, 'data-action': 'delete',
      // No confirm(): the row goes at once, and the toast's Undo brings it
      // back; the DELETE is sent when the toast goes (keepalive: also when
      // the page is left meanwhile).
      onclick: () => {
        const [parent, next] = [li.parentNode, li.nextSibling];
        const neighbour = li.nextElementSibling?.matches('li.todo') ? li.nextElementSibling : li.previousElementSibling;
        li.remove();
        if (neighbour?.matches('li.todo')) neighbour.querySelector('input[type=checkbox]')?.focus();
        keys.toast(`Deleted “${todo.title}”.`, {
          commit: () => {
            fetch(path, { method: 'DELETE', credentials: 'same-origin', keepalive: true })
              .then((res) => { if (!res.ok && res.status !== 404) say('The task could not be deleted.'); })
              .catch(() => say('The task could not be deleted.'))
              .finally(() => { if (parent.isConnected) refresh(); });
          },
          undo: () => { parent.insertBefore(li, next); refocus(todo.id); li.querySelector('input[type=checkbox]')?.focus(); },
        });
      },
    })));
  return li;
}

/** After completing a task: "how long did it take?" (optional). */
/** Minutes from a duration as people type it: `90` (minutes), `1.5h`,
 * `1h30`, `1 h 30 min`, `45m`, `2 days` (working days of 8 h); null if it
 * is not one. Fractions round to the nearest minute. */
function parseDuration(text) {
  const t = text.trim().toLowerCase().replace(',', '.');
  const num = '(\\d+(?:\\.\\d+)?)';
  let m;
  if ((m = t.match(new RegExp(`^${num}\\s*(?:m|min|mins|minutes?)?$`)))) return Math.round(Number(m[1]));
  if ((m = t.match(new RegExp(`^${num}\\s*(?:h|hr|hrs|hours?)\\s*(?:(\\d+)\\s*(?:m|min|mins|minutes?)?)?$`)))) {
    return Math.round(Number(m[1]) * 60 + Number(m[2] || 0));
  }
  if ((m = t.match(new RegExp(`^${num}\\s*(?:d|days?)$`)))) return Math.round(Number(m[1]) * 8 * 60);
  return null;
}

function askDuration(li, path, refresh, timed = null) {
  const minutes = h('input', { id: `took-${li.dataset.id}`, type: 'text', inputmode: 'decimal', autocomplete: 'off',
    class: 'minutes', placeholder: '90, 1.5h, 1h30, 45m', 'aria-describedby': `took-hint-${li.dataset.id}`,
    value: timed ? String(timed) : undefined });
  const hint = h('span', { id: `took-hint-${li.dataset.id}`, class: 'muted', 'aria-live': 'polite',
    text: timed ? `The timer ran ${timed} min: save it, or type another time.` : undefined });
  const form = h('form', {
    class: 'row estimate took',
    onsubmit: async (e) => {
      e.preventDefault();
      if (minutes.value.trim()) {
        const value = parseDuration(minutes.value);
        if (value === null || value < 1 || value > 14400) {
          hint.textContent = 'Type a duration like 90, 1.5h, 1h30 or 45m (at most 30 working days).';
          minutes.focus();
          return;
        }
        await attempt(() => api('PATCH', path, { complete: true, actual_minutes: value }));
        // Similar open tasks are re-estimated from this duration; with a
        // vendor that starts in the background, so look once more shortly
        // (the list polls on its own while any estimate is pending).
        setTimeout(() => { if (document.querySelector('ul.todos')) refresh(); }, 2000);
      }
      await refresh();
      refocus(li.dataset.id);
    },
  }, h('label', { for: minutes.id, text: 'How long did it take? (minutes)' }), minutes,
  h('button', { type: 'submit', text: 'Save' }), h('button', { type: 'button', text: 'Skip', onclick: async () => { await refresh(); refocus(li.dataset.id); } }), hint);
  li.append(form);
  minutes.focus();
}

async function membersView(tenantId) {
  const [tenant, members] = await Promise.all([
    attempt(() => api('GET', `/api/tenants/${tenantId}`)),
    attempt(() => api('GET', `/api/tenants/${tenantId}/members?limit=1000`)),
  ]);
  if (!tenant || !members) { unavailable(); return; }
  const owner = tenant.role === 'owner';
  const base = `/api/tenants/${tenantId}/members`;
  const again = () => membersView(tenantId);
  const rows = members.map((m) => {
    const self = m.user_id === me.id;
    const role = owner
      ? h('select', {
        'aria-label': `Role of ${m.email}`,
        // A keyboard arrow changes a <select> at once: confirm first.
        onchange: async (e) => {
          const role = e.target.value;
          if (!confirm(`Make ${m.email} ${role === 'owner' ? 'an owner' : 'a member'}?`)) { e.target.value = m.role; return; }
          await attempt(() => api('PATCH', `${base}/${m.user_id}`, { role }));
          again();
        },
      }, ['owner', 'member'].map((r) => h('option', { value: r, selected: r === m.role, text: r })))
      : h('span', { text: m.role });
    const remove = (owner || self) ? h('button', {
      type: 'button', class: 'danger', text: self ? 'Leave' : 'Remove', 'aria-label': self ? 'Leave this tenant' : `Remove ${m.email}`,
      onclick: async () => {
        if (!confirm(self ? 'Leave this tenant?' : `Remove ${m.email}?`)) return;
        const ok = await attempt(() => api('DELETE', `${base}/${m.user_id}`));
        if (ok === undefined) return;
        if (self) navigate('/tenants'); else again();
      },
    }) : null;
    return h('tr', {}, h('td', { class: 'email' }, ...emailParts(m.email)), h('td', {}, role), h('td', { text: new Date(m.joined_at).toLocaleDateString() }), h('td', {}, remove));
  });
  const table = h('table', {}, h('thead', {}, h('tr', {}, ['Email', 'Role', 'Joined', ''].map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows));
  const invitations = owner ? await account.invitationsSection(tenantId) : null;
  show(
    h('h1', {}, 'Members of ', h('span', { text: tenant.name })),
    h('p', {}, h('a', { href: `/tenants/${tenantId}`, 'data-link': true, text: '← Back to tasks' })),
    h('div', { class: 'card scroll' }, table),
    owner ? invitations : h('p', { class: 'muted', text: 'Only owners can invite or remove members.' }),
  );
}

/** An email as text with line-break opportunities before the @ and after
 * each dot, where a narrow screen may wrap it. */
function emailParts(email) {
  return email.split(/(?=@)|(?<=\.)/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

// ---- start -------------------------------------------------------------------

account.init({
  h, api, attempt, show, say, navigate, unavailable,
  getMe: () => me,
  setMe: (user) => { me = user; renderNav(); },
});
workload.init({ h, api, attempt });
timer.init({ h, api, attempt });
accuracy.init({ h, api, attempt, show, unavailable });
keys.init({ h });

(async () => {
  try {
    me = await api('GET', '/api/me');
  } catch {
    me = null;
  }
  render();
})();
