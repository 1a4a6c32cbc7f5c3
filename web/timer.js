// Timers in the UI: a "Start timer" button on each open task, the running
// one counting live ("Timing 12:34") with a Stop button; one per user, kept by
// the server (GET/DELETE /api/me/timer), so a reload finds it running.
// Completing the timed task stops it and proposes its time as the task's
// actual duration. The helpers come from app.js (`ui`).

let ui;
let running = null;   // the server's timer, with `since`: when we learnt its elapsed time
let ticker = null;

/** Called once by app.js with its helpers. */
export function init(helpers) {
  ui = helpers;
}

const clock = (seconds) => {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
};

const elapsed = () => (running ? running.elapsed_seconds + Math.floor((Date.now() - running.since) / 1000) : 0);

function tick() {
  for (const el of document.querySelectorAll('[data-timer-clock]')) el.textContent = `Timing ${clock(elapsed())}`;
}

function remember(timer) {
  running = timer ? { ...timer, since: Date.now() } : null;
  clearInterval(ticker);
  ticker = running ? setInterval(tick, 1000) : null;
}

/** Asks the server which timer runs (on opening a tenant's tasks). */
export async function load() {
  remember(await ui.attempt(() => ui.api('GET', '/api/me/timer')) ?? null);
}

/** Whether `todoId`'s timer is the running one. */
export const isRunning = (todoId) => running?.todo_id === todoId;

/** Stops the running timer; its minutes (at least 1), or null if none ran. */
export async function stop() {
  const stopped = await ui.attempt(() => ui.api('DELETE', '/api/me/timer'));
  remember(null);
  return stopped ? Math.max(1, Math.round(stopped.elapsed_seconds / 60)) : null;
}

/** The timer control for an open task: Start, or the live clock and Stop. */
export function control(todo, path, refresh) {
  const { h } = ui;
  if (todo.complete) return null;
  if (isRunning(todo.id)) {
    return h('span', { class: 'timer running' },
      h('span', { class: 'chip', 'data-timer-clock': true, role: 'timer', 'aria-label': `Time spent on ${todo.title}`, text: `Timing ${clock(elapsed())}` }),
      h('button', {
        type: 'button', text: 'Stop', 'aria-label': `Stop timer for ${todo.title}`,
        onclick: async () => { await stop(); await refresh(); },
      }));
  }
  return h('button', {
    type: 'button', class: 'timer', text: 'Timer', 'aria-label': `Start timer for ${todo.title}`,
    onclick: async () => {
      const timer = await ui.attempt(() => ui.api('POST', `${path}/timer`, {}));
      if (timer) remember(timer);
      await refresh();
    },
  });
}
