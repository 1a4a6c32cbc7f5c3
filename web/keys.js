// Keyboard shortcuts on a tenant's tasks, and the undo toast.
//
// Shortcuts (never while typing in a field, never with Ctrl/Alt/Meta):
//   n new task · / search · j / k next / previous task · x complete or
//   reopen · e edit · Delete delete (with undo) · ? these shortcuts.
// The toast says what just happened, with an Undo button, for a few
// seconds; it is announced politely to screen readers.

let ui;

/** Called once by app.js with its helpers. */
export function init(helpers) {
  ui = helpers;
  document.addEventListener('keydown', onKey);
}

export const SHORTCUTS = [
  ['n', 'add a new task'],
  ['/', 'search tasks'],
  ['j / k', 'next / previous task'],
  ['x', 'complete or reopen the task'],
  ['e', 'edit its title'],
  ['Delete', 'delete it (with undo)'],
  ['?', 'show or hide these shortcuts'],
];

/** A field that takes typed text (a checkbox or a button does not). */
const typing = (el) => el instanceof HTMLElement && (el.isContentEditable || ['TEXTAREA', 'SELECT'].includes(el.tagName)
  || (el.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(el.type)));

function tasks() {
  return [...document.querySelectorAll('ul.todos li.todo')];
}

function current() {
  return document.activeElement?.closest?.('ul.todos li.todo') ?? null;
}

function focusTask(li) {
  if (!li) return;
  li.querySelector('input[type=checkbox]')?.focus();
  li.scrollIntoView({ block: 'nearest' });
}

function toggleHelp() {
  const { h } = ui;
  const open = document.getElementById('shortcuts');
  if (open) { open.remove(); return; }
  const list = document.querySelector('ul.todos');
  if (!list) return;
  const help = h('section', { id: 'shortcuts', class: 'card', 'aria-labelledby': 'shortcuts-title' },
    h('h2', { id: 'shortcuts-title', text: 'Keyboard shortcuts' }),
    h('dl', { class: 'shortcuts' }, SHORTCUTS.flatMap(([key, what]) => [h('dt', {}, h('kbd', { text: key })), h('dd', { text: what })])),
    h('button', { type: 'button', text: 'Close', onclick: () => { help.remove(); } }));
  list.before(help);
  help.querySelector('button').focus();
}

function onKey(e) {
  if (e.ctrlKey || e.altKey || e.metaKey || typing(e.target)) return;
  if (!document.querySelector('ul.todos')) return;
  const here = current();
  const all = tasks();
  const act = (fn) => { e.preventDefault(); fn(); };
  switch (e.key) {
    case 'n': return act(() => document.getElementById('new-todo')?.focus());
    case '/': return act(() => document.getElementById('search')?.focus());
    case '?': return act(toggleHelp);
    case 'j': return act(() => focusTask(here ? all[all.indexOf(here) + 1] ?? here : all[0]));
    case 'k': return act(() => focusTask(here ? all[all.indexOf(here) - 1] ?? here : all[0]));
    case 'x': if (here) act(() => here.querySelector('input[type=checkbox]')?.click()); return undefined;
    case 'e': if (here) act(() => here.querySelector('button[data-action=edit]')?.click()); return undefined;
    case 'Delete': if (here) act(() => here.querySelector('button[data-action=delete]')?.click()); return undefined;
    default: return undefined;
  }
}

// ---- the undo toast ----------------------------------------------------------

let toastTimer = null;
let pending = null; // the action the toast is holding back, if any

/** Runs the held-back action now (a new toast, or leaving the page). */
function settle() {
  clearTimeout(toastTimer);
  const run = pending;
  pending = null;
  document.getElementById('toast')?.remove();
  run?.();
}

addEventListener('pagehide', settle);

/**
 * Shows `message` with an Undo button for `ms`. `commit` runs when the
 * toast goes (time out, or another toast); `undo` instead of it if Undo is
 * pressed. Either may be null.
 */
export function toast(message, { commit = null, undo = null, ms = 6000 } = {}) {
  const { h } = ui;
  settle();
  pending = commit;
  const box = h('div', { id: 'toast', class: 'toast', role: 'status', 'aria-live': 'polite' },
    h('span', { text: message }),
    undo ? h('button', {
      type: 'button', text: 'Undo',
      onclick: async () => {
        clearTimeout(toastTimer);
        pending = null;
        box.remove();
        await undo();
      },
    }) : null);
  document.body.append(box);
  toastTimer = setTimeout(settle, ms);
}
