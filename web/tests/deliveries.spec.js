// CRM → EHR deliveries: a CRM webhook whose EHR refuses connections parks its delivery; the admin
// finds it in the browser, redrives it once the EHR listens, and it is delivered.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test, expect, checkA11y, snap, signInLocal, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';
import { arrangeChannel, eventually, freePort, mllpEhr } from './admin-support.js';

const TOKEN = 'web-test-webhook-token-not-real';
const PAYLOAD = JSON.parse(readFileSync(new URL('../../events/crm-outbound/lead-update.payload.json', import.meta.url), 'utf8'));
const PHI = [PAYLOAD.FirstName, PAYLOAD.LastName, PAYLOAD.mx_MRN, PAYLOAD.EmailAddress, PAYLOAD.mx_Street1];

test('deliveries: a parked delivery is redriven from the browser and delivered', async ({ page, server }) => {
  const port = await freePort();
  await arrangeChannel(server, 'park-ehr', 'park-hmac-not-real', {
    outbound: { type: 'mllp', host: '127.0.0.1', port, connect_timeout_ms: 500, max_attempts: 1, backoff_initial_ms: 100, backoff_max_ms: 100 },
    crm_webhook: { token_hash: createHash('sha256').update(TOKEN).digest('hex') },
  });
  await server.api('PUT', '/flows/lead-updates-to-ehr', {
    name: 'Lead updates to the EHR',
    channel_id: 'park-ehr',
    direction: 'crm_to_ehr',
    entity: 'lead',
    event_type: 'ADT^A08',
    webhook_event: 'lead_update',
    time_zone: 'America/New_York',
    primary_search: { crm_field: 'mx_MRN', hl7_path: 'PID-3.1' },
    mrn_crm_field: 'mx_MRN',
    template: 'MSH|^~\\&|CONNECTOR|CRM|EHR|NORTHCLINIC|20260101000000||ADT^A08^ADT_A01|TEMPLATE|P|2.5\rEVN|A08|20260101000000\rPID|1||SAMPLE^^^NORTH^MR||Sample^Patient\rPV1|1|O',
    mappings: [
      { hl7_path: 'PID-3.1', crm_field: 'mx_MRN', required: true },
      { hl7_path: 'PID-5.1', crm_field: 'LastName', required: true },
      { hl7_path: 'PID-5.2', crm_field: 'FirstName' },
    ],
  });
  // The EHR is down: nothing listens on the port, and one attempt is all the channel allows.
  await server.api('POST', '/crm/webhooks/park-ehr?event=lead_update', PAYLOAD, { headers: { 'x-connector-webhook-token': TOKEN } });
  const [parked] = await eventually(async () => {
    const { deliveries } = await server.api('GET', '/deliveries?state=parked');
    return deliveries.length ? deliveries : null;
  }, 20_000, 'a parked delivery');

  await signInLocal(page, { user: 'robin', role: 'admin' });
  await page.goto('/#/deliveries');
  await page.getByLabel('State').selectOption('parked');
  const row = page.locator('table.data tbody tr', { hasText: parked.control_id });
  await expect(row).toContainText('parked');
  await expect(page.locator('table.data tbody tr')).toHaveCount(1);
  await row.click();
  const detail = page.getByRole('region', { name: `Delivery ${parked.delivery_id}` });
  await expect(detail).toContainText('Not sent: the EHR could not be reached (not_sent)');
  await checkA11y(page);
  await snap(page, 'deliveries', { docs: true });

  // The EHR is back; redrive (confirmed in a dialog) and the message is delivered once.
  const ehr = await mllpEhr(port);
  try {
    await detail.getByRole('button', { name: 'Redrive' }).click();
    const dialog = page.getByRole('dialog', { name: 'Redrive this delivery?' });
    await expect(dialog).toBeVisible();
    await checkA11y(page);
    await dialog.getByRole('button', { name: 'Redrive' }).click();
    await expect(page.getByRole('status')).toHaveText('1 delivery queued again.');
    await eventually(async () => (await server.api('GET', `/deliveries/${parked.delivery_id}`)).state === 'delivered', 20_000, 'the delivery delivered');
    expect(ehr.received).toEqual([{ event: 'ADT^A08^ADT_A01', controlId: parked.control_id }]);
    await page.getByLabel('State').selectOption('delivered');
    await expect(page.locator('table.data tbody tr', { hasText: parked.control_id })).toContainText('delivered');
  } finally {
    await ehr.close();
  }
  await expectNoPatientDataStored(page, PHI);
  expectNoPatientDataLogged(server, PHI);
});
