// Audit log report (admin): filter by log type and patient, a row's detail, and the CSV export
// (every page of the filter, RFC 4180 quoting) downloaded and read back.
import { readFileSync } from 'node:fs';
import { test, expect, checkA11y, snap, signInLocal, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';

const PATIENTS = [
  { id: 'p-audit-1', mrn: 'MRN-AUD-0001', first_name: 'Juniper', last_name: 'Testwell', birth_date: '1980-02-29', sex: 'F' },
  { id: 'p-audit-2', mrn: 'MRN-AUD-0002', first_name: 'Rowan', last_name: 'Samplely', birth_date: '1975-06-01', sex: 'M' },
];
const PHI = PATIENTS.flatMap((p) => [p.mrn, p.first_name, p.last_name, p.birth_date]);

test('audit: filter, detail, and a CSV of every page of the filter', async ({ page, server }) => {
  const staff = { user: 'dana', role: 'staff' };
  for (const { id, ...demographics } of PATIENTS) await server.api('PUT', `/patients/${id}`, demographics, staff);
  // Three consent changes for the first patient (two gives and a revoke), one for the second.
  await server.api('POST', '/patients/p-audit-1/consents', { given_on: '2026-01-05' }, staff);
  const second = await server.api('POST', '/patients/p-audit-1/consents', {}, staff);
  await server.api('POST', `/patients/p-audit-1/consents/${second.consent_id}/revoke`, { reason: 'patient asked, "in writing", today' }, staff);
  await server.api('POST', '/patients/p-audit-2/consents', {}, staff);
  const expected = await server.api('GET', '/audit-entries?log_type=hie_consent_changes&patient_id=p-audit-1');
  expect(expected.items.length).toBeGreaterThanOrEqual(3);

  await signInLocal(page, { user: 'robin', role: 'admin' });
  await page.goto('/#/audit');
  await expect(page.getByRole('heading', { name: 'Audit log', level: 1 })).toBeVisible();
  await page.getByLabel('Log type').selectOption('hie_consent_changes');
  await page.getByLabel('Patient id').fill('p-audit-1');
  await page.getByRole('button', { name: 'Display Results' }).click();
  const rows = page.locator('table.data tbody tr');
  await expect(rows).toHaveCount(expected.items.length);
  await expect(rows.filter({ hasText: 'p-audit-2' })).toHaveCount(0);
  await expect(rows.first()).toContainText('consent.revoked');
  await checkA11y(page);

  // A row opens the entry's detail (keyboard: focus and Enter).
  await rows.first().focus();
  await page.keyboard.press('Enter');
  const detail = page.getByRole('region', { name: /^Entry / });
  await expect(detail).toContainText(expected.items[0].entry_id);
  await expect(detail.getByRole('heading', { name: /^Entry / })).toBeFocused();
  await snap(page, 'audit', { docs: true });

  // Export: all pages of the current filter (the screen asks 500 at a time; here every entry).
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^audit-log-\d{4}-\d{2}-\d{2}\.csv$/);
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.split('\r\n');
  expect(lines[0]).toBe('entry_id,occurred_at,log_type,action,outcome,actor_user,actor_role,patient_id,appointment_id,consent_id,detail');
  expect(lines).toHaveLength(expected.items.length + 1);
  for (const [i, entry] of expected.items.entries()) {
    expect(lines[i + 1].startsWith(`${entry.entry_id},${entry.occurred_at},hie_consent_changes,${entry.action},${entry.outcome},dana,staff,p-audit-1,`)).toBe(true);
    // The detail JSON is one quoted field with its quotes doubled (RFC 4180).
    expect(lines[i + 1]).toContain(`"${JSON.stringify(entry.detail).replaceAll('"', '""')}"`);
  }
  await expectNoPatientDataStored(page, PHI);
  for (const value of PHI) expect(csv).not.toContain(value);
  expectNoPatientDataLogged(server, PHI);
});
