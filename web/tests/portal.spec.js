// The patient portal on a phone (375 x 740): the clinic's explanation, the patient's own consent
// history, give consent, revoke the active one after confirming.
import { test, expect, checkA11y, snap, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';

const PATIENT = { id: 'p-portal-7', mrn: 'MRN-PORTAL-0007', first: 'Rowena', last: 'Portalson', birth: '1975-06-14' };
const PHI = [PATIENT.mrn, PATIENT.first, PATIENT.last, PATIENT.birth];
const EXPLANATION = 'Sharing lets the doctors at the hospital see your visits here. You can stop at any time.';

test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });

test('portal: a patient gives consent and revokes it, on a phone', async ({ page, server }) => {
  await server.api('PUT', '/settings/hie', { portal_explanation: EXPLANATION, consent_expire_days: 365 });
  await server.api('PUT', `/patients/${PATIENT.id}`, {
    mrn: PATIENT.mrn, first_name: PATIENT.first, last_name: PATIENT.last, birth_date: PATIENT.birth, sex: 'F',
  }, { user: 'dana', role: 'staff' });

  await page.goto('/portal/');
  await page.getByLabel(/^Name/).fill(PATIENT.id);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const consent = page.locator('hie-consent');
  await expect(consent.getByText(EXPLANATION)).toBeVisible();
  await expect(consent.getByText('No consent recorded yet.')).toBeVisible();

  // The form opens with a pending record; Save gives consent
  await expect(consent.getByLabel('Given On')).not.toHaveValue('');
  await consent.getByRole('button', { name: 'Save' }).click();
  const rows = consent.locator('tbody tr');
  await expect(rows.first()).toContainText('Active (latest)');
  await expect(rows.first()).toContainText('Patient portal');
  await expect(consent.getByText(/Consent is Active until/)).toBeVisible();
  // No sideways scrolling on a phone
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await checkA11y(page);
  await snap(page, 'portal-phone', { docs: true });

  // Revoke: select the latest record, confirm in the dialog
  await rows.first().tap();
  await consent.getByRole('button', { name: 'Revoke' }).tap();
  await expect(consent.getByRole('dialog', { name: 'Revoke consent?' })).toBeVisible();
  await checkA11y(page);
  await consent.getByRole('button', { name: 'Revoke consent' }).tap();
  await expect(rows.first()).toContainText('Revoked (latest)');
  await expect(consent.getByText('No active consent')).toBeVisible();
  await snap(page, 'portal-phone-revoked');

  await expectNoPatientDataStored(page, PHI);
  expectNoPatientDataLogged(server, PHI);
});
