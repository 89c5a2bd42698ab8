// The console signs people in through a real OpenID Connect provider (npm oidc-provider, its own
// login and consent pages): `connector serve --oidc` serves config.json, the page redirects with
// PKCE, comes back with a code, sends the access token as a bearer token, renews it with the
// refresh token, and signs out at the provider.
import { test, expect } from '@playwright/test';
import { createServer } from 'node:http';
import { checkA11y, snap, fillPatientForm, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';
import { emailOf } from './oidc/provider.mjs';
import { startOidcStack, signInAtProvider, storedUser, replaceAccessToken, expectLocalStorageEmpty } from './oidc/stack.js';

const PATIENT = { id: 'p-oidc-1', mrn: 'MRN-OIDC-0451', first: 'Marigold', last: 'Signwell', birth: '1969-07-20' };
const PHI = [PATIENT.mrn, PATIENT.first, PATIENT.last, PATIENT.birth];

test('front desk signs in at the provider, registers a patient, records a consent, and signs out', async ({ page }) => {
  const stack = await startOidcStack();
  const { idp, server } = stack;
  try {
    await stack.api('PUT', '/settings/hie', { consent_expire_days: 30, time_zone: 'UTC' });
    const bearers = [];
    page.on('request', (r) => {
      if (r.url().startsWith(server.url) && r.headers().authorization) bearers.push(r.headers().authorization);
    });

    await page.goto(`${server.url}/#/patients/new`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeFocused();
    await checkA11y(page);
    await snap(page, 'oidc-sign-in', { docs: true });

    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.origin === idp.issuer);
    await expect(page.locator('input[name="login"]'), 'the login page is the provider’s').toBeVisible();
    await snap(page, 'oidc-provider-login');
    await signInAtProvider(page, idp, 'frontdesk');

    // Back at the console, where the person was going, as a staff user the API recognised
    await expect(page).toHaveURL(`${server.url}/#/patients/new`);
    await expect(page.getByText('Signed in as')).toContainText('frontdesk (staff)');
    const user = await storedUser(page);
    expect(user.refresh_token, 'a refresh token for renewal').toBeTruthy();
    expect(user.scope).toBe('openid offline_access');
    expect(Object.keys(user.profile).sort(), 'only the sign-in claims are kept').toEqual(['aud', 'exp', 'iat', 'iss', 'sub']);
    expect(user.id_token, 'an ID token carrying an e-mail is not kept').toBeUndefined();

    // Register a patient and record a consent
    await fillPatientForm(page, PATIENT);
    await page.getByRole('button', { name: 'Register' }).click();
    await expect(page.getByRole('heading', { name: `${PATIENT.last}, ${PATIENT.first}` })).toBeVisible();
    const consent = page.locator('hie-consent');
    await consent.getByRole('button', { name: 'Save' }).click();
    await expect(consent.locator('tbody tr').first()).toContainText('Active (latest)');

    // Find the patient again by MRN
    await page.getByRole('link', { name: 'Find a patient' }).first().click();
    await page.getByLabel('MRN').fill(PATIENT.mrn);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('link', { name: `${PATIENT.last}, ${PATIENT.first}` })).toBeVisible();

    expect(bearers.length).toBeGreaterThan(3);
    expect(new Set(bearers), 'every API call carried the access token').toEqual(new Set([`Bearer ${user.access_token}`]));
    await expectNoPatientDataStored(page, [...PHI, emailOf('frontdesk')]);
    await expectLocalStorageEmpty(page);

    // Sign out at the provider (its end-session page), back to the sign-in screen, tokens gone
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(new RegExp(`^${idp.issuer}/session/end`));
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await expect(page).toHaveURL(`${server.url}/`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    expect(await storedUser(page)).toBeNull();
    expect(await page.evaluate(() => sessionStorage.getItem('connector.identity'))).toBeNull();
    expectNoPatientDataLogged(server, PHI);
  } finally {
    await stack.stop();
  }
});

test('an admin reaches the admin screens, and the access token is renewed without a new login', async ({ page }) => {
  // Access tokens live 35 s; the page renews 30 s before expiry, so about 5 s after signing in.
  const stack = await startOidcStack({ accessTokenTtl: 35 });
  const { idp, server } = stack;
  try {
    const tokenRequests = [];
    page.on('request', (r) => {
      if (r.url() === `${idp.issuer}/token`) tokenRequests.push(new URLSearchParams(r.postData() || '').get('grant_type'));
    });
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signInAtProvider(page, idp, 'clinicadmin');
    await expect(page.getByText('Signed in as')).toContainText('clinicadmin (admin)');
    await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 }), 'an admin lands on the dashboard').toBeVisible();
    const first = await storedUser(page);

    await page.goto(`${server.url}/#/settings`);
    await expect(page.getByRole('heading', { name: 'HIE settings', level: 1 })).toBeVisible();

    // Renewal: a refresh-token grant, a new access token, no trip to the provider's pages
    await expect.poll(() => tokenRequests.filter((g) => g === 'refresh_token').length, { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(async () => (await storedUser(page)).access_token).not.toBe(first.access_token);
    const renewed = await storedUser(page);
    expect(renewed.expires_at).toBeGreaterThan(first.expires_at);
    expect(page.url().startsWith(server.url), 'no new login').toBe(true);

    // The renewed token works: save a setting with it
    const used = page.waitForRequest((r) => r.url() === `${server.url}/settings/hie` && r.method() === 'PUT');
    await page.getByLabel('Consent expires after (days)').fill('400');
    await page.getByRole('button', { name: 'Save settings' }).click();
    expect((await used).headers().authorization).toBe(`Bearer ${(await storedUser(page)).access_token}`);
    await expect.poll(async () => (await stack.api('GET', '/settings/hie')).consent_expire_days).toBe(400);
    await expect(page.getByText('Signed in as')).toContainText('clinicadmin (admin)');
  } finally {
    await stack.stop();
  }
});

test('plain messages: sign-in cancelled, token refused by the connector, provider unreachable', async ({ page }) => {
  const stack = await startOidcStack();
  const { idp, server } = stack;
  try {
    // Cancelled at the provider's login page
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    await expect(page).toHaveURL(`${server.url}/`);
    await expect(page.getByRole('alert')).toHaveText('Sign-in was cancelled. Sign in again to continue.');
    await checkA11y(page);

    // Signed in, then the connector refuses the token (here: one for another audience)
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signInAtProvider(page, idp, 'frontdesk');
    await expect(page.getByText('Signed in as')).toContainText('frontdesk (staff)');
    const foreign = await idp.mint({ aud: 'another-api' });
    await replaceAccessToken(page, foreign);
    await page.goto(`${server.url}/#/patients`);
    await page.getByLabel('MRN').fill('MRN-NOBODY');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await expect(page.getByRole('alert')).toContainText('The connector did not accept your sign-in');
    expect(await storedUser(page), 'the refused tokens are forgotten').toBeNull();

    // The provider is down
    await idp.stop();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('The sign-in service cannot be reached. Try again later.');
    expect(page.url().startsWith(`${server.url}/`), 'still on the console').toBe(true);
  } finally {
    await stack.stop();
  }
});

test('sign-out at an end_session_endpoint and logout_query from config.json (as Cognito needs)', async ({ page }) => {
  const logouts = [];
  const logout = createServer((request, response) => {
    const url = new URL(request.url, 'http://logout.test');
    if (url.pathname === '/logout') logouts.push(url);
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>Signed out</title><p>Signed out</p>');
  });
  const port = await new Promise((done) => logout.listen(0, '127.0.0.1', () => done(logout.address().port)));
  const stack = await startOidcStack({
    extra: {
      console: `end_session_endpoint = "http://127.0.0.1:${port}/logout"\nlogout_query = { client_id = "console-app", logout_uri = "https://clinic.example/" }\n`,
    },
  });
  try {
    await page.goto(`${stack.server.url}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signInAtProvider(page, stack.idp, 'frontdesk');
    await expect(page.getByText('Signed in as')).toContainText('frontdesk (staff)');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.getByText('Signed out')).toBeVisible();
    expect(logouts).toHaveLength(1);
    const query = Object.fromEntries(logouts[0].searchParams);
    expect(query).toMatchObject({ client_id: 'console-app', logout_uri: 'https://clinic.example/' });
    expect(query.post_logout_redirect_uri, 'logout_uri replaces it').toBeUndefined();
    await page.goto(`${stack.server.url}/`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    expect(await storedUser(page)).toBeNull();
  } finally {
    await stack.stop();
    logout.close();
  }
});
