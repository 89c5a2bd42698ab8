// Front desk: register a patient, the consent cycle of seed 000 (New with the configured defaults,
// Save, the Active record green and marked in text, Revoke with a reason; 409 and 422 shown beside
// their cause), and finding the patient again by MRN and by last name + birth date.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test, expect, CONNECTOR_BIN, checkA11y, snap, signInLocal, fillPatientForm, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';

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
  await fillPatientForm(page, PATIENT);
  await page.getByLabel('E-mail').fill('not-an-address');
  await page.getByRole('button', { name: 'Register' }).click();
  const email = page.getByLabel('E-mail');
  await expect(email).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('[data-error-for="email"]')).toContainText('e-mail address');
  await expect(email).toBeFocused();
  await checkA11y(page);
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

  // Registering the same patient ID again does not overwrite them
  await page.getByRole('link', { name: 'Register a patient' }).click();
  await page.getByLabel('Patient ID').fill(PATIENT.id);
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.locator('[data-error-for="patient_id"]')).toContainText('already registered');

  await expectNoPatientDataStored(page, PHI);
  expectNoPatientDataLogged(server, PHI);
});

test('front desk: a patient’s appointments with their HIE status, and Resend for admins', async ({ page, server }) => {
  await server.api('PUT', '/settings/hie', {
    enabled: true,
    default_to_address: 'intake@direct.examplehie.org',
    default_from_address: 'records@direct.exampleclinic.org',
    next_batch_start_time: '2020-01-01T00:00:00Z',
    safety_lag_seconds: 0,
  });
  const staff = { user: 'dana', role: 'staff' };
  await server.api('PUT', '/patients/p-appt-1', { mrn: 'MRN-APPT-1', first_name: 'Ada', last_name: 'Apptwell', birth_date: '1966-03-03', sex: 'F' }, staff);
  await server.api('POST', '/patients/p-appt-1/consents', {}, staff);
  const appointment = (id, start) => ({
    patient_id: 'p-appt-1', scheduled_start: start, provider: { id: 'NPI-1234567890', name: 'Dr. Rowan Ashby' },
    location: 'CLINIC-2', reason: 'follow-up', status: 'complete',
  });
  await server.api('PUT', '/appointments/a-sent', appointment('a-sent', '2026-11-20T09:30:00Z'), staff);
  await server.api('POST', '/appointments/a-sent/transition', {}, staff);
  await server.api('PUT', '/appointments/a-open', appointment('a-open', '2026-11-21T09:30:00Z'), staff);
  // One batch run on the same database sends the transitioned appointment
  execFileSync(CONNECTOR_BIN, ['collect', '--db', join(server.dir, 'c.db'), '--outbox', join(server.dir, 'outbox')]);

  await signInLocal(page, { user: 'robin', role: 'admin' });
  await page.goto('/#/patients/p-appt-1');
  const table = page.locator('section', { has: page.getByRole('heading', { name: 'Appointments and HIE status' }) });
  const rows = table.locator('tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1)).toContainText('Sent');
  await expect(rows.nth(1)).toContainText('control id');
  await expect(rows.first()).toContainText('Not eligible');

  // Resend: refused for the appointment never transitioned (409 beside its button), queued for the sent one
  await page.getByRole('button', { name: 'Resend appointment a-open' }).click();
  await expect(rows.first().getByRole('alert')).toContainText('not been transitioned');
  await page.getByRole('button', { name: 'Resend appointment a-sent' }).click();
  await expect(page.locator('#status')).toHaveText('Queued to be sent again');
  await checkA11y(page);
  await snap(page, 'front-desk-appointments', { docs: true });
});
