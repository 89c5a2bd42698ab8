// Batch preview, "Run the batch now", and the dashboard's charts with the real counts: one
// appointment sent and one skipped by a batch run from the browser, an AA and an AR inbound.
import { readFileSync } from 'node:fs';
import { test, expect, checkA11y, snap, signInLocal, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';
import { arrangeChannel, eventually, postHl7 } from './admin-support.js';

const PATIENTS = {
  'p-dash-1': { mrn: 'MRN-DASH-0001', first_name: 'Juniper', last_name: 'Testwell', birth_date: '1980-02-29', sex: 'F' },
  'p-dash-2': { mrn: 'MRN-DASH-0002', first_name: 'Rowan', last_name: 'Samplely', birth_date: '1975-06-01', sex: 'M' },
};
const ADT = readFileSync(new URL('../../events/hl7-inbound/adt-a04.hl7', import.meta.url), 'utf8');
const PHI = [...Object.values(PATIENTS).flatMap((p) => [p.mrn, p.first_name, p.last_name, p.birth_date]), 'MRN20001', 'Rivera'];

test('batch preview, run now, and the dashboard charts show the real counts', async ({ page, server }) => {
  const staff = { user: 'dana', role: 'staff' };
  await server.api('PUT', '/settings/hie', {
    enabled: true,
    default_to_address: 'intake@direct.examplehie.org',
    default_from_address: 'records@direct.exampleclinic.org',
    safety_lag_seconds: 0,
    next_batch_start_time: new Date(Date.now() - 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  });
  for (const [id, demographics] of Object.entries(PATIENTS)) await server.api('PUT', `/patients/${id}`, demographics, staff);
  await server.api('POST', '/patients/p-dash-1/consents', {}, staff);
  for (const [appointment, patient] of [['a-dash-1', 'p-dash-1'], ['a-dash-2', 'p-dash-2']]) {
    await server.api('PUT', `/appointments/${appointment}`, { patient_id: patient, scheduled_start: new Date(Date.now() - 7200_000).toISOString(), provider: { id: 'NPI-1234567890', name: 'Dr. Example' }, location: 'CLINIC-2', reason: 'follow-up', status: 'complete' }, staff);
    await server.api('POST', `/appointments/${appointment}/transition`, undefined, staff);
  }
  // Inbound HL7: an ADT^A04 the HIE side takes (AA) and an event nothing takes (AR).
  await arrangeChannel(server, 'dash-ehr', 'dash-hmac-not-real');
  expect((await postHl7(server, 'dash-ehr', 'dash-hmac-not-real', ADT)).ack).toContain('MSA|AA|');
  const oru = ADT.replace('ADT^A04^ADT_A01', 'ORU^R01^ORU_R01').replace('NE-A04-0001', 'NE-ORU-0001');
  expect((await postHl7(server, 'dash-ehr', 'dash-hmac-not-real', oru)).ack).toContain('MSA|AR|');

  // An admin's first screen is the dashboard.
  await signInLocal(page, { user: 'robin', role: 'admin' });
  await expect(page).toHaveURL(/#\/dashboard$/);
  await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible();
  await expect(page.locator('#last-batch-run')).toContainText('No batch has run yet.');

  // The batch preview: who goes, who is skipped and why.
  await page.goto('/#/batch');
  const row = (id) => page.locator('table.data tbody tr', { hasText: id });
  await expect(row('a-dash-1')).toContainText('Goes in the next batch');
  await expect(row('a-dash-1')).toContainText('Active consent');
  await expect(row('a-dash-2')).toContainText('Skipped');
  await expect(row('a-dash-2')).toContainText('No consent record');
  await checkA11y(page);
  await snap(page, 'batch', { docs: true });

  await page.getByRole('button', { name: 'Run the batch now' }).click();
  await expect(page.locator('.run-result')).toContainText('1 queued, 1 skipped, 0 errors');
  await expect(row('a-dash-1')).toHaveCount(0);
  await eventually(async () => (await server.api('GET', '/dashboard')).hie_sent_per_day.some((d) => d.sent === 1), 20_000, 'the HIE message sent');

  // The dashboard: charts and their text alternatives carry the same real counts.
  await page.goto('/#/dashboard');
  await expect(page.locator('#hie-sent-summary')).toHaveText(/: 1 sent, 0 errors\.$/);
  await expect(page.locator('#hl7-inbound-summary')).toHaveText('Last 24 hours: 1 AA, 0 AE, 1 AR.');
  const chartTotals = await page.evaluate(() => {
    const total = (id, i) => window.Chart.getChart(id).data.datasets[i].data.reduce((a, b) => a + b, 0);
    return { sent: total('hie-sent-chart', 0), errors: total('hie-sent-chart', 1), AA: total('hl7-inbound-chart', 0), AE: total('hl7-inbound-chart', 1), AR: total('hl7-inbound-chart', 2) };
  });
  expect(chartTotals).toEqual({ sent: 1, errors: 0, AA: 1, AE: 0, AR: 1 });
  await expect(page.locator('#hie-sent-chart')).toHaveAttribute('role', 'img');
  await expect(page.locator('#hie-sent-chart')).toHaveAttribute('aria-label', /1 sent/);
  await expect(page.locator('#last-batch-run')).toContainText('Queued1');
  await expect(page.locator('#last-batch-run')).toContainText('Skipped1');
  await expect(page.locator('#delivery-counts')).toContainText('0 parked');
  await snap(page, 'dashboard', { docs: true });
  await page.getByText('Inbound HL7 per hour by ACK code: the numbers').click();
  await expect(page.getByRole('region', { name: 'Inbound HL7 per hour by ACK code: the numbers' })).toBeVisible();
  await checkA11y(page);

  await expectNoPatientDataStored(page, PHI);
  expectNoPatientDataLogged(server, PHI);
});
