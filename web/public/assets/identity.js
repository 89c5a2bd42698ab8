// Who the browser acts as: the single place that sets the API's credentials. The page reads
// config.json first (served beside it): `local` (loopback: a "local user" whose name and role are
// sent as x-connector-user / x-connector-role), `token` (connector serve --tokens: a bearer token)
// or `oidc` (sign-in at the clinic's OpenID Connect provider; the access token is the bearer token).
// Kept in sessionStorage only (name, role, token; the OIDC library's tokens): never patient data,
// never localStorage.

import { el, field } from './ui.js';
import { oidcSession } from './oidc.js';

const KEY = 'connector.identity';
const NOTICE = 'connector.notice';
/** What the sign-in screen says after the API refused this tab's credentials. */
export const REFUSED = 'The connector did not accept your sign-in (it may have ended). Sign in again.';

/** The roles the API knows. */
export const ROLES = ['staff', 'admin', 'patient'];

/** The saved identity of this tab ({ mode, user, role, token?, sub? }), or null. */
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

/** Forgets this tab's saved identity. */
export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** The request headers of a local or token identity. */
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
 * The page's configuration from `url` (config.json: { auth: 'local'|'token'|'oidc', api?, console?,
 * portal? }). A connector that serves none is asked which mode it is in (detectMode).
 */
export async function readConfig(url) {
  try {
    const response = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (response.ok) {
      const config = await response.json();
      if (['local', 'token', 'oidc'].includes(config.auth)) return config;
    }
  } catch {
    // No config.json: an older connector; fall through.
  }
  return { auth: await detectMode() };
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

/** The message left for the next sign-in screen (e.g. why the last session ended), once. */
function takeNotice() {
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  return notice;
}

function signInCard({ title, intro, body = [], notice, submitLabel = 'Sign in' }) {
  const error = el('p', { class: 'form-error', role: 'alert', hidden: !notice }, notice || '');
  const form = el(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title', novalidate: true },
    el('h1', { id: 'sign-in-title' }, title),
    el('p', {}, intro),
    body,
    error,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, submitLabel)),
  );
  const fail = (message) => {
    error.hidden = false;
    error.textContent = message;
    (form.querySelector('input') || form.querySelector('button')).focus();
  };
  return { form, fail };
}

/**
 * The sign-in form for `mode`: a local user picker (name + role; for a patient the name is the
 * patient id) or a bearer token (its role asked of the API). Calls `onSignedIn(identity)`.
 */
export function signInForm({ mode, roles = ROLES, defaultRole = roles[0], notice, apiBase = '', onSignedIn }) {
  const token = mode === 'token';
  const { form, fail } = signInCard({
    title: token ? 'Sign in' : 'Choose a local user',
    intro: token
      ? 'This connector requires a bearer token (an administrator creates one with connector token add).'
      : 'This connector runs on your computer and trusts the user you pick here. For a patient, the name is the patient id.',
    body: token
      ? [field({ label: 'Bearer token', name: 'token', type: 'password', hint: 'Kept only in this browser tab.' })]
      : [
          field({ label: 'Name (patient id for a patient)', name: 'user', value: '' }),
          field({ label: 'Role', name: 'role', type: 'select', value: defaultRole, options: roles.map((r) => ({ value: r, label: r })) }),
        ],
    notice,
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const secret = String(data.get(token ? 'token' : 'user') || '').trim();
    if (!secret) return fail(token ? 'Enter your token.' : 'Enter a name.');
    let identity;
    if (token) {
      let role;
      try {
        role = await roleOfToken(secret, apiBase);
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

/**
 * What a signed-in page uses: { mode, user, role, apiBase, headers(), token(), authorize(element),
 * signOut(), endSession(message) }. `headers()` and `token()` are async (an OIDC token may be renewed first);
 * `endSession` forgets the credentials and shows the sign-in screen with `message`.
 */
function identityOf(saved, { apiBase, session }) {
  const endSession = async (message) => {
    signOut();
    if (session) await session.forget();
    if (message) sessionStorage.setItem(NOTICE, message);
    window.location.reload();
  };
  const token = async () => {
    if (!session) return saved.token || null;
    try {
      return await session.accessToken();
    } catch (error) {
      endSession(error.message);
      throw error;
    }
  };
  if (session) session.onEnded(endSession);
  return {
    mode: saved.mode,
    user: saved.user,
    role: saved.role,
    apiBase,
    token,
    async headers() {
      return saved.mode === 'local' ? headersFor(saved) : { authorization: `Bearer ${await token()}` };
    },
    /** Gives a <hie-consent> element this identity's credentials (and the API's base URL). */
    authorize(element) {
      if (apiBase) element.setAttribute('api', apiBase);
      if (saved.mode === 'local') element.headers = headersFor(saved);
      else element.tokenProvider = token;
      element.addEventListener('hie-consent-unauthorized', () => endSession(REFUSED));
    },
    async signOut() {
      signOut();
      if (session) await session.signOut();
      else window.location.reload();
    },
    endSession,
  };
}

/** Shows `node` as the page's only content, focusing its first input or button. */
function show(main, node) {
  main.replaceChildren(node);
  (node.querySelector('input') || node.querySelector('button') || main).focus();
}

async function signInOidc({ config, client, roles, main, notice, apiBase, intro }) {
  const settings = config[client];
  const card = (message, { signOutInstead } = {}) =>
    signInCard({
      title: 'Sign in',
      intro,
      notice: message,
      submitLabel: signOutInstead ? 'Sign out' : 'Sign in',
    });
  if (!settings || !settings.authority || !settings.client_id) {
    const { form } = card(`This connector's config.json has no "${client}" sign-in settings.`);
    form.querySelector('button').disabled = true;
    show(main, form);
    return new Promise(() => {});
  }
  let session;
  try {
    session = await oidcSession(settings);
  } catch {
    const { form } = card('The sign-in page could not be loaded. Reload the page to try again.');
    show(main, form);
    return new Promise(() => {});
  }
  const back = await session.completeRedirect();
  let message = back.error || notice;
  let wrongRole = false;
  const user = message ? null : await session.currentUser();
  if (user) {
    const sub = user.profile && user.profile.sub;
    const saved = loadIdentity();
    let role = saved && saved.mode === 'oidc' && saved.sub === sub ? saved.role : null;
    if (!role) {
      try {
        role = await roleOfToken(user.access_token, apiBase);
        if (!role) message = REFUSED;
      } catch {
        message = 'The connector cannot be reached. Try again later.';
      }
    }
    if (role && !roles.includes(role)) {
      wrongRole = true;
      message = `You signed in as a ${role} user; this page is for ${roles.join(' or ')} users. Sign out, then sign in with another account.`;
    } else if (role) {
      const identity = { mode: 'oidc', user: user.profile.preferred_username || sub, role, sub };
      saveIdentity(identity);
      return identityOf(identity, { apiBase, session });
    }
    if (!wrongRole) await session.forget();
  }
  const { form, fail } = card(message, { signOutInstead: wrongRole });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    form.querySelector('button').disabled = true;
    try {
      if (wrongRole) await session.signOut();
      else await session.signIn(window.location.hash);
    } catch (error) {
      form.querySelector('button').disabled = false;
      fail(error.message);
    }
  });
  show(main, form);
  return new Promise(() => {});
}

/**
 * Signs this page in. Reads config.json at `configUrl`, finishes a provider redirect, or shows the
 * sign-in screen for the mode in `main` until someone of one of `roles` signs in. `client` names
 * the OIDC client of this page ('console' or 'portal'). Resolves to the identity (see identityOf).
 */
export async function signIn({ configUrl, client, roles, defaultRole, main, intro }) {
  const config = await readConfig(configUrl);
  const apiBase = (config.api || '').replace(/\/$/, '');
  const notice = takeNotice();
  if (config.auth === 'oidc') return signInOidc({ config, client, roles, main, notice, apiBase, intro });
  const saved = loadIdentity();
  if (saved && saved.mode === config.auth && roles.includes(saved.role)) return identityOf(saved, { apiBase });
  return new Promise((resolve) => {
    show(
      main,
      signInForm({
        mode: config.auth,
        roles,
        defaultRole,
        notice,
        apiBase,
        onSignedIn: (who) => resolve(identityOf(who, { apiBase })),
      }),
    );
  });
}
