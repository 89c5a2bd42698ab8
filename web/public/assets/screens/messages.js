// Message log (integration): inbound HL7 by channel with its ACK code and each flow's outcome
// (the hl7_inbound audit log), filterable, with each message's detail. No HL7 content is shown:
// the audit log carries ids, events and outcomes only.
import { el, field, showFieldErrors, clearFieldErrors, dataTable, pager, formatDateTime } from '../ui.js';
import { LABELS } from './admin-kit.js';

export const screen = { path: '#/messages', title: 'Message log', nav: 'Integration', roles: ['admin'] };

export async function render(root, ctx) {
  const [{ items: channels }, settings] = await Promise.all([ctx.api.get('/channels'), ctx.api.get('/settings/hie')]);
  const tz = settings.time_zone;
  const form = el(
    'form',
    { novalidate: '', class: 'form filters', 'aria-label': 'Message filters' },
    el('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ label: 'Channel', name: 'channel_id', type: 'select', options: [{ value: '', label: 'All channels' }, ...channels.map((c) => ({ value: c.channel_id, label: `${c.name} (${c.channel_id})` }))] }),
    field({ label: 'From', name: 'from', type: 'date' }),
    field({ label: 'To (inclusive)', name: 'to', type: 'date' }),
    field({ label: 'Outcome', name: 'outcome', type: 'select', options: [{ value: '', label: 'Any' }, ...Object.entries(LABELS.outcome).map(([value, label]) => ({ value, label }))] }),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Show messages')),
  );
  const table = el('div', {});
  const more = el('div', {});
  const detail = el('section', { class: 'detail', 'aria-labelledby': 'message-detail-heading', hidden: '' });
  let shown = [];

  const showDetail = (e) => {
    const d = e.detail ?? {};
    detail.hidden = false;
    detail.replaceChildren(
      el('h2', { id: 'message-detail-heading', tabindex: '-1' }, `Message ${d.control_id ?? e.entry_id}`),
      el(
        'dl',
        { class: 'facts' },
        ...[
          ['Received', formatDateTime(e.occurred_at, tz)],
          ['Channel', d.channel_id ?? '—'],
          ['Event', d.event ?? '—'],
          ['ACK', d.ack ?? '—'],
          ['What happened', e.action],
          ['Patient id', e.patient_id ?? '—'],
          ['Appointment id', e.appointment_id ?? '—'],
        ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]),
      ),
      el('h3', {}, 'Flows'),
      (d.flows ?? []).length
        ? dataTable({
            caption: 'Each flow that took the message',
            columns: [
              { label: 'Flow', value: (x) => x.flow_id },
              { label: 'Outcome', value: (x) => x.outcome ?? '' },
              { label: 'Error', value: (x) => x.error ?? '' },
              { label: 'CRM lead', value: (x) => x.lead_id ?? '' },
              { label: 'CRM activity', value: (x) => x.activity_id ?? '' },
            ],
            rows: d.flows,
          })
        : el('p', {}, 'No flow took this message.'),
      el('h3', {}, 'Everything recorded'),
      el('pre', { class: 'json', tabindex: '0', 'aria-label': 'Audit detail' }, JSON.stringify(d, null, 2)),
    );
    detail.querySelector('h2').focus();
  };

  const load = async (cursor) => {
    const q = Object.fromEntries(['channel_id', 'from', 'to', 'outcome'].map((n) => [n, form.elements[n].value]));
    try {
      const page = await ctx.api.get('/audit-entries', { log_type: 'hl7_inbound', ...q, limit: 50, cursor });
      clearFieldErrors(form);
      shown = cursor ? shown.concat(page.items) : page.items;
      table.replaceChildren(
        dataTable({
          caption: `${shown.length} inbound messages, newest first. Select one for its detail.`,
          columns: [
            { label: 'Received', value: (e) => formatDateTime(e.occurred_at, tz) },
            { label: 'Channel', value: (e) => e.detail?.channel_id ?? '' },
            { label: 'Event', value: (e) => e.detail?.event ?? '' },
            { label: 'Control id', value: (e) => e.detail?.control_id ?? '' },
            { label: 'ACK', value: (e) => e.detail?.ack ?? '' },
            { label: 'Flows', value: (e) => (e.detail?.flows ?? []).map((x) => `${x.flow_id}: ${x.outcome}`).join(', ') || '—' },
          ],
          rows: shown,
          onSelect: showDetail,
        }),
      );
      more.replaceChildren(page.next_cursor ? pager({ next: page.next_cursor, onNext: () => load(page.next_cursor) }) : '');
      ctx.announce(`${shown.length} messages shown.`);
    } catch (error) {
      shown = [];
      table.replaceChildren();
      more.replaceChildren();
      showFieldErrors(form, error);
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    detail.hidden = true;
    load();
  });

  root.append(el('h1', {}, 'Message log'), el('p', {}, el('a', { href: '#/deliveries' }, 'CRM → EHR deliveries')), form, table, more, detail);
  await load();
}
