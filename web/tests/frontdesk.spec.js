// Front desk: register a patient, the consent cycle of seed 000 (New with the configured defaults,
// Save, the Active record green and marked in text, Revoke with a reason; 409 and 422 shown beside
// their cause), and finding the patient again by MRN and by last name + birth date.
import { test, expect, checkA11y, snap, signInLocal, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';

const PATIENT = { id: 'p-web-1', mrn: 'MRN-WEB-4711', first: 'Juniper', last: 'Testwell', birth: '1980-02-29' };
const PHI = [PATIENT.mrn, PATIENT.first, PATIENT.last, PATIENT.birth];

function addDays(iso, days) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

test('front desk: register, consent New/Save/Active, Revoke with a reason, search', async ({ page, server }) => {
  await server.api('PUT', '/settings/hie', { consent_expire_days: 30, time_zone: 'UTC' });
  await signInLocal(page, { user: 'dana', role: 'staff' });
  await expect(page.getByRole('heading', { name: 'Find a patient' })).toBeVisible();

  // Register: a bad e-mail is answered 422 and shown beside the E-mail field
  await page.getByRole('link', { name: 'Register a new patient' }).click();
  await page.getByLabel('Patient ID').fill(PATIENT.id);
  await page.getByLabel('MRN').fill(PATIENT.mrn);
  await page.getByLabel('First name').fill(PATIENT.first);
  await page.getByLabel('Last name').fill(PATIENT.last);
  await page.getByLabel('Birth date').fill(PATIENT.birth);
  await page.getByLabel('Sex').selectOption('F');
  await page.getByLabel('E-mail').fill('not-an-address');
  await page.getByRole('button', { name: 'Register' }).click();
  const email = page.getByLabel('E-mail');
  await expect(email).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('[data-error-for="email"]')).toContainText('e-mail address');
  await expect(email).toBeFocused();
  await snap(page, 'front-desk-register', { docs: true });
  await email.fill('');
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByRole('heading', { name: `${PATIENT.last}, ${PATIENT.first}` })).toBeVisible();

  // The consent form opens with a pending record: today and today + 30 days
  const consent = page.locator('hie-consent');
  const givenOn = consent.getByLabel('Given On');
  const expiresOn = consent.getByLabel('Expires On');
  const today = await givenOn.inputValue();
  expect(today).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  await expect(expiresOn).toHaveValue(addDays(today, 30));

  // 422: Expires On before Given On, shown beside Expires On
  await expiresOn.fill(addDays(today, -1));
  await consent.getByRole('button', { name: 'Save' }).click();
  await expect(consent.locator('[data-error-for="expires_on"]')).toContainText('after given_on');
  await expect(expiresOn).toHaveAttribute('aria-invalid', 'true');
  await expiresOn.fill(addDays(today, 30));
  await consent.getByRole('button', { name: 'Save' }).click();

  // Active: green and marked in text
  const rows = consent.locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Active (latest)');
  await expect(rows.first()).toHaveClass(/active/);
  const background = await rows.first().locator('td').first().evaluate((td) => getComputedStyle(td).backgroundColor);
  expect(background).toBe('rgb(220, 245, 227)');

  // A second New record overrides the first (which becomes Inactive)
  await consent.getByRole('button', { name: 'New' }).click();
  await expect(consent.getByLabel('Given On')).toBeFocused();
  await consent.getByRole('button', { name: 'Save' }).click();
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1)).toContainText('Inactive');
  await checkA11y(page);
  await snap(page, 'front-desk-consent', { docs: true });

  // 409: only the latest record can be revoked; the answer is shown beside Revoke
  await rows.nth(1).focus();
  await page.keyboard.press('Enter');
  await consent.getByRole('button', { name: 'Revoke' }).click();
  await consent.getByLabel('Reason for revoking').fill('wrong record');
  await consent.getByRole('button', { name: 'Revoke consent' }).click();
  await expect(consent.getByRole('alert')).toContainText(/latest/i);

  // Revoke the latest with a reason, confirmed in the dialog
  await rows.first().click();
  await consent.getByRole('button', { name: 'Revoke' }).click();
  const dialog = consent.getByRole('dialog', { name: 'Revoke consent?' });
  await expect(dialog).toBeVisible();
  await checkA11y(page);
  await snap(page, 'front-desk-revoke-dialog', { docs: true, fullPage: false });
  await consent.getByLabel('Reason for revoking').fill('Patient asked to stop sharing');
  await consent.getByRole('button', { name: 'Revoke consent' }).click();
  await expect(dialog).toBeHidden();
  await expect(rows.first()).toContainText('Revoked (latest)');
  await expect(rows.first()).toContainText('Reason: Patient asked to stop sharing');
  await expect(consent.getByText('No active consent')).toBeVisible();

  // Find the patient again: by MRN, then by last-name prefix + birth date
  await page.getByRole('link', { name: 'Find a patient' }).first().click();
  await page.getByLabel('MRN').fill(PATIENT.mrn);
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('link', { name: `${PATIENT.last}, ${PATIENT.first}` })).toBeVisible();
  await page.getByLabel('MRN').fill('');
  await page.getByLabel('Last name (beginning)').fill('testw');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.locator('[data-error-for="birth_date"]')).not.toBeEmpty();
  await page.getByLabel('Birth date').fill(PATIENT.birth);
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('link', { name: `${PATIENT.last}, ${PATIENT.first}` })).toBeVisible();
  await checkA11y(page);
  await snap(page, 'front-desk-search', { docs: true });
  await page.getByRole('link', { name: `${PATIENT.last}, ${PATIENT.first}` }).click();
  await expect(page.getByRole('heading', { name: 'Appointments and HIE status' })).toBeVisible();

  await expectNoPatientDataStored(page, PHI);
  expectNoPatientDataLogged(server, PHI);
});
