// HIE settings (admin): every field of PUT /settings/hie, each 422 problem beside its field,
// Next Batch Start Time in the clinic's time zone, and a live preview of the portal text.
import { el, field, showFieldErrors, clearFieldErrors } from '../ui.js';
import { timeZones, utcToZonedInput, validationError, zonedInputToUtc } from './admin-kit.js';

export const screen = { path: '#/settings', title: 'HIE settings', nav: 'Admin', roles: ['admin'] };

/** Integer inputs: the field name and the rule shown when the text is not a whole number. */
const INTEGERS = {
  consent_expire_days: 'must be a whole number of days from 1 to 3650',
  safety_lag_seconds: 'must be a whole number of seconds from 0 to 3600',
};

export async function render(root, ctx) {
  const settings = await ctx.api.get('/settings/hie');
  const zones = timeZones();
  if (!zones.includes(settings.time_zone)) zones.unshift(settings.time_zone);

  const zoneHint = el('span', {}, '');
  const form = el('form', { novalidate: '', class: 'form', 'aria-labelledby': 'settings-heading' });
  const preview = el('div', { class: 'portal-preview', id: 'portal-preview' });
  const showZone = () => {
    zoneHint.textContent = `Entered and shown in the clinic's time zone (${form.elements.time_zone.value}).`;
  };

  form.append(
    el('p', { class: 'form-error', role: 'alert', hidden: true }),
    el(
      'fieldset',
      {},
      el('legend', {}, 'HIE integration'),
      field({ label: 'Enable HIE integration', name: 'enabled', type: 'checkbox', value: settings.enabled, hint: 'The background process sends transitioned appointments while this is on.' }),
      field({ label: 'Default To address', name: 'default_to_address', type: 'email', value: settings.default_to_address ?? '', hint: "The HIE's Direct address. Required while enabled." }),
      field({ label: 'Default From address', name: 'default_from_address', type: 'email', value: settings.default_from_address ?? '', hint: "The clinic's Direct address. Required while enabled." }),
      field({ label: 'Default subject', name: 'default_subject', value: settings.default_subject, hint: 'One line, at most 250 characters.' }),
      field({ label: 'Default body', name: 'default_body', type: 'textarea', value: settings.default_body }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, 'Batch'),
      field({ label: 'Time zone', name: 'time_zone', type: 'select', value: settings.time_zone, options: zones.map((z) => ({ value: z, label: z })), hint: "The clinic's time zone: calendar dates and the batch start time are in it." }),
      field({ label: 'Next Batch Start Time', name: 'next_batch_start_time', type: 'datetime-local', value: utcToZonedInput(settings.next_batch_start_time, settings.time_zone), hint: zoneHint }),
      field({ label: 'Safety lag (seconds)', name: 'safety_lag_seconds', type: 'number', value: String(settings.safety_lag_seconds), hint: 'Appointments transitioned this recently wait for a later run (0 to 3600).' }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, 'Consent'),
      field({ label: 'Opt-in by default', name: 'opt_in_by_default', type: 'checkbox', value: settings.opt_in_by_default, hint: 'Registering a patient creates an Active consent record.' }),
      field({ label: 'Consent expires after (days)', name: 'consent_expire_days', type: 'number', value: String(settings.consent_expire_days), hint: '1 to 3650.' }),
      field({ label: 'Portal explanation', name: 'portal_explanation', type: 'textarea', value: settings.portal_explanation, hint: 'What patients read above "Share My Medical Information" in the portal. At most 5000 characters.' }),
      el('section', { 'aria-labelledby': 'portal-preview-heading', class: 'preview' }, el('h3', { id: 'portal-preview-heading' }, 'Portal preview'), preview),
    ),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Save settings')),
  );

  const showPreview = () => {
    preview.replaceChildren(...form.elements.portal_explanation.value.split(/\n{2,}/).map((p) => el('p', {}, p)));
  };
  form.elements.portal_explanation.addEventListener('input', showPreview);
  form.elements.time_zone.addEventListener('change', showZone);
  showPreview();
  showZone();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const f = form.elements;
    const body = {
      enabled: f.enabled.checked,
      default_to_address: f.default_to_address.value.trim() || null,
      default_from_address: f.default_from_address.value.trim() || null,
      default_subject: f.default_subject.value,
      default_body: f.default_body.value,
      time_zone: f.time_zone.value,
      next_batch_start_time: zonedInputToUtc(f.next_batch_start_time.value, f.time_zone.value),
      opt_in_by_default: f.opt_in_by_default.checked,
      portal_explanation: f.portal_explanation.value,
    };
    const local = [];
    for (const [name, rule] of Object.entries(INTEGERS)) {
      const text = f[name].value.trim();
      if (/^-?\d+$/.test(text)) body[name] = Number(text);
      else local.push({ field: name, message: rule });
    }
    if (local.length) {
      showFieldErrors(form, validationError(local));
      return;
    }
    try {
      const saved = await ctx.api.put('/settings/hie', body);
      clearFieldErrors(form);
      f.next_batch_start_time.value = utcToZonedInput(saved.next_batch_start_time, saved.time_zone);
      ctx.announce('HIE settings saved.');
    } catch (error) {
      showFieldErrors(form, error);
    }
  });

  root.append(el('h1', { id: 'settings-heading' }, 'HIE settings'), form);
}
