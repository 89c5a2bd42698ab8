// OpenID Connect sign-in for one page (the console or the portal) through the vendored
// oidc-client-ts: the authorization code flow with PKCE, the redirect back to the same page, access
// token renewal with the refresh token, and sign-out. Everything it keeps (the sign-in state during
// the redirect, the tokens) is in sessionStorage, never localStorage; the scope asks for no profile
// or e-mail, so nothing it stores is patient data.

import { loadVendor } from './vendor.js';

/** Renew the access token this many seconds before it expires. */
const RENEW_BEFORE_SECONDS = 30;

/** Plain words for what went wrong while signing in. */
export function signInProblem(error) {
  const code = error && error.error;
  if (code === 'access_denied') return 'Sign-in was cancelled. Sign in again to continue.';
  if (code === 'login_required' || code === 'invalid_grant') return 'Your sign-in has ended. Sign in again.';
  if (code) return `The sign-in service refused the sign-in (${error.error_description || code}). Try again.`;
  return 'The sign-in service cannot be reached. Try again later.';
}

/** The ID token claims about the sign-in itself; anything else (e-mail, names...) is not kept. */
const PROTOCOL_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'sid', 'at_hash', 'c_hash', 's_hash', 'jti'];

function protocolOnly(claims) {
  return Object.fromEntries(Object.entries(claims || {}).filter(([name]) => PROTOCOL_CLAIMS.includes(name)));
}

/** The payload of a JWT, or null. */
function payloadOf(jwt) {
  try {
    return JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return null;
  }
}

/**
 * The library's user store, keeping only what signing in needs: some providers put personal
 * claims in the ID token whatever the scope (Cognito: every attribute the client may read), so
 * the stored profile keeps the protocol claims only, and an ID token carrying anything more is
 * not kept (sign-out then names the client instead of hinting with the ID token).
 */
class MinimalUserStore {
  constructor(inner) {
    this.inner = inner;
  }

  set(key, value) {
    const user = JSON.parse(value);
    user.profile = protocolOnly(user.profile);
    const claims = user.id_token ? payloadOf(user.id_token) : null;
    if (user.id_token && (!claims || Object.keys(claims).some((name) => !PROTOCOL_CLAIMS.includes(name)))) delete user.id_token;
    return this.inner.set(key, JSON.stringify(user));
  }

  get(key) {
    return this.inner.get(key);
  }

  remove(key) {
    return this.inner.remove(key);
  }

  getAllKeys() {
    return this.inner.getAllKeys();
  }
}

/** True when this page's URL is the provider's answer to a sign-in or sign-out redirect. */
function isRedirectAnswer(url) {
  return url.searchParams.has('state');
}

/**
 * An OIDC session for `settings` (one client of config.json: authority, client_id, scope, and
 * optionally resource, end_session_endpoint, logout_query). The redirect URI is this page's URL
 * without query or hash (`/` for the console, `/portal/` for the portal).
 */
export async function oidcSession(settings) {
  const oidc = await loadVendor('oidc-client-ts/oidc-client-ts.min.js', 'oidc');
  const page = new URL(window.location.href);
  const redirectUri = `${page.origin}${page.pathname}`;
  const scope = settings.scope || 'openid';
  const scopes = scope.split(' ');
  const store = new oidc.WebStorageStateStore({ store: window.sessionStorage, prefix: 'connector.oidc.' });
  const manager = new oidc.UserManager({
    authority: settings.authority,
    client_id: settings.client_id,
    scope,
    response_type: 'code',
    redirect_uri: redirectUri,
    post_logout_redirect_uri: settings.logout_query ? undefined : redirectUri,
    // OpenID Connect Core 11: a request for offline_access (a refresh token) must ask for consent.
    prompt: scopes.includes('offline_access') ? 'consent' : undefined,
    extraQueryParams: settings.resource ? { resource: settings.resource } : {},
    metadataSeed: settings.end_session_endpoint ? { end_session_endpoint: settings.end_session_endpoint } : undefined,
    userStore: new MinimalUserStore(store),
    stateStore: store,
    loadUserInfo: false,
    monitorSession: false,
    automaticSilentRenew: true,
    accessTokenExpiringNotificationTimeInSeconds: RENEW_BEFORE_SECONDS,
  });

  /**
   * Finishes a sign-in or sign-out redirect when the provider has just sent the browser back here:
   * resolves to { hash } (where the person was before signing in) or { error } (plain words),
   * and removes the provider's answer from the address bar. Resolves to {} on an ordinary load.
   */
  async function completeRedirect() {
    if (!isRedirectAnswer(page)) return {};
    const clean = (hash = '') => window.history.replaceState(null, '', `${page.pathname}${hash}`);
    if (!page.searchParams.has('code') && !page.searchParams.has('error')) {
      await manager.signoutRedirectCallback().catch(() => undefined);
      clean();
      return {};
    }
    try {
      const user = await manager.signinRedirectCallback();
      const hash = user.url_state && user.url_state.startsWith('#/') ? user.url_state : '';
      clean(hash);
      return { hash };
    } catch (error) {
      clean();
      return { error: signInProblem(error) };
    }
  }

  // One renewal at a time: the provider rotates refresh tokens, and a second request with the
  // same refresh token would be refused (or end the whole grant).
  let renewing = null;
  const renew = () => {
    renewing = renewing || manager.signinSilent().finally(() => (renewing = null));
    return renewing;
  };

  /** The signed-in user (renewed first if the access token has expired), or null. */
  async function currentUser() {
    const user = await manager.getUser();
    if (!user) return null;
    if (!user.expired) return user;
    if (!user.refresh_token) return null;
    try {
      return await renew();
    } catch {
      await manager.removeUser();
      return null;
    }
  }

  return {
    completeRedirect,
    currentUser,

    /** The access token to send (renewed when it is about to expire); throws when signed out. */
    async accessToken() {
      let user = await manager.getUser();
      if (user && user.expires_in !== undefined && user.expires_in < 5 && user.refresh_token) {
        user = await renew().catch(() => null);
      }
      if (!user || user.expired) throw new Error('Your sign-in has ended. Sign in again.');
      return user.access_token;
    },

    /** Sends the browser to the provider's sign-in page; it comes back to this page at `hash`. */
    async signIn(hash = '') {
      try {
        await manager.signinRedirect({ url_state: hash || undefined });
      } catch (error) {
        throw new Error(signInProblem(error));
      }
    },

    /** Signs out at the provider (its end-session endpoint) when it has one, else in this tab only. */
    async signOut() {
      try {
        await manager.signoutRedirect({ extraQueryParams: settings.logout_query || undefined });
      } catch {
        await manager.removeUser();
        window.location.assign(redirectUri);
      }
    },

    /** Forgets the tokens in this tab (after the API refused them). */
    forget: () => manager.removeUser(),

    /** Calls `listener(message)` when renewal fails and the session is over. */
    onEnded(listener) {
      manager.events.addSilentRenewError(() => listener('Your sign-in has ended. Sign in again.'));
      manager.events.addAccessTokenExpired(() => listener('Your sign-in has ended. Sign in again.'));
    },

    /** Calls `listener()` after each renewal of the access token. */
    onRenewed(listener) {
      manager.events.addUserLoaded(() => listener());
    },
  };
}
