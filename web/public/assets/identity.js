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
 * The sign-in form for `mode`: a local user picker (name + role; for a patient the name is the
 * patient id) or a bearer token with the role it was issued for. Calls `onSignedIn(identity)`.
 */
export function signInForm({ mode, roles = ROLES, defaultRole = roles[0], onSignedIn }) {
  const heading = el('h1', { id: 'sign-in-title' }, mode === 'token' ? 'Sign in' : 'Choose a local user');
  const intro = el(
    'p',
    {},
    mode === 'token'
      ? 'This connector requires a bearer token (ask your administrator for one: connector token add).'
      : 'This connector runs on your computer and trusts the user you pick here. For a patient, the name is the patient id.',
  );
  const roleField = field({
    label: 'Role',
    name: 'role',
    type: 'select',
    value: defaultRole,
    options: roles.map((role) => ({ value: role, label: role })),
  });
  const nameField =
    mode === 'token'
      ? field({ label: 'Bearer token', name: 'token', type: 'password', hint: 'Kept only in this browser tab.' })
      : field({ label: 'Name (patient id for a patient)', name: 'user', value: '' });
  const error = el('p', { class: 'form-error', role: 'alert', hidden: '' });
  const form = el(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title', novalidate: '' },
    heading,
    intro,
    nameField,
    roleField,
    error,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const role = String(data.get('role'));
    const secret = String(data.get(mode === 'token' ? 'token' : 'user') || '').trim();
    if (!secret) {
      error.hidden = false;
      error.textContent = mode === 'token' ? 'Enter your token.' : 'Enter a name.';
      form.querySelector('input').focus();
      return;
    }
    const identity =
      mode === 'token' ? { mode, token: secret, role, user: `${role} (token)` } : { mode, user: secret, role };
    saveIdentity(identity);
    onSignedIn(identity);
  });
  return form;
}
