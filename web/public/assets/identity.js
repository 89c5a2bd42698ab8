// Who the browser acts as, until real sign-in lands: on loopback a "local user" (name + role sent
// as x-connector-user / x-connector-role), with `connector serve --tokens` a bearer token.
// Kept in sessionStorage only (name, role or token): never patient data, never localStorage.

import { el, field } from './ui.js';

const KEY = 'connector.identity';

/** The roles the API knows. */
export const ROLES = ['staff', 'admin', 'patient'];

/** The identity of this tab ({ mode: 'local'|'token', user, role, token? }), or null. */
export function loadIdentity() {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return value && ROLES.includes(value.role) ? value : null;
  } catch {
    return null;
  }
}

/** Remembers `identity` for this tab. */
export function saveIdentity(identity) {
  sessionStorage.setItem(KEY, JSON.stringify(identity));
}

/** Forgets this tab's identity. */
export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** The request headers that carry `identity`. */
export function headersFor(identity) {
  if (!identity) return {};
  if (identity.mode === 'token') return { authorization: `Bearer ${identity.token}` };
  return { 'x-connector-user': identity.user, 'x-connector-role': identity.role };
}

/**
 * 'token' when the API wants a bearer token (it answers 401 to a request without one; on loopback
 * without --tokens it trusts headers and answers anything but 401), else 'local'.
 */
export async function detectMode(baseUrl = '') {
  try {
    const response = await fetch(`${baseUrl}/me/consents`, { headers: { accept: 'application/json' } });
    return response.status === 401 ? 'token' : 'local';
  } catch {
    return 'local';
  }
}

/**
 * The role a bearer token stands for, asked of the API: null when it refuses the token (401).
 * A patient may read /me/consents; an admin /settings/hie; anyone else is staff.
 */
export async function roleOfToken(token, baseUrl = '') {
  const status = async (path) =>
    (await fetch(`${baseUrl}${path}`, { headers: { accept: 'application/json', authorization: `Bearer ${token}` } })).status;
  const mine = await status('/me/consents');
  if (mine === 401) return null;
  if (mine < 400 || mine === 404) return 'patient';
  return (await status('/settings/hie')) < 400 ? 'admin' : 'staff';
}

/**
 * The sign-in form for `mode`: a local user picker (name + role; for a patient the name is the
 * patient id) or a bearer token (its role asked of the API). Calls `onSignedIn(identity)`.
 */
export function signInForm({ mode, roles = ROLES, defaultRole = roles[0], onSignedIn }) {
  const token = mode === 'token';
  const heading = el('h1', { id: 'sign-in-title' }, token ? 'Sign in' : 'Choose a local user');
  const intro = el(
    'p',
    {},
    token
      ? 'This connector requires a bearer token (an administrator creates one with connector token add).'
      : 'This connector runs on your computer and trusts the user you pick here. For a patient, the name is the patient id.',
  );
  const inputs = token
    ? [field({ label: 'Bearer token', name: 'token', type: 'password', hint: 'Kept only in this browser tab.' })]
    : [
        field({ label: 'Name (patient id for a patient)', name: 'user', value: '' }),
        field({ label: 'Role', name: 'role', type: 'select', value: defaultRole, options: roles.map((r) => ({ value: r, label: r })) }),
      ];
  const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = el(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title', novalidate: true },
    heading,
    intro,
    inputs,
    error,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  );
  const fail = (message) => {
    error.hidden = false;
    error.textContent = message;
    form.querySelector('input').focus();
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const secret = String(data.get(token ? 'token' : 'user') || '').trim();
    if (!secret) return fail(token ? 'Enter your token.' : 'Enter a name.');
    let identity;
    if (token) {
      let role;
      try {
        role = await roleOfToken(secret);
      } catch {
        return fail('The connector cannot be reached.');
      }
      if (!role) return fail('The connector does not accept this token.');
      if (!roles.includes(role)) return fail(`This token is for a ${role} user; this page is for ${roles.join(' or ')} users.`);
      identity = { mode, token: secret, role, user: `${role} (token)` };
    } else {
      identity = { mode, user: secret, role: String(data.get('role')) };
    }
    saveIdentity(identity);
    onSignedIn(identity);
    return undefined;
  });
  return form;
}
