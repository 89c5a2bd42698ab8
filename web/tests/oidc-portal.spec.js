// The patient portal with OIDC sign-in, on a phone (375 x 740): the patient signs in at the
// provider with the portal's own client, gives consent and revokes it for their own patient id
// (the access token's patient_id claim), and signs out.
import { test, expect } from '@playwright/test';
import { checkA11y, snap, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';
import { startOidcStack, signInAtProvider, storedUser, replaceAccessToken, expectLocalStorageEmpty } from './oidc/stack.js';
import { CLIENTS, emailOf } from './oidc/provider.mjs';

const PATIENT = { id: 'p-oidc-portal-3', mrn: 'MRN-OIDC-PORTAL-3', first: 'Ottilie', last: 'Tokenfield', birth: '1958-11-02' };
const PHI = [PATIENT.mrn, PATIENT.first, PATIENT.last, PATIENT.birth];
const EXPLANATION = 'Sharing lets the hospital doctors see your visits here. You can stop at any time.';

test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });

test('portal: a patient signs in at the provider, gives and revokes consent, and signs out', async ({ page }) => {
  const stack = await startOidcStack();
  const { idp, server } = stack;
  try {
    await stack.api('PUT', '/settings/hie', { portal_explanation: EXPLANATION, consent_expire_days: 365 });
    await stack.api('PUT', `/patients/${PATIENT.id}`, {
      mrn: PATIENT.mrn, first_name: PATIENT.first, last_name: PATIENT.last, birth_date: PATIENT.birth, sex: 'F',
    });

    await page.goto(`${server.url}/portal/`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await checkA11y(page);
    await snap(page, 'oidc-portal-sign-in', { docs: true });
    const authorize = page.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth?`));
    await page.getByRole('button', { name: 'Sign in' }).tap();
    const client = new URL((await authorize).url()).searchParams.get('client_id');
    expect(client, 'the portal signs in with its own client').toBe(CLIENTS.portal);
    await signInAtProvider(page, idp, `patient-${PATIENT.id}`);

    await expect(page).toHaveURL(`${server.url}/portal/`);
    const consent = page.locator('hie-consent');
    await expect(consent.getByText(EXPLANATION)).toBeVisible();
    await expect(consent.getByText('No consent recorded yet.')).toBeVisible();
    await consent.getByRole('button', { name: 'Save' }).tap();
    const rows = consent.locator('tbody tr');
    await expect(rows.first()).toContainText('Active (latest)');
    await expect(rows.first()).toContainText('Patient portal');
    // It is this patient's record the API changed
    const history = await stack.api('GET', `/patients/${PATIENT.id}/consents`);
    expect(history.consents[0].status).toBe('active');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'no sideways scrolling on a phone').toBeLessThanOrEqual(0);
    await checkA11y(page);

    await rows.first().tap();
    await consent.getByRole('button', { name: 'Revoke' }).tap();
    await consent.getByRole('button', { name: 'Revoke consent' }).tap();
    await expect(rows.first()).toContainText('Revoked (latest)');
    expect((await stack.api('GET', `/patients/${PATIENT.id}/consents`)).consents[0].status).toBe('revoked');

    await expectNoPatientDataStored(page, [...PHI, emailOf(`patient-${PATIENT.id}`)]);
    await expectLocalStorageEmpty(page);
    expect((await storedUser(page)).profile.sub).toBe(`patient-${PATIENT.id}`);

    await page.getByRole('button', { name: 'Sign out' }).tap();
    await page.getByRole('button', { name: 'Yes, sign me out' }).tap();
    await expect(page).toHaveURL(`${server.url}/portal/`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    expect(await storedUser(page)).toBeNull();
    expectNoPatientDataLogged(server, PHI);
  } finally {
    await stack.stop();
  }
});

test('portal: a staff account is told the portal is for patients; a refused token asks to sign in again', async ({ page }) => {
  const stack = await startOidcStack();
  try {
    await page.goto(`${stack.server.url}/portal/`);
    await page.getByRole('button', { name: 'Sign in' }).tap();
    await signInAtProvider(page, stack.idp, 'frontdesk');
    await expect(page.getByRole('alert')).toContainText('You signed in as a staff user; this page is for patient users.');
    await page.getByRole('button', { name: 'Sign out' }).tap();
    await page.getByRole('button', { name: 'Yes, sign me out' }).tap();

    // A patient whose token the connector then refuses (the component reports the 401)
    await page.getByRole('button', { name: 'Sign in' }).tap();
    await signInAtProvider(page, stack.idp, 'patient-p-nobody-yet');
    await expect(page.getByRole('heading', { name: 'Share My Medical Information' })).toBeVisible();
    await replaceAccessToken(page, await stack.idp.mint({ iss: 'http://127.0.0.1:1/elsewhere' }));
    await page.reload();
    await expect(page.getByRole('alert')).toContainText('The connector did not accept your sign-in');
    expect(await storedUser(page)).toBeNull();
  } finally {
    await stack.stop();
  }
});
