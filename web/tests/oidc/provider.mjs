// The browser tests' OpenID Connect provider: the npm `oidc-provider` (a certified OP) with its own
// development login and consent pages, invented users, public PKCE clients `connector-console` and
// `connector-portal` (refresh tokens), and JWT access tokens for the resource `urn:connector-api`
// (audience `connector-api`) that carry `role` and `patient_id`. Keys are generated at start; `mint` signs test tokens with them.
//
// Users: `frontdesk` (staff), `clinicadmin` (admin), and `patient-<id>` (patient, patient_id <id>):
// any password is accepted, as the provider's dev pages do.
//
// By hand: `node web/tests/oidc/provider.mjs --port 4010 [--app http://127.0.0.1:8080]` prints
// `oidc provider listening on http://127.0.0.1:4010`; the app URL's `/` and `/portal/` are the
// clients' redirect URIs.
import Provider, { errors } from 'oidc-provider';
import { SignJWT, exportJWK, generateKeyPair, base64url } from 'jose';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The audience of the connector's API (the `aud` of its access tokens). */
export const AUDIENCE = 'connector-api';
/**
 * The resource indicator the pages request (config.json's `resource`). RFC 8707 wants an absolute
 * URI, and oidc-provider refuses a bare `connector-api`; the tokens' audience is still AUDIENCE.
 */
export const RESOURCE = 'urn:connector-api';
/** The OIDC clients of the console and the portal. */
export const CLIENTS = { console: 'connector-console', portal: 'connector-portal' };
/** The scope the pages request (no profile, no email: the tokens hold no personal data). */
export const SCOPE = 'openid offline_access';

const STAFF = { frontdesk: 'staff', clinicadmin: 'admin' };

/** The claims the access token of `accountId` carries, or null for an unknown user. */
export function claimsOf(accountId) {
  if (STAFF[accountId]) return { role: STAFF[accountId] };
  const patient = /^patient-(.+)$/.exec(accountId);
  return patient ? { role: 'patient', patient_id: patient[1] } : null;
}

/** The invented e-mail address of `accountId` (in its ID token). */
export function emailOf(accountId) {
  return `${accountId}@people.example`;
}

async function signingKey(kid) {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  return { privateKey, publicKey, jwk };
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

function configuration({ key, appUrls, accessTokenTtl }) {
  const redirects = (path) => appUrls.map((app) => new URL(path, app).href);
  const client = (clientId, path) => ({
    client_id: clientId,
    token_endpoint_auth_method: 'none',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: redirects(path),
    post_logout_redirect_uris: redirects(path),
  });
  return {
    clients: appUrls.length ? [client(CLIENTS.console, '/'), client(CLIENTS.portal, '/portal/')] : [],
    jwks: { keys: [key.jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'offline_access'],
    // Like Cognito, the ID token carries the e-mail on `openid` alone: the pages must not keep it.
    claims: { openid: ['sub', 'email'] },
    pkce: { required: () => true },
    clientBasedCORS: (_ctx, origin, clientModel) =>
      clientModel.redirectUris.some((uri) => new URL(uri).origin === origin),
    async findAccount(_ctx, accountId) {
      if (!claimsOf(accountId)) return undefined;
      return { accountId, claims: async () => ({ sub: accountId, email: emailOf(accountId) }) };
    },
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken') return undefined;
      return claimsOf(token.accountId) || undefined;
    },
    ttl: { AccessToken: accessTokenTtl, IdToken: 3600, RefreshToken: 86_400, Session: 86_400, Grant: 86_400, Interaction: 3600 },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return {
            audience: AUDIENCE,
            scope: SCOPE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  };
}

/**
 * Starts the provider on `host:port` (0 = a free port). Until `open(appUrls)` names the pages that
 * may sign in, it has no clients but already answers discovery and its JWKS (so the connector can
 * start against its issuer URL first). Resolves to { issuer, open, mint, stop }.
 */
export async function startProvider({ port = 0, host = '127.0.0.1', accessTokenTtl = 600 } = {}) {
  const key = await signingKey(`k-${randomBytes(6).toString('hex')}`);
  const stranger = await signingKey(`k-unknown-${randomBytes(6).toString('hex')}`);
  let handler = null;
  const server = createServer((request, response) => handler(request, response));
  const issuer = `http://${host}:${await listen(server, port, host)}`;
  const provider = (appUrls) => new Provider(issuer, configuration({ key, appUrls, accessTokenTtl }));
  handler = provider([]).callback();

  /** Lets the console (`<app>/`) and the portal (`<app>/portal/`) of each app URL sign in. */
  function open(appUrls) {
    handler = provider([].concat(appUrls)).callback();
  }

  /**
   * An access token for setting data up and for negative tests: `claims` over those a provider
   * token carries (iss, aud, sub, client_id, role, iat, exp = now + `lifetime` seconds). `signer`:
   * 'provider' (its own key, kid in its JWKS), 'stranger' (an RSA key whose kid is not in the
   * JWKS), 'none' (an unsigned `alg: none` token) or 'hs256' (HMAC with a made-up secret).
   */
  async function mint(claims = {}, { signer = 'provider', lifetime = 300 } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: issuer, aud: AUDIENCE, sub: 'frontdesk', client_id: CLIENTS.console, role: 'staff', iat: now, exp: now + lifetime, ...claims };
    if (signer === 'none') {
      const part = (value) => base64url.encode(JSON.stringify(value));
      return `${part({ alg: 'none', typ: 'at+jwt' })}.${part(payload)}.`;
    }
    if (signer === 'hs256') {
      return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.jwk.kid }).sign(randomBytes(32));
    }
    const { privateKey, jwk } = signer === 'stranger' ? stranger : key;
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid }).sign(privateKey);
  }

  function stop() {
    return new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  }

  return { issuer, open, mint, stop };
}

// Run as a program (also through a symlinked folder: Node loads the module by its real path).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const arg = (name, fallback) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : fallback;
  };
  const idp = await startProvider({ port: Number(arg('--port', 4010)), accessTokenTtl: Number(arg('--access-token-ttl', 600)) });
  idp.open([arg('--app', 'http://127.0.0.1:8080')]);
  console.log(`oidc provider listening on ${idp.issuer}`);
}
