// A real OIDC setup for the browser tests: the test provider (provider.mjs) on a free port, then
// `connector serve --oidc FILE` trusting it (both clients signing in at it), then the provider told
// the connector's URL (its pages are the clients' redirect URIs). Helpers to set data up with a
// token the provider's own key signs, and to go through the provider's login and consent pages.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from '@playwright/test';
import { startServer } from '../support.js';
import { AUDIENCE, CLIENTS, RESOURCE, SCOPE, startProvider } from './provider.mjs';

/**
 * The --oidc file (contract §2) for a provider at `issuer`; `extra` adds TOML lines to a page's
 * client ({ console?, portal? }, e.g. end_session_endpoint).
 */
export function oidcToml(issuer, extra = {}) {
  const client = (section, clientId) =>
    `[${section}]\nauthority = "${issuer}"\nclient_id = "${clientId}"\nscope = "${SCOPE}"\nresource = "${RESOURCE}"\n${extra[section] || ''}`;
  return [
    `[[issuer]]\nissuer = "${issuer}"\naudiences = ["${AUDIENCE}"]\n`,
    client('console', CLIENTS.console),
    client('portal', CLIENTS.portal),
  ].join('\n');
}

/**
 * Starts the provider and a connector trusting it (`extra`: see oidcToml). Resolves to { idp, server, api, stop }: `api` is
 * server.api as an admin holding a token minted with the provider's key (the loopback headers are
 * not trusted with --oidc).
 */
export async function startOidcStack({ accessTokenTtl = 600, extra = {} } = {}) {
  const idp = await startProvider({ accessTokenTtl });
  const dir = mkdtempSync(join(tmpdir(), 'connector-oidc-'));
  const file = join(dir, 'oidc.toml');
  writeFileSync(file, oidcToml(idp.issuer, extra));
  let server;
  try {
    server = await startServer({ args: ['--oidc', file] });
  } catch (error) {
    await idp.stop();
    throw error;
  }
  idp.open([server.url]);
  const admin = await idp.mint({ sub: 'clinicadmin', role: 'admin' }, { lifetime: 3600 });
  const api = (method, path, body) => server.api(method, path, body, { headers: { authorization: `Bearer ${admin}` } });
  return {
    idp,
    server,
    api,
    async stop() {
      await server.stop();
      await idp.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * On the provider's own pages (the page has just been sent there): signs in as `login` (any
 * password) and grants the consent the provider asks for, which sends the browser back.
 */
export async function signInAtProvider(page, idp, login) {
  await expect(page).toHaveURL(new RegExp(`^${idp.issuer}/interaction/`));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password will do');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await expect(page).toHaveURL(new RegExp(`^${idp.issuer}/interaction/`));
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** The OIDC library's stored user of this tab (tokens, profile), or null. */
export async function storedUser(page) {
  return page.evaluate(() => {
    const key = Object.keys(sessionStorage).find((k) => k.startsWith('connector.oidc.user:'));
    return key ? JSON.parse(sessionStorage.getItem(key)) : null;
  });
}

/** Replaces the stored access token of this tab with `token` (to see the API refuse one). */
export async function replaceAccessToken(page, token) {
  await page.evaluate((value) => {
    const key = Object.keys(sessionStorage).find((k) => k.startsWith('connector.oidc.user:'));
    sessionStorage.setItem(key, JSON.stringify({ ...JSON.parse(sessionStorage.getItem(key)), access_token: value }));
  }, token);
}

/** Fails if localStorage holds anything at all (the pages keep everything in sessionStorage). */
export async function expectLocalStorageEmpty(page) {
  expect(await page.evaluate(() => Object.keys(localStorage))).toEqual([]);
}
