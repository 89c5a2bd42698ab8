// CRM → EHR deliveries (integration): each with its state, filterable; a parked one is redriven
// (with the patient's deliveries held behind it) after a confirmation.
import { el, field, dataTable, confirmDialog, formatDateTime } from '../ui.js';

export const screen = { path: '#/deliveries', title: 'Deliveries', nav: 'Integration', roles: ['admin'] };

const STATES = ['queued', 'delivering', 'retrying', 'delivered', 'parked', 'held'];

/** What each last outcome means, in words. */
const OUTCOMES = {
  delivered: 'Delivered: the EHR accepted it (AA)',
  rejected_AE: 'The EHR answered AE (error)',
  rejected_AR: 'The EHR rejected it (AR)',
  no_ack: 'No ACK in time',
  wrong_ack: 'An ACK for another message',
  not_sent: 'Not sent: the EHR could not be reached',
  no_outbound_channel: 'The channel has no outbound connection',
  held: 'Held behind a parked delivery',
};

export async function render(root, ctx) {
  const settings = await ctx.api.get('/settings/hie');
  const tz = settings.time_zone;
  const stateField = field({ label: 'State', name: 'state', type: 'select', options: [{ value: '', label: 'Any' }, ...STATES.map((s) => ({ value: s, label: s }))] });
  const table = el('div', {});
  const detail = el('section', { class: 'detail', 'aria-labelledby': 'delivery-detail-heading', hidden: '' });
  const select = stateField.querySelector('select');

  const refresh = async () => {
    const { deliveries } = await ctx.api.get('/deliveries', { state: select.value });
    table.replaceChildren(
      deliveries.length
        ? dataTable({
            caption: `${deliveries.length} deliveries, newest first. Select one for its detail${deliveries.some((d) => d.state === 'parked') ? ' (a parked one can be redriven)' : ''}.`,
            columns: [
              { label: 'Created', value: (d) => formatDateTime(d.created_at, tz) },
              { label: 'Event', value: (d) => d.event },
              { label: 'Control id', value: (d) => d.control_id },
              { label: 'Channel', value: (d) => d.channel_id },
              { label: 'Flow', value: (d) => d.flow_id },
              { label: 'State', value: (d) => d.state },
              { label: 'Attempts', value: (d) => String(d.attempts) },
              { label: 'Last outcome', value: (d) => d.last_outcome ?? '' },
            ],
            rows: deliveries,
            onSelect: showDetail,
          })
        : el('p', {}, 'No delivery in this state.'),
    );
  };

  const showDetail = (d) => {
    detail.hidden = false;
    const parts = [
      el('h2', { id: 'delivery-detail-heading', tabindex: '-1' }, `Delivery ${d.delivery_id}`),
      el(
        'dl',
        { class: 'facts' },
        ...[
          ['State', d.state],
          ['Event', d.event],
          ['Control id (MSH-10)', d.control_id],
          ['Patient group', d.group],
          ['Attempts', String(d.attempts)],
          ['Last outcome', d.last_outcome ? `${OUTCOMES[d.last_outcome] ?? d.last_outcome} (${d.last_outcome})` : '—'],
          ['Next attempt', d.next_attempt_at ? formatDateTime(d.next_attempt_at, tz) : '—'],
          ['Held behind', d.held_behind ?? '—'],
          ['Updated', formatDateTime(d.updated_at, tz)],
        ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
      ),
    ];
    if (d.state === 'parked') {
      const redrive = el('button', { type: 'button', class: 'primary' }, 'Redrive');
      redrive.addEventListener('click', async () => {
        const ok = await confirmDialog({
          title: 'Redrive this delivery?',
          body: 'It goes back on the delivery queue with its attempts reset, followed by the deliveries of the same patient held behind it, in order.',
          confirmLabel: 'Redrive',
        });
        if (!ok) return;
        try {
          const { redriven } = await ctx.api.post(`/deliveries/${encodeURIComponent(d.delivery_id)}/redrive`);
          ctx.announce(`${redriven.length} deliver${redriven.length === 1 ? 'y' : 'ies'} queued again.`);
          detail.hidden = true;
          await refresh();
        } catch (error) {
          ctx.announce(`Not redriven: ${error.problem?.detail ?? error.message}`);
        }
      });
      parts.push(el('div', { class: 'actions' }, redrive));
    }
    detail.replaceChildren(...parts);
    detail.querySelector('h2').focus();
  };

  select.addEventListener('change', () => {
    detail.hidden = true;
    refresh();
  });
  root.append(
    el('h1', {}, 'CRM → EHR deliveries'),
    el('p', {}, 'A delivery is parked after the EHR rejects it (AR) or its last attempt fails; the same patient\u2019s later messages are held behind it until it is redriven.'),
    el('div', { class: 'filters' }, stateField),
    table,
    detail,
  );
  await refresh();
}
