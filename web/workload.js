// The workload at a glance, above a tenant's list: how many tasks are
// open, the sum of their estimates, how many have none yet, and "what fits
// in" 30 min / 1 h / 2 h (GET …/todos/workload). The helpers come from
// app.js (`ui`), so that user text still goes through textContent only.

let ui;

/** Called once by app.js with its helpers. */
export function init(helpers) {
  ui = helpers;
}

/** Minutes as people say them: 45 min, 2 h, 1 h 30 min, 2 days (8 h days). */
export function formatMinutes(m) {
  if (m < 60) return `${m} min`;
  if (m < 8 * 60) return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
  const days = Math.round((m / 480) * 2) / 2;
  return days === 1 ? '1 day' : `${days} days`;
}

const CHOICES = [30, 60, 120];

/** The header section; `render()` reloads it (after every list refresh). */
export function workloadSection(base, { openTask, accuracyHref } = {}) {
  const { h, attempt, api } = ui;
  let fitsIn = null;
  const section = h('section', { class: 'workload', 'aria-label': 'Workload' });
  const render = async () => {
    const w = await attempt(() => api('GET', `${base}/workload${fitsIn ? `?fits=${fitsIn}` : ''}`));
    if (w === undefined) return;
    const parts = [`${w.open} open`];
    if (w.estimated) parts.push(`≈ ${formatMinutes(w.estimated_minutes)} of open work`);
    if (w.unestimated) parts.push(`${w.unestimated} without an estimate`);
    const totals = h('p', { class: 'totals', role: 'status', text: parts.join(' · ') });
    const buttons = CHOICES.map((m) => h('button', {
      type: 'button', 'aria-pressed': String(fitsIn === m), text: formatMinutes(m),
      onclick: () => { fitsIn = fitsIn === m ? null : m; render(); },
    }));
    const choose = h('div', { class: 'fits-in filters', role: 'group', 'aria-label': 'What fits in' },
      h('span', { text: 'What fits in' }), ...buttons);
    let fits = null;
    if (fitsIn && w.fits) {
      fits = w.fits.length
        ? h('ul', { class: 'fits', 'aria-label': `Open tasks that fit in ${formatMinutes(fitsIn)}` },
          w.fits.map((t) => h('li', {},
            h('button', { type: 'button', class: 'link', text: t.title, onclick: () => openTask?.(t.id) }),
            h('span', { class: 'chip', text: formatMinutes(t.estimate_minutes) }))))
        : h('p', { class: 'empty', text: `No open task with an estimate fits in ${formatMinutes(fitsIn)}.` });
    }
    const howGood = accuracyHref ? h('a', { href: accuracyHref, 'data-link': true, text: 'How good are the estimates?' }) : null;
    section.replaceChildren(...[h('div', { class: 'row spaced' }, totals, choose, howGood), fits].filter(Boolean));
  };
  return { element: section, render };
}
