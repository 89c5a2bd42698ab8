// The flow wizard (integration), in seed 003's steps: flow details > sync behaviours > additional
// settings > HL7 event and template > mapping. The mapping step lists every field of the template
// (POST /flows/template-fields) with its data-dictionary name and its value (on hover and on
// keyboard focus); Test shows what the flow would do (POST /flows/test); Save & Close stores it.
import { el, field, showFieldErrors, clearFieldErrors } from '../ui.js';
import { LABELS, timeZones, validationError } from './admin-kit.js';
import { mappingStep, readMappings } from './flow-mapping.js';

export const screen = { path: '#/flows/:id', title: 'Flow', nav: null, roles: ['admin'] };

const STEPS = ['Flow details', 'Sync behaviours', 'Additional settings', 'HL7 event and template', 'Mapping'];

/** Which step holds an input (by its API field name), for showing a 422 problem beside it. */
const STEP_OF = [
  [/^(name|description|channel_id|direction|entity|webhook_event|enabled)$/, 0],
  [/^(lead_sync|activity_sync|activity_type|activity_match|primary_search|secondary_search|mrn_crm_field)/, 1],
  [/^(lead_source|default_country_code|time_zone)$/, 2],
  [/^(event_type|template)$/, 3],
  [/^(mappings|message|payload)/, 4],
];

const EVENTS = [
  ['ADT^A01', 'ADT – A01 Admit/visit notification'],
  ['ADT^A04', 'ADT – A04 Register a patient'],
  ['ADT^A05', 'ADT – A05 Pre-admit a patient'],
  ['ADT^A08', 'ADT – A08 Update patient information'],
  ['ADT^A28', 'ADT – A28 Add person information'],
  ['ADT^A31', 'ADT – A31 Update person information'],
  ['SIU^S12', 'SIU – S12 Notification of new appointment booking'],
  ['SIU^S13', 'SIU – S13 Notification of appointment rescheduling'],
  ['SIU^S14', 'SIU – S14 Notification of appointment modification'],
  ['SIU^S15', 'SIU – S15 Notification of appointment cancellation'],
  ['SIU^S26', 'SIU – S26 Patient did not show up for appointment'],
  ['DFT^P03', 'DFT – P03 Post detail financial transaction'],
];

const COUNTRY_CODES = [
  ['', 'None'],
  ['+1', '+1 United States, Canada'],
  ['+44', '+44 United Kingdom'],
  ['+52', '+52 Mexico'],
  ['+61', '+61 Australia'],
  ['+63', '+63 Philippines'],
  ['+91', '+91 India'],
  ['+971', '+971 United Arab Emirates'],
];

const LEAD_SOURCES = ['EHR Connector', 'EHR', 'Patient Portal', 'Referral', 'Walk-in'];

const SYNC_HELP = {
  capture: 'Records only in the EHR are created in the CRM; records in both are updated.',
  create_only: 'Records only in the EHR are created in the CRM; existing ones are left as they are.',
  update_only: 'Records in both are updated; nothing new is created.',
  do_nothing: 'Nothing is done when the record is created or updated in the EHR.',
};

export async function render(root, ctx) {
  const isNew = ctx.params.id === 'new';
  const [flow, channels] = await Promise.all([
    isNew ? Promise.resolve(null) : ctx.api.get(`/flows/${encodeURIComponent(ctx.params.id)}`),
    ctx.api.get('/channels'),
  ]);
  const f = flow ?? {};
  const zones = timeZones();
  let step = 0;

  const opt = (pairs) => pairs.map(([value, label]) => ({ value, label }));
  const syncOptions = opt(Object.entries(LABELS.sync));
  const leadSources = [...new Set([...(f.lead_source ? [f.lead_source] : []), ...LEAD_SOURCES])];
  const steps = el('ol', { class: 'wizard-steps' });
  const form = el('form', { novalidate: '', class: 'form wizard' });
  const mrnNote = el('span', { id: 'mrn-rule' });

  const panels = [
    el(
      'fieldset',
      {},
      el('legend', {}, STEPS[0]),
      field({ label: 'Flow name', name: 'name', value: f.name ?? '' }),
      field({ label: 'Flow description', name: 'description', type: 'textarea', value: f.description ?? '' }),
      field({ label: 'Channel', name: 'channel_id', type: 'select', value: f.channel_id ?? channels.items[0]?.channel_id ?? '', options: channels.items.map((c) => ({ value: c.channel_id, label: `${c.name} (${c.channel_id})` })), hint: channels.items.length ? '' : 'No channel yet: create one under Channels first.' }),
      field({ label: 'Flow type', name: 'direction', type: 'select', value: f.direction ?? 'ehr_to_crm', options: opt([['ehr_to_crm', 'EHR to CRM'], ['crm_to_ehr', 'CRM to EHR']]) }),
      field({ label: 'Entity', name: 'entity', type: 'select', value: f.entity ?? 'lead', options: opt([['lead', 'Lead'], ['activity', 'Activity']]) }),
      el('div', { 'data-when': 'crm_to_ehr' }, field({ label: 'CRM webhook event', name: 'webhook_event', type: 'select', value: f.webhook_event ?? 'lead_update', options: opt([['lead_create', 'Lead create'], ['lead_update', 'Lead update'], ['activity_create', 'Lead activity create'], ['activity_update', 'Lead activity update']]) })),
      field({ label: 'Enabled', name: 'enabled', type: 'checkbox', value: f.enabled ?? true }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, STEPS[1]),
      el(
        'div',
        { 'data-when': 'ehr_to_crm' },
        field({ label: 'Sync behaviour – Lead', name: 'lead_sync', type: 'select', value: f.lead_sync ?? 'capture', options: syncOptions, hint: el('span', { 'data-help': 'lead_sync' }) }),
        el(
          'div',
          { 'data-when': 'activity' },
          field({ label: 'Sync behaviour – Activity', name: 'activity_sync', type: 'select', value: f.activity_sync ?? 'capture', options: syncOptions, hint: el('span', { 'data-help': 'activity_sync' }) }),
          field({ label: 'Activity type (CRM ActivityEvent code)', name: 'activity_type', type: 'number', value: f.activity_type != null ? String(f.activity_type) : '' }),
          field({ label: 'Activity match: CRM field', name: 'activity_match.crm_field', value: f.activity_match?.crm_field ?? '', hint: 'The activity field that finds an existing activity, e.g. mx_Custom_1.' }),
          field({ label: 'Activity match: HL7 path', name: 'activity_match.hl7_path', value: f.activity_match?.hl7_path ?? '', hint: 'e.g. SCH-1.1 (the appointment id).' }),
        ),
      ),
      field({ label: 'Primary search key: CRM field', name: 'primary_search.crm_field', value: f.primary_search?.crm_field ?? 'mx_MRN', hint: 'A unique lead field, e.g. mx_MRN.' }),
      field({ label: 'Primary search key: HL7 path', name: 'primary_search.hl7_path', value: f.primary_search?.hl7_path ?? 'PID-3.1' }),
      field({ label: 'Secondary search key: CRM field', name: 'secondary_search.crm_field', value: f.secondary_search?.crm_field ?? '', hint: 'Optional: tried when the primary key finds no lead.' }),
      field({ label: 'Secondary search key: HL7 path', name: 'secondary_search.hl7_path', value: f.secondary_search?.hl7_path ?? '' }),
      field({ label: 'MRN field', name: 'mrn_crm_field', type: 'select', value: f.mrn_crm_field ?? 'mx_MRN', options: [], hint: mrnNote }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, STEPS[2]),
      el('div', { 'data-when': 'ehr_to_crm' }, field({ label: 'Lead source', name: 'lead_source', type: 'select', value: f.lead_source ?? 'EHR Connector', options: [{ value: '', label: 'None' }, ...leadSources.map((s) => ({ value: s, label: s }))], hint: 'Shown on the lead as its Lead Source.' })),
      field({ label: 'Default country code', name: 'default_country_code', type: 'select', value: f.default_country_code ?? '+1', options: opt(COUNTRY_CODES), hint: 'Added to phone numbers that arrive without one (phone_e164 mappings need it).' }),
      field({ label: 'Time zone', name: 'time_zone', type: 'select', value: f.time_zone ?? 'UTC', options: zones.map((z) => ({ value: z, label: z })), hint: 'The time zone HL7 times without an offset are read in.' }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, STEPS[3]),
      field({ label: 'HL7 event type', name: 'event_type', type: 'select', value: f.event_type ?? 'ADT^A04', options: opt(EVENTS) }),
      field({ label: 'HL7 message template', name: 'template', type: 'textarea', value: f.template ?? '', hint: 'A sample message of this event type from your EHR (ER7, one segment per line). Its fields are listed on the next step.' }),
    ),
    el('fieldset', {}, el('legend', {}, STEPS[4]), el('div', { 'data-mapping': '' })),
  ];
  panels.forEach((p, i) => p.setAttribute('data-step', String(i)));

  const preview = el('section', { class: 'flow-preview', 'aria-labelledby': 'flow-preview-heading', hidden: '' });
  const back = el('button', { type: 'button', class: 'secondary' }, 'Back');
  const next = el('button', { type: 'button', class: 'primary' }, 'Save & Next');
  const test = el('button', { type: 'button', class: 'secondary' }, 'Test');
  const save = el('button', { type: 'submit', class: 'primary' }, 'Save & Close');
  form.append(el('p', { class: 'form-error', role: 'alert', hidden: true }), ...panels, el('div', { class: 'actions' }, back, next, test, save));

  const value = (name) => form.elements[name]?.value.trim() ?? '';
  const direction = () => value('direction');

  /** Shows the parts that apply to the chosen direction and entity. */
  const applyChoices = () => {
    for (const node of form.querySelectorAll('[data-when]')) {
      const when = node.getAttribute('data-when');
      node.hidden = !(when === direction() || when === value('entity'));
    }
    for (const node of form.querySelectorAll('[data-help]')) node.textContent = SYNC_HELP[value(node.getAttribute('data-help'))] ?? '';
    const keys = [value('primary_search.crm_field'), value('secondary_search.crm_field')].filter(Boolean);
    const mrn = form.elements.mrn_crm_field;
    const current = mrn.value || f.mrn_crm_field || keys[0];
    mrn.replaceChildren(...[...new Set(keys)].map((k) => el('option', { value: k }, k)));
    if (keys.includes(current)) mrn.value = current;
    mrnNote.textContent = 'The MRN (or another patient identifier) field must be the CRM field of the primary or the secondary search key, and should be marked unique in the CRM.';
  };
  form.addEventListener('change', applyChoices);
  form.addEventListener('input', (e) => {
    if (/search\.crm_field$/.test(e.target.name)) applyChoices();
  });

  let mapping = null;
  const show = async (index) => {
    step = index;
    panels.forEach((p, i) => {
      p.hidden = i !== index;
    });
    steps.replaceChildren(...STEPS.map((s, i) => el('li', i === index ? { 'aria-current': 'step' } : {}, s)));
    back.disabled = index === 0;
    next.hidden = index === STEPS.length - 1;
    test.hidden = index !== STEPS.length - 1;
    if (index === STEPS.length - 1) {
      const holder = panels[4].querySelector('[data-mapping]');
      const current = mapping ? readMappings(holder) : (f.mappings ?? []);
      mapping = await mappingStep(ctx, holder, { template: form.elements.template.value, mappings: current, entity: value('entity'), direction: direction() });
    }
    panels[index].querySelector('legend').focus?.();
    ctx.announce(`Step ${index + 1} of ${STEPS.length}: ${STEPS[index]}`);
  };
  panels.forEach((p) => p.querySelector('legend').setAttribute('tabindex', '-1'));
  back.addEventListener('click', () => show(step - 1));
  next.addEventListener('click', () => show(step + 1));

  /** The FlowInput the form describes. */
  const input = () => {
    const ehr = direction() === 'ehr_to_crm';
    const activity = value('entity') === 'activity';
    const key = (prefix) => (value(`${prefix}.crm_field`) || value(`${prefix}.hl7_path`) ? { crm_field: value(`${prefix}.crm_field`) || null, hl7_path: value(`${prefix}.hl7_path`) || null } : null);
    return {
      name: value('name'),
      description: value('description') || null,
      channel_id: value('channel_id') || null,
      direction: direction(),
      entity: value('entity'),
      event_type: value('event_type'),
      lead_sync: ehr ? value('lead_sync') : null,
      activity_sync: ehr && activity ? value('activity_sync') : null,
      activity_type: ehr && activity && value('activity_type') ? Number(value('activity_type')) : null,
      activity_match: ehr && activity ? key('activity_match') : null,
      lead_source: ehr ? value('lead_source') || null : null,
      default_country_code: value('default_country_code') || null,
      time_zone: value('time_zone') || null,
      primary_search: key('primary_search'),
      secondary_search: key('secondary_search'),
      mrn_crm_field: value('mrn_crm_field') || null,
      template: form.elements.template.value.replace(/\r?\n/g, '\r').replace(/\r+$/, '') || null,
      mappings: readMappings(panels[4].querySelector('[data-mapping]'), f.mappings ?? []),
      webhook_event: ehr ? null : value('webhook_event'),
      enabled: form.elements.enabled.checked,
    };
  };

  /** Shows a problem beside its field, on the step that holds the first one. */
  const fail = async (error, prefix = '') => {
    const errors = error.problem?.errors ?? [];
    if (prefix) for (const e of errors) e.field = e.field.startsWith(prefix) ? e.field.slice(prefix.length) : e.field;
    const first = errors[0]?.field;
    const target = first ? STEP_OF.find(([re]) => re.test(first))?.[1] : undefined;
    if (target !== undefined && target !== step) await show(target);
    showFieldErrors(form, error);
  };

  test.addEventListener('click', async () => {
    const body = { flow: input() };
    if (direction() === 'ehr_to_crm') body.message = body.flow.template;
    else {
      try {
        body.payload = JSON.parse(form.elements.test_payload?.value || '{}');
      } catch {
        showFieldErrors(form, validationError([{ field: 'test_payload', message: 'must be a JSON object' }]));
        return;
      }
    }
    try {
      const result = await ctx.api.post('/flows/test', body);
      clearFieldErrors(form);
      showPreview(preview, result);
      preview.querySelector('h2').focus();
    } catch (error) {
      await fail(error, 'flow.');
    }
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const saved = isNew ? await ctx.api.post('/flows', input()) : await ctx.api.put(`/flows/${encodeURIComponent(f.flow_id)}`, input());
      ctx.announce(`Flow ${saved.name} saved.`);
      ctx.navigate('#/flows');
    } catch (error) {
      await fail(error);
    }
  });

  root.append(el('h1', {}, isNew ? 'Create flow' : `Flow: ${f.name}`), el('nav', { 'aria-label': 'Wizard steps' }, steps), form, preview);
  applyChoices();
  await show(0);
}

/** What POST /flows/test answered, as the CRM operations (or the HL7 message) in words. */
function showPreview(section, r) {
  const pairs = (items) =>
    items.length
      ? el('table', { class: 'data' }, el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'CRM field'), el('th', { scope: 'col' }, 'Value'))), el('tbody', {}, ...items.map((p) => el('tr', {}, el('td', {}, p.field), el('td', {}, p.value)))))
      : el('p', {}, 'None.');
  const parts = [el('h2', { id: 'flow-preview-heading', tabindex: '-1' }, 'Test: what this flow would do')];
  if (r.direction === 'ehr_to_crm') {
    parts.push(
      el('h3', {}, 'Lead'),
      el('p', {}, `${LABELS.sync[r.lead.sync]}: ${r.lead.creates ? 'creates the lead when none is found' : 'creates no lead'}; ${r.lead.updates ? 'updates the lead it finds' : 'leaves a found lead as it is'}.`),
      el('ol', { class: 'searches' }, ...r.lead.search.map((s) => el('li', {}, `Search by ${s.field} (${s.key}, from ${s.hl7_path}) = ${s.value ?? '(no value: skipped)'}`))),
      el('h4', {}, 'Fields when creating'),
      pairs(r.lead.fields_for_create),
      el('h4', {}, 'Fields when updating'),
      pairs(r.lead.fields_for_update),
    );
    if (r.activity) {
      parts.push(
        el('h3', {}, 'Activity'),
        el('p', {}, `${LABELS.sync[r.activity.sync]}; event ${r.activity.event} at ${r.activity.crm_date_time} UTC${r.activity.match_key ? `; matched by ${r.activity.match_key.field} = ${r.activity.match_key.value}` : ''}.`),
        el('p', {}, `Note: ${r.activity.note || '(none)'}`),
        pairs(r.activity.fields),
      );
    }
    if (r.warnings.length) parts.push(el('h3', {}, 'Warnings'), el('ul', {}, ...r.warnings.map((w) => el('li', {}, `${w.field}: ${w.message}`))));
  } else {
    parts.push(el('p', {}, `The ${r.event_type} message it would send:`), el('pre', { class: 'hl7', tabindex: '0', 'aria-label': 'HL7 message' }, r.segments.join('\n')));
  }
  section.hidden = false;
  section.replaceChildren(...parts);
}
