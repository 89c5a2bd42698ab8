// Front desk > a patient: who they are, HIE consent management (the <hie-consent> component on the
// clinic routes, as in the portal), their appointments with HIE status (sent when + control id,
// skipped why; Resend for admins), and the demographics form.

import { dataTable, el, errorBox, formatDate, formatDateTime, messageOf, pager } from '../ui.js';
import { demographicsForm } from './demographics.js';
import '/components/hie-consent.js';

export const screen = { path: '#/patients/:id', title: 'Patient', nav: null, roles: ['staff', 'admin'] };

const HIE_TEXT = {
  sent: 'Sent',
  skipped: 'Skipped',
  pending: 'Pending',
  in_progress: 'Sending',
  not_eligible: 'Not eligible',
};

function hieCell(hie) {
  if (!hie) return '';
  const details = [];
  if (hie.sent_at) details.push(`on ${formatDateTime(hie.sent_at)}`);
  if (hie.control_id) details.push(`control id ${hie.control_id}`);
  if (hie.reason) details.push(hie.reason.replaceAll('_', ' '));
  return el(
    'span',
    {},
    el('span', { class: `badge ${hie.status}` }, HIE_TEXT[hie.status] || hie.status),
    details.length ? el('span', { class: 'hint' }, ` ${details.join(' · ')}`) : null,
  );
}

async function appointmentsSection(api, id, isAdmin, announce) {
  const section = el('section', { 'aria-labelledby': 'appointments-title' }, el('h2', { id: 'appointments-title' }, 'Appointments and HIE status'));
  const body = el('div');
  section.append(body);
  let rows = [];

  async function load(cursor) {
    try {
      const page = await api.get(`/patients/${encodeURIComponent(id)}/appointments`, { cursor });
      rows = cursor ? rows.concat(page.items) : page.items;
      const columns = [
        { label: 'Scheduled', value: (a) => formatDateTime(a.scheduled_start) },
        { label: 'Provider', value: (a) => (a.provider && a.provider.name) || '' },
        { label: 'Location', value: (a) => a.location || '' },
        { label: 'Status', value: (a) => a.status },
        { label: 'HIE', value: (a) => hieCell(a.hie) },
      ];
      if (isAdmin) {
        columns.push({
          label: 'Actions',
          value: (a) => {
            const message = el('span', { class: 'field-error', role: 'alert' });
            const button = el('button', { type: 'button', class: 'small', 'aria-label': `Resend appointment ${a.appointment_id}` }, 'Resend');
            button.addEventListener('click', async () => {
              button.disabled = true;
              message.textContent = '';
              try {
                await api.post(`/appointments/${encodeURIComponent(a.appointment_id)}/resend`, {});
                announce('Queued to be sent again');
                await load();
              } catch (error) {
                button.disabled = false;
                message.textContent = messageOf(error);
              }
            });
            return el('span', {}, button, ' ', message);
          },
        });
      }
      body.replaceChildren(
        dataTable({ caption: 'Newest first', columns, rows, empty: 'No appointments.' }),
        pager({ next: page.next_cursor, onNext: (next) => load(next) }),
      );
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  }

  await load();
  return section;
}

export async function render(root, { api, identity, params, announce }) {
  const id = params.id;
  let patient;
  try {
    patient = await api.get(`/patients/${encodeURIComponent(id)}`);
  } catch (error) {
    root.append(el('h1', {}, 'Patient'), errorBox(error), el('p', {}, el('a', { href: '#/patients' }, 'Back to the search')));
    return;
  }
  const title = el('h1', {}, `${patient.last_name}, ${patient.first_name}`);
  const facts = el(
    'dl',
    { class: 'facts' },
    el('dt', {}, 'MRN'),
    el('dd', {}, patient.mrn),
    el('dt', {}, 'Birth date'),
    el('dd', {}, formatDate(patient.birth_date)),
    el('dt', {}, 'Sex'),
    el('dd', {}, patient.sex),
    el('dt', {}, 'Patient ID'),
    el('dd', {}, patient.patient_id),
  );
  const consent = document.createElement('hie-consent');
  consent.setAttribute('patient-id', id);
  identity.authorize(consent);
  consent.addEventListener('hie-consent-change', (event) => announce(`Consent ${event.detail.action}`));
  const demographics = el(
    'details',
    { class: 'card' },
    el('summary', {}, 'Edit demographics'),
    demographicsForm({
      api,
      patient,
      onSaved: (answer) => {
        const saved = answer.patient || answer;
        title.textContent = `${saved.last_name}, ${saved.first_name}`;
        announce('Demographics saved');
      },
    }),
  );
  root.append(
    el('p', {}, el('a', { href: '#/patients' }, '← Find another patient')),
    title,
    facts,
    demographics,
    el('div', { class: 'card' }, consent),
    await appointmentsSection(api, id, identity.role === 'admin', announce),
  );
}
