// How good the estimates are: a tenant's estimated vs actual durations as a
// chart (inline SVG drawn here, log scales, the diagonal = spot on), the
// median error and its trend, and the worst misses (GET …/todos/accuracy).
// The helpers come from app.js (`ui`); every title goes in as text.

import { formatMinutes } from './workload.js';

let ui;

/** Called once by app.js with its helpers. */
export function init(helpers) {
  ui = helpers;
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element (attributes only; text through `text`). */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') el.textContent = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) if (c) el.append(c);
  return el;
}

const TICKS = [5, 15, 30, 60, 120, 240, 480, 960, 2400, 4800];

/** The scatter plot: estimate (x) against actual (y), both on log scales. */
function chart(points) {
  const W = 360; const H = 300; const pad = 44;
  const values = points.flatMap((p) => [p.estimate_minutes, p.actual_minutes]);
  const lo = Math.log(Math.max(1, Math.min(...values) / 1.5));
  const hi = Math.log(Math.max(...values) * 1.5);
  const x = (m) => pad + ((Math.log(m) - lo) / (hi - lo)) * (W - pad - 10);
  const y = (m) => H - pad - ((Math.log(m) - lo) / (hi - lo)) * (H - pad - 10);
  const ticks = TICKS.filter((t) => Math.log(t) >= lo && Math.log(t) <= hi);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'accuracy-chart-title', class: 'chart' },
    s('title', { id: 'accuracy-chart-title', text: `Estimated against actual duration for ${points.length} timed tasks; points on the diagonal were spot on, above it took longer than estimated.` }),
    s('line', { x1: x(Math.exp(lo)), y1: y(Math.exp(lo)), x2: x(Math.exp(hi)), y2: y(Math.exp(hi)), class: 'diagonal' }),
    ticks.map((t) => [
      s('line', { x1: x(t), y1: H - pad, x2: x(t), y2: H - pad + 4, class: 'axis' }),
      s('text', { x: x(t), y: H - pad + 16, 'text-anchor': 'middle', class: 'tick', text: formatMinutes(t) }),
      s('line', { x1: pad - 4, y1: y(t), x2: pad, y2: y(t), class: 'axis' }),
      s('text', { x: pad - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick', text: formatMinutes(t) }),
    ]),
    s('line', { x1: pad, y1: H - pad, x2: W - 10, y2: H - pad, class: 'axis' }),
    s('line', { x1: pad, y1: 10, x2: pad, y2: H - pad, class: 'axis' }),
    s('text', { x: (W + pad) / 2, y: H - 6, 'text-anchor': 'middle', class: 'label', text: 'estimated' }),
    s('text', { x: 12, y: (H - pad) / 2, 'text-anchor': 'middle', class: 'label', transform: `rotate(-90 12 ${(H - pad) / 2})`, text: 'took' }),
    points.map((p) => s('circle', { cx: x(p.estimate_minutes), cy: y(p.actual_minutes), r: 4, class: 'point' },
      s('title', { text: `${p.title}: estimated ${formatMinutes(p.estimate_minutes)}, took ${formatMinutes(p.actual_minutes)}` }))));
  return svg;
}

const pct = (v) => `${Math.round(v)} %`;

export async function accuracyView(tenantId) {
  const { h, api, attempt, show, unavailable } = ui;
  const [tenant, a] = await Promise.all([
    attempt(() => api('GET', `/api/tenants/${tenantId}`)),
    attempt(() => api('GET', `/api/tenants/${tenantId}/todos/accuracy`)),
  ]);
  if (!tenant || !a) { unavailable(); return; }
  const back = h('p', {}, h('a', { href: `/tenants/${tenantId}`, 'data-link': true, text: `Back to ${tenant.name}'s tasks` }));
  if (!a.tasks) {
    show(h('h1', { text: 'How good are the estimates?' }), back,
      h('p', { class: 'card empty', text: 'No timed task with an estimate yet. Record how long tasks take when you complete them, and this page will compare.' }));
    return;
  }
  const ratio = a.median_ratio;
  const lean = ratio > 1.05 ? `tasks take ${pct((ratio - 1) * 100)} longer than estimated` : ratio < 0.95 ? `tasks take ${pct((1 - ratio) * 100)} less than estimated` : 'estimates are neither long nor short';
  const summary = h('p', { class: 'totals', role: 'status', text: `Median error ${pct(a.median_error_percent)} over the last ${a.tasks} timed ${a.tasks === 1 ? 'task' : 'tasks'}; typically ${lean}.` });
  const trend = a.trend.length > 1
    ? h('p', { text: `Trend, ${a.trend[0].tasks >= 10 ? 'ten tasks at a time' : 'by group'}, oldest first: ${a.trend.map((t) => pct(t.median_error_percent)).join(' → ')}.` })
    : null;
  const worst = h('section', { 'aria-labelledby': 'worst-misses' },
    h('h2', { id: 'worst-misses', text: 'Worst misses' }),
    h('table', { class: 'misses' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Task' }), h('th', { text: 'Estimated' }), h('th', { text: 'Took' }))),
      h('tbody', {}, a.worst.map((p) => h('tr', {},
        h('td', { text: p.title }), h('td', { text: formatMinutes(p.estimate_minutes) }), h('td', { text: formatMinutes(p.actual_minutes) }))))));
  show(...[h('h1', { text: 'How good are the estimates?' }), back, summary, trend, h('figure', { class: 'card' }, chart(a.points)), worst].filter(Boolean));
}
