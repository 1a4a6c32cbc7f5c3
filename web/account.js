// The account flows of the UI: the account page (password, sessions, API
// tokens, download my data, delete), invitations (send, copy, resend,
// revoke; the page an invitee opens), email verification, password resets,
// and a tenant's settings (rename, delete). The helpers come from app.js
// (`ui`), so that user text still goes through textContent only.

let ui;

/** Called once by app.js with its helpers. */
export function init(helpers) {
  ui = helpers;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : 'never');

function field(id, label, props = {}) {
  const { h } = ui;
  const input = h('input', { id, name: id, ...props });
  return [h('label', { for: id, text: label }), input, input];
}

// ---- the account page -------------------------------------------------------

export async function accountView() {
  const { h, api, attempt, show } = ui;
  const [user, sessions, tokens] = await Promise.all([
    attempt(() => api('GET', '/api/me')),
    attempt(() => api('GET', '/api/me/sessions')),
    attempt(() => api('GET', '/api/me/tokens')),
  ]);
  if (!user || !sessions || !tokens) return;
  const again = () => accountView();

  const verified = user.email_verified
    ? h('span', { class: 'badge ok', text: 'verified' })
    : h('span', {}, h('span', { class: 'badge', text: 'not verified' }), ' ',
      h('button', { type: 'button', class: 'link', text: 'Send the link again',
        onclick: async () => { const ok = await attempt(() => api('POST', '/api/me/verification')); if (ok !== undefined) ui.say('A new link is on its way to your mailbox.', 'info'); } }));

  // Password
  const [curLabel, , current] = field('current-password', 'Current password', { type: 'password', required: true, autocomplete: 'current-password' });
  const [newLabel, , next] = field('new-password', 'New password (8 characters or more)', { type: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
  const passwordForm = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api('POST', '/api/me/password', { current_password: current.value, new_password: next.value }));
    if (ok === undefined) return;
    current.value = ''; next.value = '';
    await again();
    ui.say('Your password is changed; every other session was signed out.', 'info');
  } }, curLabel, current, newLabel, next, h('p', {}, h('button', { class: 'primary', type: 'submit', text: 'Change password' })));

  // Sessions
  const sessionRows = sessions.map((s) => h('tr', {},
    h('td', {}, h('span', { text: s.user_agent || 'unknown browser' }), s.current ? h('span', { class: 'badge ok', text: 'this one' }) : null),
    h('td', { text: s.ip || '' }),
    h('td', { text: when(s.last_seen_at) }),
    h('td', {}, s.current ? null : h('button', { type: 'button', class: 'danger', text: 'Sign out', 'aria-label': `Sign out the session seen ${when(s.last_seen_at)}`,
      onclick: async () => { const ok = await attempt(() => api('DELETE', `/api/me/sessions/${s.id}`)); if (ok !== undefined) again(); } }))));
  const everywhere = h('button', { type: 'button', class: 'danger', text: 'Log out everywhere',
    onclick: async () => {
      if (!confirm('Sign out every browser, this one too?')) return;
      const ok = await attempt(() => api('DELETE', '/api/me/sessions'));
      if (ok === undefined) return;
      ui.setMe(null);
      await ui.navigate('/login');
      ui.say('Every session is signed out.', 'info');
    } });

  // API tokens
  const tokenRows = tokens.map((t) => h('tr', {},
    h('td', { text: t.name }), h('td', { text: when(t.created_at) }), h('td', { text: t.expires_at ? when(t.expires_at) : 'never' }),
    h('td', { text: when(t.last_used_at) }), h('td', { text: t.scope === 'read' ? 'Read only' : 'Read and write' }),
    h('td', {}, h('button', { type: 'button', class: 'danger', text: 'Revoke', 'aria-label': `Revoke the token ${t.name}`,
      onclick: async () => { if (!confirm(`Revoke the token "${t.name}"? Scripts using it stop working.`)) return; const ok = await attempt(() => api('DELETE', `/api/me/tokens/${t.id}`)); if (ok !== undefined) again(); } }))));
  const [tokLabel, , tokName] = field('token-name', 'Token name', { type: 'text', required: true, maxlength: '100', placeholder: 'CI' });
  const expiry = h('select', { id: 'token-expiry' }, [['30', '30 days'], ['90', '90 days'], ['365', '1 year'], ['', 'never']]
    .map(([v, t]) => h('option', { value: v, text: t })));
  const scope = h('select', { id: 'token-scope' }, [['write', 'Read and write'], ['read', 'Read only']]
    .map(([v, t]) => h('option', { value: v, text: t })));
  const shown = h('div', { id: 'new-token', 'aria-live': 'polite' });
  const tokenForm = h('form', { class: 'row', onsubmit: async (e) => {
    e.preventDefault();
    const body = { name: tokName.value, scope: scope.value };
    if (expiry.value) body.expires_in_days = Number(expiry.value);
    const made = await attempt(() => api('POST', '/api/me/tokens', body));
    if (!made) return;
    await again();
    const box = document.getElementById('new-token');
    box.replaceChildren(copyBox('new-token-value', 'Your new token (shown this once: copy it now)', made.token));
  } }, h('div', { class: 'grow' }, tokLabel, tokName), h('div', {}, h('label', { for: 'token-expiry', text: 'Expires' }), expiry),
  h('div', {}, h('label', { for: 'token-scope', text: 'Access' }), scope),
  h('button', { class: 'primary', type: 'submit', text: 'Create token' }));

  // Delete
  const [delLabel, , delPassword] = field('delete-password', 'Your password, to confirm', { type: 'password', required: true, autocomplete: 'current-password' });
  const deleteForm = h('form', { class: 'card danger-zone', onsubmit: async (e) => {
    e.preventDefault();
    if (!confirm('Delete your account for good? Tenants where you are the only member are deleted with it.')) return;
    const ok = await attempt(() => api('DELETE', '/api/me', { password: delPassword.value }));
    if (ok === undefined) return;
    ui.setMe(null);
    await ui.navigate('/signup');
    ui.say('Your account is deleted.', 'info');
  } }, h('p', { text: 'Deleting your account removes your sessions, tokens and memberships, and the tenants you are the only member of. You cannot while you are the last owner of a tenant with other members.' }),
  delLabel, delPassword, h('p', {}, h('button', { class: 'danger', type: 'submit', text: 'Delete my account' })));

  show(
    h('h1', { text: 'Your account' }),
    h('p', {}, h('span', { text: user.email }), ' ', verified),
    h('h2', { text: 'Password' }), passwordForm,
    h('h2', { text: 'Sessions' }),
    h('div', { class: 'card scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['Browser', 'IP', 'Last seen', ''].map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, sessionRows))),
    h('p', {}, everywhere),
    h('h2', { text: 'API tokens' }),
    h('p', { class: 'muted', text: 'For scripts: send a token as "Authorization: Bearer …". It acts as you (or, read only, only reads). Changing your password or logging out everywhere ends every token.' }),
    tokens.length
      ? h('div', { class: 'card scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Created', 'Expires', 'Last used', 'Access', ''].map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, tokenRows)))
      : h('p', { class: 'empty', text: 'No tokens yet.' }),
    tokenForm, shown,
    h('h2', { text: 'Your data' }),
    h('p', {}, h('a', { href: '/api/me/export', download: 'aswan-account.json', text: 'Download my data (JSON)' })),
    h('h2', { text: 'Delete your account' }), deleteForm,
  );
}

/** A read-only text field with a Copy button. */
function copyBox(id, label, value) {
  const { h } = ui;
  const input = h('input', { id, type: 'text', readonly: true, value });
  const copy = h('button', { type: 'button', text: 'Copy', onclick: async () => {
    input.select();
    try { await navigator.clipboard.writeText(value); copy.textContent = 'Copied'; } catch { copy.textContent = 'Select and copy'; }
  } });
  return h('div', { class: 'card' }, h('label', { for: id, text: label }), h('div', { class: 'row' }, h('div', { class: 'grow' }, input), copy));
}

// ---- invitations ------------------------------------------------------------

/** The owners' part of the members page: invite, and the pending list. */
export async function invitationsSection(tenantId) {
  const { h, api, attempt } = ui;
  const base = `/api/tenants/${tenantId}/invitations`;
  const pending = await attempt(() => api('GET', base));
  const section = h('section', { id: 'invitations' });
  const result = h('div', { 'aria-live': 'polite' });
  const fill = (list) => {
    const rows = (list || []).map((i) => h('tr', {},
      h('td', { class: 'email', text: i.email }), h('td', { text: i.role }), h('td', { text: when(i.expires_at) }),
      h('td', { class: 'actions' },
        h('button', { type: 'button', text: 'Resend', 'aria-label': `Resend the invitation to ${i.email}`,
          onclick: async () => { const sent = await attempt(() => api('POST', `${base}/${i.id}/resend`)); if (sent) shownLink(sent); } }),
        h('button', { type: 'button', class: 'danger', text: 'Revoke', 'aria-label': `Revoke the invitation to ${i.email}`,
          onclick: async () => { const ok = await attempt(() => api('DELETE', `${base}/${i.id}`)); if (ok !== undefined) refresh(); } }))));
    return rows.length
      ? h('div', { class: 'card scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['Invited', 'Role', 'Expires', ''].map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows)))
      : h('p', { class: 'empty', text: 'No pending invitations.' });
  };
  const listBox = h('div', {}, fill(pending));
  const refresh = async () => { const list = await attempt(() => api('GET', base)); if (list) listBox.replaceChildren(fill(list)); };
  const shownLink = (sent) => {
    result.replaceChildren(
      h('p', { class: 'info-note', text: sent.emailed ? `An invitation was mailed to ${sent.email}. You can also send them this link:` : `Send ${sent.email} this link (this server sends no mail). It works once, for 7 days, for whoever signs in with that address:` }),
      copyBox('invitation-link', 'Invitation link', sent.link));
    refresh();
  };
  const email = h('input', { id: 'invite-email', type: 'email', required: true, placeholder: 'teammate@example.com' });
  const role = h('select', { id: 'invite-role' }, h('option', { value: 'member', text: 'member' }), h('option', { value: 'owner', text: 'owner' }));
  const form = h('form', { class: 'row', onsubmit: async (e) => {
    e.preventDefault();
    const sent = await attempt(() => api('POST', base, { email: email.value, role: role.value }));
    if (!sent) return;
    email.value = '';
    shownLink(sent);
  } }, h('div', { class: 'grow' }, h('label', { for: 'invite-email', text: 'Email' }), email),
  h('div', {}, h('label', { for: 'invite-role', text: 'Role' }), role),
  h('button', { class: 'primary', type: 'submit', text: 'Invite' }));
  section.append(h('h2', { text: 'Invite someone' }), form, result, h('h2', { text: 'Pending invitations' }), listBox);
  return section;
}

/** `/invite/{token}`: what the invitee sees, and Join. */
export async function inviteView(token) {
  const { h, api, attempt, show } = ui;
  const path = `/api/invitations/${encodeURIComponent(token)}`;
  let invitation;
  try {
    invitation = await api('GET', path);
  } catch (e) {
    show(h('h1', { text: 'Invitation' }), h('p', { class: 'card', text: e.message }),
      h('p', {}, h('a', { href: '/tenants', 'data-link': true, text: 'Go to your tenants' })));
    return;
  }
  const me = ui.getMe();
  const mismatch = me.email !== invitation.email;
  const join = h('button', { class: 'primary', type: 'button', text: `Join ${invitation.tenant_name}`, onclick: async () => {
    const joined = await attempt(() => api('POST', `${path}/accept`));
    if (!joined) return;
    await ui.navigate(`/tenants/${joined.id}`);
    ui.say(`You joined ${joined.name} as ${joined.role}.`, 'info');
  } });
  show(
    h('h1', {}, 'Join ', h('span', { text: invitation.tenant_name })),
    h('div', { class: 'card' },
      h('p', {}, h('span', { text: invitation.invited_by || 'An owner' }), ' invites ', h('strong', { text: invitation.email }),
        ' to join ', h('strong', { text: invitation.tenant_name }), ` as ${invitation.role}.`),
      mismatch
        ? h('p', { class: 'warn' }, 'You are signed in as ', h('strong', { text: me.email }), '. Sign in with the invited address to join.')
        : h('p', {}, join)),
  );
}

// ---- email links --------------------------------------------------------------

export async function verifyEmailView(token) {
  const { h, api, show } = ui;
  try {
    await api('POST', '/api/verify-email', { token });
    if (ui.getMe()) ui.setMe(await api('GET', '/api/me'));
    show(h('h1', { text: 'Email confirmed' }), h('p', { class: 'card', text: 'Thank you: your address is verified.' }),
      h('p', {}, h('a', { href: '/', 'data-link': true, text: 'Continue' })));
  } catch (e) {
    show(h('h1', { text: 'Email not confirmed' }), h('p', { class: 'card', text: e.message }));
  }
}

export function forgotPasswordView() {
  const { h, api, attempt, show } = ui;
  const [label, , email] = field('email', 'Email', { type: 'email', required: true, autocomplete: 'email' });
  const form = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api('POST', '/api/password-reset', { email: email.value }));
    if (ok === undefined) return;
    show(h('h1', { text: 'Check your mailbox' }), h('p', { class: 'card', text: 'If an account has this address, a link to choose a new password is on its way. It works once, for 30 minutes.' }));
  } }, label, email, h('p', {}, h('button', { class: 'primary', type: 'submit', text: 'Send me a link' })));
  show(h('section', { class: 'auth' }, h('h1', { text: 'Forgot your password?' }), form,
    h('p', { class: 'muted' }, h('a', { href: '/login', 'data-link': true, text: 'Back to log in' }))));
  email.focus();
}

export function resetPasswordView(token) {
  const { h, api, attempt, show } = ui;
  const [label, , password] = field('password', 'New password (8 characters or more)', { type: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
  const form = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api('POST', '/api/password-reset/confirm', { token, password: password.value }));
    if (ok === undefined) return;
    ui.setMe(null);
    await ui.navigate('/login');
    ui.say('Your password is changed. Log in with it.', 'info');
  } }, label, password, h('p', {}, h('button', { class: 'primary', type: 'submit', text: 'Set the new password' })));
  show(h('section', { class: 'auth' }, h('h1', { text: 'Choose a new password' }), form));
  password.focus();
}

// ---- tenant settings -------------------------------------------------------------

export async function tenantSettingsView(tenantId) {
  const { h, api, attempt, show } = ui;
  const tenant = await attempt(() => api('GET', `/api/tenants/${tenantId}`));
  if (!tenant) { ui.unavailable(); return; }
  const back = h('p', {}, h('a', { href: `/tenants/${tenantId}`, 'data-link': true, text: '← Back to tasks' }));
  if (tenant.role !== 'owner') {
    show(h('h1', { text: `Settings of ${tenant.name}` }), back, h('p', { class: 'muted', text: 'Only owners can change a tenant\'s settings.' }));
    return;
  }
  const [nameLabel, , name] = field('tenant-rename', 'Name', { type: 'text', required: true, maxlength: '100', value: tenant.name });
  const rename = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api('PATCH', `/api/tenants/${tenantId}`, { name: name.value }));
    if (ok) { await tenantSettingsView(tenantId); ui.say('Renamed.', 'info'); }
  } }, nameLabel, name, h('p', {}, h('button', { class: 'primary', type: 'submit', text: 'Rename' })));
  const [confirmLabel, , typed] = field('tenant-delete-name', `Type "${tenant.name}" to confirm`, { type: 'text', required: true, autocomplete: 'off' });
  const del = h('form', { class: 'card danger-zone', onsubmit: async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api('DELETE', `/api/tenants/${tenantId}`, { name: typed.value }));
    if (ok === undefined) return;
    await ui.navigate('/tenants');
    ui.say(`${tenant.name} is deleted.`, 'info');
  } }, h('p', { text: 'Deleting the tenant removes its tasks, estimates, members and invitations for everyone. Export it first to keep a copy.' }),
  h('p', {}, h('a', { href: `/api/tenants/${tenantId}/export`, download: `tenant-${tenantId}.jsonl`, text: 'Export this tenant (JSON Lines)' })),
  confirmLabel, typed, h('p', {}, h('button', { class: 'danger', type: 'submit', text: 'Delete this tenant' })));
  show(h('h1', {}, 'Settings of ', h('span', { text: tenant.name })), back, h('h2', { text: 'Rename' }), rename, h('h2', { text: 'Delete' }), del);
}
