// The flow wizard's mapping step: every populated field of the template (POST
// /flows/template-fields) with its data-dictionary name; its value shows on hover and on keyboard
// focus. Each field maps to a CRM field, for the lead or the activity, with transforms and the
// required flag. Rows are renumbered as `mappings[i].…` so a 422 lands beside the right input.
import { el } from '../ui.js';

const TRANSFORMS = [
  ['trim', 'Trim spaces', ''],
  ['upper', 'Upper case', ''],
  ['lower', 'Lower case', ''],
  ['default', 'Default value', 'The value used when the field is empty'],
  ['value_map', 'Map values', 'FROM=TO pairs separated by ; and *=OTHERWISE (F=Female; M=Male; *=Other)'],
  ['date', 'Date format', 'A chrono format, e.g. %Y-%m-%d'],
  ['date_time', 'Date and time format', 'FORMAT|TIME ZONE, e.g. %Y-%m-%d %H:%M:%S|America/New_York'],
  ['phone_e164', 'Phone number (E.164)', ''],
];

const CRM_FIELDS = ['mx_MRN', 'FirstName', 'LastName', 'EmailAddress', 'Mobile', 'Phone', 'mx_Date_of_Birth', 'mx_Gender', 'mx_Street1', 'mx_City', 'mx_State', 'mx_Zip', 'ActivityNote', 'ActivityDateTime', 'mx_Custom_1', 'mx_Custom_2', 'mx_Custom_3', 'mx_Custom_4'];

let tipSeq = 0;
/** The value tooltip shown now, if any. */
let openTip = null;

/**
 * Fills `holder` with the mapping table for `template`, pre-filled from `mappings` (a flow's or
 * what the step showed before). A template that does not parse shows the API's problem.
 */
export async function mappingStep(ctx, holder, { template, mappings, entity, direction }) {
  holder.replaceChildren(el('p', { role: 'status' }, 'Reading the template…'));
  let fields = [];
  if (template.trim()) {
    try {
      ({ fields } = await ctx.api.post('/flows/template-fields', { template: template.replace(/\r?\n/g, '\r') }));
    } catch (error) {
      holder.replaceChildren(el('p', { class: 'error', role: 'alert' }, `The template could not be read: ${error.problem?.errors?.[0]?.message ?? error.problem?.detail ?? error.message}. Go back a step to correct it.`));
      return null;
    }
  }
  const byPath = new Map(mappings.map((m) => [m.hl7_path, m]));
  const rows = fields.map((f) => row(f, byPath.get(f.path), entity));
  for (const m of mappings) if (!fields.some((f) => f.path === m.hl7_path)) rows.push(row({ path: m.hl7_path, value: null, name: null, field: null, data_type: null }, m, entity));

  holder.replaceChildren(
    el('p', {}, direction === 'ehr_to_crm' ? 'Map each HL7 field to the CRM field it fills. Hover over or focus an HL7 field to see its value in the template.' : 'Map each HL7 field to the CRM field that fills it. Hover over or focus an HL7 field to see its value in the template.'),
    el('datalist', { id: 'crm-fields' }, ...CRM_FIELDS.map((n) => el('option', { value: n }))),
    el(
      'table',
      { class: 'data mapping-table' },
      el('caption', {}, `${fields.length} fields in the template`),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['HL7 field', 'Name', 'CRM field', ...(entity === 'activity' ? ['For'] : []), 'Transforms', 'Required'].map((h) => el('th', { scope: 'col' }, h)),
        ),
      ),
      el('tbody', {}, ...rows),
    ),
    direction === 'crm_to_ehr'
      ? el(
          'div',
          { class: 'field' },
          el('label', { for: 'test_payload' }, 'Test webhook payload (JSON)'),
          el('textarea', { id: 'test_payload', name: 'test_payload', rows: '6', 'aria-describedby': 'test_payload-error' }, '{"ProspectID": "lead-test-1"}'),
          el('p', { class: 'field-error', id: 'test_payload-error', 'data-error-for': 'test_payload', hidden: true }),
        )
      : '',
  );
  return holder;
}

/** One template field's row. */
function row(f, mapping, entity) {
  const tipId = `hl7-tip-${++tipSeq}`;
  const tip = el('span', { role: 'tooltip', id: tipId, class: 'tooltip', hidden: '' }, f.value === null ? 'Not in the template' : f.value === '' ? 'Value: "" (the HL7 null)' : `Value: ${f.value}`);
  const path = el('button', { type: 'button', class: 'hl7-field', 'aria-describedby': tipId, 'data-path': f.path }, f.path);
  // One value shows at a time: hovering or focusing a field hides the one shown before.
  const showTip = () => {
    if (openTip && openTip !== tip) openTip.hidden = true;
    openTip = tip;
    tip.hidden = false;
  };
  const hideTip = () => {
    tip.hidden = true;
  };
  path.addEventListener('mouseenter', showTip);
  path.addEventListener('focus', showTip);
  path.addEventListener('mouseleave', () => document.activeElement !== path && hideTip());
  path.addEventListener('blur', hideTip);
  path.addEventListener('keydown', (e) => e.key === 'Escape' && hideTip());

  const crm = el('input', { type: 'text', list: 'crm-fields', 'data-role': 'crm_field', value: mapping?.crm_field ?? '', 'aria-label': `CRM field for ${f.path}` });
  const transforms = el('div', { class: 'transforms' });
  for (const t of mapping?.transforms ?? []) transforms.append(transformRow(f.path, t));
  const add = el('button', { type: 'button', class: 'small secondary' }, 'Add transform');
  add.addEventListener('click', () => {
    const r = transformRow(f.path, { type: 'trim' });
    transforms.append(r);
    r.querySelector('select').focus();
  });
  const required = el('input', { type: 'checkbox', 'data-role': 'required', 'aria-label': `${f.path} is required` });
  required.checked = Boolean(mapping?.required);
  const cells = [
    el('th', { scope: 'row' }, el('span', { class: 'hl7-field-wrap' }, path, tip)),
    el('td', {}, f.name ?? '', f.field && f.field !== f.name ? el('span', { class: 'muted' }, ` (${f.field}${f.data_type ? `, ${f.data_type}` : ''})`) : f.data_type ? el('span', { class: 'muted' }, ` (${f.data_type})`) : ''),
    el('td', {}, el('div', { class: 'field' }, crm, el('p', { class: 'field-error', id: `${tipId}-error`, 'data-error-for': '', hidden: true }))),
  ];
  if (entity === 'activity') {
    const target = el('select', { 'data-role': 'target', 'aria-label': `${f.path} goes to` }, el('option', { value: 'lead' }, 'Lead'), el('option', { value: 'activity' }, 'Activity'));
    target.value = mapping?.target ?? 'lead';
    cells.push(el('td', {}, target));
  }
  cells.push(el('td', {}, transforms, add), el('td', {}, required));
  return el('tr', { 'data-hl7-path': f.path, 'data-mapping': JSON.stringify(mapping ?? null) }, ...cells);
}

/** One transform: its type and its parameter. */
function transformRow(path, t) {
  const type = el('select', { 'data-role': 'transform-type', 'aria-label': `Transform for ${path}` }, ...TRANSFORMS.map(([v, label]) => el('option', { value: v }, label)));
  type.value = t.type;
  const param = el('input', { type: 'text', 'data-role': 'transform-param', 'aria-label': `Transform parameter for ${path}`, value: paramOf(t) });
  const remove = el('button', { type: 'button', class: 'small secondary', 'aria-label': `Remove transform from ${path}` }, 'Remove');
  const wrap = el('div', { class: 'transform' }, type, param, remove);
  const hint = () => {
    const help = TRANSFORMS.find(([v]) => v === type.value)?.[2] ?? '';
    param.hidden = !help;
    param.placeholder = help;
    param.title = help;
  };
  type.addEventListener('change', hint);
  remove.addEventListener('click', () => wrap.remove());
  hint();
  return wrap;
}

function paramOf(t) {
  switch (t.type) {
    case 'default':
      return t.value ?? '';
    case 'value_map':
      return [...Object.entries(t.map ?? {}).map(([k, v]) => `${k}=${v}`), ...(t.otherwise != null ? [`*=${t.otherwise}`] : [])].join('; ');
    case 'date':
      return t.to_format ?? '';
    case 'date_time':
      return [t.to_format ?? '', t.to_time_zone ?? ''].filter(Boolean).join('|');
    default:
      return '';
  }
}

function transformOf(type, param) {
  switch (type) {
    case 'default':
      return { type, value: param };
    case 'value_map': {
      const map = {};
      let otherwise = null;
      for (const pair of param.split(';')) {
        const at = pair.indexOf('=');
        if (at < 0) continue;
        const [from, to] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
        if (from === '*') otherwise = to;
        else if (from) map[from] = to;
      }
      return { type, map, otherwise };
    }
    case 'date':
      return { type, to_format: param || null };
    case 'date_time': {
      const [format, zone] = param.split('|').map((s) => s.trim());
      return { type, to_format: format || null, to_time_zone: zone || null };
    }
    default:
      return { type };
  }
}

/**
 * The MappingInput list the table describes (rows with a CRM field), renaming their inputs
 * `mappings[i].…` in that order; `fallback` when the step was never shown.
 */
export function readMappings(holder, fallback = []) {
  const rows = holder?.querySelectorAll('tr[data-hl7-path]') ?? [];
  if (!rows.length) return fallback;
  const out = [];
  rows.forEach((r, n) => {
    const crm = r.querySelector('[data-role="crm_field"]');
    const name = crm.value.trim();
    const i = out.length;
    const prefix = name ? `mappings[${i}]` : `unmapped[${n}]`;
    crm.name = `${prefix}.crm_field`;
    crm.nextElementSibling.setAttribute('data-error-for', crm.name);
    r.querySelector('[data-role="required"]').name = `${prefix}.required`;
    const target = r.querySelector('[data-role="target"]');
    if (target) target.name = `${prefix}.target`;
    const transforms = [...r.querySelectorAll('.transform')].map((t, j) => {
      t.querySelector('[data-role="transform-type"]').name = `${prefix}.transforms[${j}].type`;
      t.querySelector('[data-role="transform-param"]').name = `${prefix}.transforms[${j}].value`;
      return transformOf(t.querySelector('[data-role="transform-type"]').value, t.querySelector('[data-role="transform-param"]').value);
    });
    if (!name) return;
    const stored = JSON.parse(r.getAttribute('data-mapping') || 'null') ?? {};
    out.push({
      hl7_path: r.getAttribute('data-hl7-path'),
      crm_field: name,
      target: target ? target.value : 'lead',
      transforms,
      required: r.querySelector('[data-role="required"]').checked,
      ...(stored.max_length != null ? { max_length: stored.max_length } : {}),
      ...(stored.on_too_long ? { on_too_long: stored.on_too_long } : {}),
    });
  });
  return out;
}
