// Dashboard (admin; the first screen an admin sees): HIE messages sent per day and inbound HL7
// per hour by ACK code as charts (each with a summary and its numbers as a table), the last
// batch run, parked and held deliveries, and recent CRM errors.
import { el, dataTable, formatDateTime } from '../ui.js';
import { loadVendor } from '../vendor.js';

export const screen = { path: '#/dashboard', title: 'Dashboard', nav: 'Admin', roles: ['admin'] };

/** Series colours (each at least 3:1 against white, and told apart by the legend's text too). */
const COLORS = { sent: '#1f6f43', errors: '#b3261e', AA: '#1f6f43', AE: '#8a5a00', AR: '#b3261e' };

export async function render(root, ctx) {
  const [data, settings] = await Promise.all([ctx.api.get('/dashboard'), ctx.api.get('/settings/hie')]);
  const tz = settings.time_zone;
  const charts = [];
  const Chart = await loadVendor('chart.js/chart.umd.min.js', 'Chart').catch(() => null);

  const hourLabel = (hour) => formatDateTime(hour, tz);
  const hourTick = new Intl.DateTimeFormat(undefined, { timeZone: tz, hour: '2-digit', minute: '2-digit' });
  const sentTotal = sum(data.hie_sent_per_day, 'sent');
  const sentErrors = sum(data.hie_sent_per_day, 'errors');
  const acks = ['AA', 'AE', 'AR'].map((code) => [code, sum(data.hl7_inbound_per_hour, code)]);

  const chartCard = ({ id, title, summary, labels, series, rows, columns, stacked }) => {
    const canvas = el('canvas', { id: `${id}-chart`, role: 'img', 'aria-label': `${title}: ${summary}` });
    const card = el(
      'section',
      { class: 'card chart-card', 'aria-labelledby': `${id}-heading` },
      el('h2', { id: `${id}-heading` }, title),
      el('p', { class: 'chart-summary', id: `${id}-summary` }, summary),
      el('div', { class: 'chart-box' }, canvas),
      el('details', {}, el('summary', {}, `${title}: the numbers`), scrollable(dataTable({ caption: title, columns, rows }), `${title}: the numbers`)),
    );
    if (Chart) {
      charts.push(
        new Chart(canvas, {
          type: 'bar',
          data: { labels, datasets: series.map(([key, label]) => ({ label, data: rows.map((r) => r[key]), backgroundColor: COLORS[key] })) },
          options: {
            animation: false,
            maintainAspectRatio: false,
            scales: { x: { stacked }, y: { stacked, beginAtZero: true, ticks: { precision: 0 } } },
          },
        }),
      );
    } else {
      canvas.replaceWith(el('p', {}, 'The chart library could not be loaded; the numbers are in the table below.'));
    }
    return card;
  };

  const run = data.last_batch_run;
  const d = data.deliveries;
  root.append(
    el('h1', {}, 'Dashboard'),
    el(
      'div',
      { class: 'cards' },
      chartCard({
        id: 'hie-sent',
        title: 'HIE messages sent per day',
        summary: `Last ${data.hie_sent_per_day.length} days: ${sentTotal} sent, ${sentErrors} error${sentErrors === 1 ? '' : 's'}.`,
        labels: data.hie_sent_per_day.map((r) => r.date),
        series: [
          ['sent', 'Sent'],
          ['errors', 'Errors'],
        ],
        rows: data.hie_sent_per_day,
        columns: [
          { label: 'Date', value: (r) => r.date },
          { label: 'Sent', value: (r) => String(r.sent) },
          { label: 'Errors', value: (r) => String(r.errors) },
        ],
        stacked: false,
      }),
      chartCard({
        id: 'hl7-inbound',
        title: 'Inbound HL7 per hour by ACK code',
        summary: `Last 24 hours: ${acks.map(([code, n]) => `${n} ${code}`).join(', ')}.`,
        labels: data.hl7_inbound_per_hour.map((r) => hourTick.format(new Date(r.hour))),
        series: [
          ['AA', 'AA (accepted)'],
          ['AE', 'AE (error)'],
          ['AR', 'AR (rejected)'],
        ],
        rows: data.hl7_inbound_per_hour,
        columns: [
          { label: 'Hour', value: (r) => hourLabel(r.hour) },
          { label: 'AA', value: (r) => String(r.AA) },
          { label: 'AE', value: (r) => String(r.AE) },
          { label: 'AR', value: (r) => String(r.AR) },
        ],
        stacked: true,
      }),
    ),
    el(
      'div',
      { class: 'cards' },
      el(
        'section',
        { class: 'card', 'aria-labelledby': 'last-run-heading', id: 'last-batch-run' },
        el('h2', { id: 'last-run-heading' }, 'Last batch run'),
        run
          ? el(
              'dl',
              { class: 'facts' },
              el('dt', {}, 'Finished'),
              el('dd', {}, formatDateTime(run.finished_at, tz)),
              el('dt', {}, 'Queued'),
              el('dd', {}, String(run.queued)),
              el('dt', {}, 'Skipped'),
              el('dd', {}, String(run.skipped)),
              el('dt', {}, 'Errors'),
              el('dd', {}, String(run.errors)),
            )
          : el('p', {}, 'No batch has run yet.'),
        el('p', {}, el('a', { href: '#/batch' }, 'Batch preview and run now')),
      ),
      el(
        'section',
        { class: 'card', 'aria-labelledby': 'deliveries-heading', id: 'delivery-counts' },
        el('h2', { id: 'deliveries-heading' }, 'CRM → EHR deliveries'),
        el(
          'ul',
          { class: 'counts' },
          el('li', { class: d.parked ? 'attention' : '' }, el('strong', {}, String(d.parked)), ' parked'),
          el('li', {}, el('strong', {}, String(d.held)), ' held behind a parked one'),
          el('li', {}, el('strong', {}, String(d.pending)), ' pending'),
        ),
        el('p', {}, el('a', { href: '#/deliveries' }, 'Deliveries')),
      ),
      el(
        'section',
        { class: 'card wide', 'aria-labelledby': 'crm-errors-heading' },
        el('h2', { id: 'crm-errors-heading' }, 'Recent CRM errors'),
        data.recent_crm_errors.length
          ? scrollable(
              dataTable({
              caption: 'The last 10 CRM errors, newest first',
              columns: [
                { label: 'When', value: (e) => formatDateTime(e.at, tz) },
                { label: 'Channel', value: (e) => e.channel_id },
                { label: 'Flow', value: (e) => e.flow_id ?? '' },
                { label: 'What', value: (e) => e.summary },
              ],
              rows: data.recent_crm_errors,
              }),
              'Recent CRM errors',
            )
          : el('p', {}, 'No CRM errors recently.'),
      ),
    ),
  );
  return () => charts.forEach((c) => c.destroy());
}

/** A table's scrolling wrapper, reachable by keyboard (it may scroll sideways in a narrow card). */
function scrollable(wrap, label) {
  wrap.tabIndex = 0;
  wrap.setAttribute('role', 'region');
  wrap.setAttribute('aria-label', label);
  return wrap;
}

function sum(rows, key) {
  return rows.reduce((total, r) => total + (r[key] ?? 0), 0);
}
