// Integration: a channel created in the browser (its HMAC secret entered write-only, shown only as
// set), then the flow wizard in seed 003's steps ending in a saved flow that turns a signed HL7
// ADT^A04 into a lead in the CRM `connector serve` uses; the message log shows it.
import { readFileSync } from 'node:fs';
import { test, expect, checkA11y, snap, signInLocal, expectNoPatientDataStored, expectNoPatientDataLogged } from './support.js';
import { crmLeads, postHl7 } from './admin-support.js';

const SECRET = 'web-test-hmac-key-not-real';
const TEMPLATE = readFileSync(new URL('../../events/hl7-inbound/adt-a04.hl7', import.meta.url), 'utf8');
// The message processed after saving: another invented patient than the template's.
const MESSAGE = TEMPLATE.replace('MRN20001', 'MRN-WEB-7001').replace('Rivera^Casey^J', 'Quillfeather^Ember^R').replace('NE-A04-0001', 'WEB-A04-0001');
const PHI = ['MRN20001', 'Rivera', 'Casey', 'MRN-WEB-7001', 'Quillfeather', 'Ember', '19870412', 'casey.rivera@example.org'];

test('flow wizard: a channel, a flow built step by step, tested, saved, then a message becomes a lead', async ({ page, server }) => {
  await signInLocal(page, { user: 'robin', role: 'admin' });

  // Channels: create one; the secret value is write-only and shown as set / not set.
  await page.goto('/#/channels');
  await expect(page.getByText('No channel yet')).toBeVisible();
  await page.getByRole('button', { name: 'New channel' }).click();
  await page.getByLabel('Channel id').fill('web-ehr');
  await page.getByLabel('Name', { exact: true }).fill('Web test EHR');
  await page.getByLabel('Secret reference').fill('local:web-ehr-hmac');
  await page.getByLabel('New secret value (write-only)').fill(SECRET);
  await checkA11y(page);
  await page.getByRole('button', { name: 'Save channel' }).click();
  const channelRow = page.locator('table.data tbody tr', { hasText: 'web-ehr' });
  await expect(channelRow).toBeVisible();
  await channelRow.click();
  await expect(page.locator('[data-secret="inbound.secret"]')).toHaveText('Secret: set');
  await expect(page.getByLabel('New secret value (write-only)')).toHaveValue('');
  expect(JSON.stringify(await server.api('GET', '/channels/web-ehr'))).not.toContain(SECRET);
  await snap(page, 'channels', { docs: true });

  // The wizard: 1. flow details.
  await page.goto('/#/flows');
  await page.getByRole('button', { name: 'Create Flow' }).click();
  await expect(page).toHaveURL(/#\/flows\/new$/);
  await page.getByLabel('Flow name').fill('Web registrations');
  await page.getByLabel('Flow description').fill('ADT^A04 registrations become leads');
  await page.getByLabel('Channel').selectOption('web-ehr');
  await page.getByLabel('Flow type').selectOption('ehr_to_crm');
  await page.getByLabel('Entity').selectOption('lead');
  await checkA11y(page);
  await page.getByRole('button', { name: 'Save & Next' }).click();

  // 2. Sync behaviours, search keys and the MRN rule.
  await page.getByLabel('Sync behaviour – Lead').selectOption('capture');
  await expect(page.locator('[data-help="lead_sync"]')).toHaveText('Records only in the EHR are created in the CRM; records in both are updated.');
  await expect(page.getByLabel('Sync behaviour – Activity'), 'asked for activity flows only').toBeHidden();
  await page.getByLabel('Primary search key: CRM field').fill('mx_MRN');
  await page.getByLabel('Primary search key: HL7 path').fill('PID-3.1');
  await page.getByLabel('Secondary search key: CRM field').fill('EmailAddress');
  await page.getByLabel('Secondary search key: HL7 path').fill('PID-13[2].4');
  await expect(page.getByText(/must be the CRM field of the primary or the secondary search key/)).toBeVisible();
  await page.getByLabel('MRN field').selectOption('mx_MRN');
  await page.getByRole('button', { name: 'Save & Next' }).click();

  // 3. Additional settings, as dropdowns.
  await page.getByLabel('Lead source').selectOption('EHR Connector');
  await page.getByLabel('Default country code').selectOption('+1');
  await page.getByLabel('Time zone').selectOption('America/New_York');
  await page.getByRole('button', { name: 'Save & Next' }).click();

  // 4. HL7 event type and template.
  await page.getByLabel('HL7 event type').selectOption('ADT^A04');
  await page.getByLabel('HL7 message template').fill(TEMPLATE.replaceAll('\r', '\n'));
  await page.getByRole('button', { name: 'Save & Next' }).click();

  // 5. Mapping: every template field with its dictionary name; its value on hover and on focus.
  const fieldButton = (path) => page.locator(`button.hl7-field[data-path="${path}"]`);
  await expect(fieldButton('PID-5.1')).toBeVisible();
  const familyRow = page.locator('tr[data-hl7-path="PID-5.1"]');
  await expect(familyRow).toContainText('Family Name');
  await fieldButton('PID-5.1').hover();
  await expect(page.getByRole('tooltip')).toHaveText('Value: Rivera');
  await fieldButton('PID-3.1').focus();
  await expect(page.getByRole('tooltip', { name: /MRN20001/ })).toBeVisible();
  await expect(fieldButton('PID-3.1')).toHaveAccessibleDescription('Value: MRN20001');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('tooltip')).toHaveCount(0);
  await checkA11y(page);

  const mapTo = async (path, crmField, { required = false, transform } = {}) => {
    const row = page.locator(`tr[data-hl7-path="${path}"]`);
    await row.getByLabel(`CRM field for ${path}`).fill(crmField);
    if (required) await row.getByLabel(`${path} is required`).check();
    if (transform) {
      await row.getByRole('button', { name: 'Add transform' }).click();
      await row.getByLabel(`Transform for ${path}`).selectOption(transform.type);
      if (transform.param) await row.getByLabel(`Transform parameter for ${path}`).fill(transform.param);
    }
  };
  await mapTo('PID-3.1', 'mx_MRN', { required: true });
  await mapTo('PID-5.1', 'LastName', { required: true });
  await mapTo('PID-5.2', 'FirstName', { transform: { type: 'trim' } });
  await mapTo('PID-8', 'mx_Gender', { transform: { type: 'value_map', param: 'F=Female; M=Male; *=Other' } });
  await mapTo('PID-13[2].4', 'EmailAddress', { transform: { type: 'lower' } });

  // A mapping the API refuses lands beside its input: a required field without a CRM field is
  // not possible here, so refuse a CRM field name instead and correct it.
  await page.locator('tr[data-hl7-path="PID-7"]').getByLabel('CRM field for PID-7').fill('not a field!');
  await page.getByRole('button', { name: 'Save & Close' }).click();
  const badField = page.locator('tr[data-hl7-path="PID-7"]').getByLabel('CRM field for PID-7');
  await expect(badField).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('tr[data-hl7-path="PID-7"] .field-error')).toBeVisible();
  await badField.fill('mx_Date_of_Birth');
  await page.locator('tr[data-hl7-path="PID-7"]').getByRole('button', { name: 'Add transform' }).click();
  await page.locator('tr[data-hl7-path="PID-7"]').getByLabel('Transform for PID-7').selectOption('date');
  await page.locator('tr[data-hl7-path="PID-7"]').getByLabel('Transform parameter for PID-7').fill('%Y-%m-%d');

  // Test: the CRM operations the flow would perform on the template, before saving.
  await page.getByRole('button', { name: 'Test' }).click();
  const preview = page.getByRole('region', { name: 'Test: what this flow would do' });
  await expect(preview).toContainText('Search by mx_MRN (primary, from PID-3.1) = MRN20001');
  await expect(preview).toContainText('creates the lead when none is found');
  await expect(preview.locator('table').first()).toContainText('Female');
  await expect(preview.locator('table').first()).toContainText('1987-04-12');
  await snap(page, 'flow-wizard-test', { docs: true });
  // The mapping screen as the README shows it: a field's value on hover.
  await familyRow.scrollIntoViewIfNeeded();
  await fieldButton('PID-5.1').hover();
  await expect(page.getByRole('tooltip')).toHaveText('Value: Rivera');
  await snap(page, 'flow-wizard-mapping', { docs: true, fullPage: false });
  expect((await server.api('GET', '/flows')).items, 'Test saves nothing').toHaveLength(0);

  // Save & Close: the flow is stored and listed.
  await page.getByRole('button', { name: 'Save & Close' }).click();
  await expect(page).toHaveURL(/#\/flows$/);
  await expect(page.locator('table.data tbody tr', { hasText: 'Web registrations' })).toContainText('ADT^A04');
  await checkA11y(page);
  await snap(page, 'flows');
  const [flow] = (await server.api('GET', '/flows')).items;
  expect(flow).toMatchObject({ channel_id: 'web-ehr', direction: 'ehr_to_crm', entity: 'lead', lead_sync: 'capture', mrn_crm_field: 'mx_MRN', lead_source: 'EHR Connector', default_country_code: '+1', time_zone: 'America/New_York' });
  expect(flow.mappings.find((m) => m.hl7_path === 'PID-8').transforms).toEqual([{ type: 'value_map', map: { F: 'Female', M: 'Male' }, otherwise: 'Other' }]);
  // A saved flow opens in the wizard with what was stored, mappings included.
  await page.locator('table.data tbody tr', { hasText: 'Web registrations' }).click();
  await expect(page).toHaveURL(new RegExp(`#/flows/${flow.flow_id}$`));
  await expect(page.getByLabel('Flow name')).toHaveValue('Web registrations');
  for (let i = 0; i < 4; i += 1) await page.getByRole('button', { name: 'Save & Next' }).click();
  await expect(page.locator('tr[data-hl7-path="PID-8"]').getByLabel('Transform parameter for PID-8')).toHaveValue('F=Female; M=Male; *=Other');

  // The saved flow processes a signed message into a lead in the CRM the server uses.
  const { status, ack } = await postHl7(server, 'web-ehr', SECRET, MESSAGE.replaceAll('\n', '\r'));
  expect(status).toBe(200);
  expect(ack).toContain('MSA|AA|WEB-A04-0001');
  const leads = crmLeads(server);
  expect(leads).toHaveLength(1);
  expect(leads[0].fields).toMatchObject({ mx_MRN: 'MRN-WEB-7001', LastName: 'Quillfeather', FirstName: 'Ember', mx_Gender: 'Female', mx_Date_of_Birth: '1987-04-12', Source: 'EHR Connector' });

  // The message log shows it with its ACK and the flow's outcome, by channel.
  await page.goto('/#/messages');
  await page.getByLabel('Channel').selectOption('web-ehr');
  await page.getByRole('button', { name: 'Show messages' }).click();
  await expect(page.locator('.form-error, .field-error').filter({ visible: true }), 'the channel filter is accepted').toHaveCount(0);
  const messageRow = page.locator('table.data tbody tr', { hasText: 'WEB-A04-0001' });
  await expect(messageRow).toContainText('AA');
  await expect(messageRow).toContainText(flow.flow_id);
  await messageRow.click();
  await expect(page.getByRole('region', { name: /^Message WEB-A04-0001/ })).toContainText(leads[0].lead_id);
  await checkA11y(page);
  await snap(page, 'messages', { docs: true });

  await expectNoPatientDataStored(page, PHI);
  expectNoPatientDataLogged(server, PHI);
});
