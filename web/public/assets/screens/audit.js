// Audit log report (admin): the seed's Utilities > View Audit Logs > Display Results. Filters,
// a paginated table, a row's detail, and a CSV export of every page of the current filter.
import { el, field, showFieldErrors, clearFieldErrors, dataTable, pager, formatDateTime } from '../ui.js';
import { LABELS, downloadText } from './admin-kit.js';
import { loadVendor } from '../vendor.js';

export const screen = { path: '#/audit', title: 'Audit log', nav: 'Admin', roles: ['admin'] };

const FILTERS = ['log_type', 'from', 'to', 'patient_id', 'appointment_id', 'outcome'];
const PAGE = 50;
const EXPORT_PAGE = 500;

/** The CSV's columns: header and how each entry fills it. */
const CSV_COLUMNS = [
  ['entry_id', (e) => e.entry_id],
  ['occurred_at', (e) => e.occurred_at],
  ['log_type', (e) => e.log_type],
  ['action', (e) => e.action],
  ['outcome', (e) => e.outcome],
  ['actor_user', (e) => e.actor?.user ?? ''],
  ['actor_role', (e) => e.actor?.role ?? ''],
  ['patient_id', (e) => e.patient_id ?? ''],
  ['appointment_id', (e) => e.appointment_id ?? ''],
  ['consent_id', (e) => e.consent_id ?? ''],
  ['detail', (e) => JSON.stringify(e.detail ?? {})],
];

export async function render(root, ctx) {
  const settings = await ctx.api.get('/settings/hie').catch(() => ({ time_zone: 'UTC' }));
  const tz = settings.time_zone;
  const options = (labels) => [{ value: '', label: 'Any' }, ...Object.entries(labels).map(([value, label]) => ({ value, label }))];

  const form = el(
    'form',
    { novalidate: '', class: 'form filters', 'aria-label': 'Audit log filters' },
    el('p', { class: 'form-error', role: 'alert', hidden: true }),
    field({ label: 'Log type', name: 'log_type', type: 'select', value: 'hie_sent_appointments', options: options(LABELS.log_type) }),
    field({ label: 'From', name: 'from', type: 'date', hint: `Dates are in the clinic's time zone (${tz}).` }),
    field({ label: 'To (inclusive)', name: 'to', type: 'date' }),
    field({ label: 'Patient id', name: 'patient_id' }),
    field({ label: 'Appointment id', name: 'appointment_id' }),
    field({ label: 'Outcome', name: 'outcome', type: 'select', options: options(LABELS.outcome) }),
    el(
      'div',
      { class: 'actions' },
      el('button', { type: 'submit', class: 'primary' }, 'Display Results'),
      el('button', { type: 'button', class: 'secondary', 'data-action': 'export' }, 'Export CSV'),
    ),
  );
  const results = el('section', { 'aria-labelledby': 'audit-results-heading' }, el('h2', { id: 'audit-results-heading' }, 'Results'));
  const table = el('div', {});
  const more = el('div', {});
  const detail = el('section', { class: 'detail', 'aria-labelledby': 'audit-detail-heading', hidden: '' });
  results.append(table, more);

  const currentQuery = () => {
    const query = {};
    for (const name of FILTERS) query[name] = form.elements[name].value.trim();
    return query;
  };
  let shown = [];

  const showDetail = (entry) => {
    detail.hidden = false;
    detail.replaceChildren(
      el('h2', { id: 'audit-detail-heading', tabindex: '-1' }, `Entry ${entry.entry_id}`),
      el(
        'dl',
        { class: 'facts' },
        ...[
          ['When', formatDateTime(entry.occurred_at, tz)],
          ['Log type', LABELS.log_type[entry.log_type] ?? entry.log_type],
          ['Action', entry.action],
          ['Outcome', LABELS.outcome[entry.outcome] ?? entry.outcome],
          ['Actor', `${entry.actor?.user} (${entry.actor?.role})`],
          ['Patient id', entry.patient_id ?? '—'],
          ['Appointment id', entry.appointment_id ?? '—'],
          ['Consent id', entry.consent_id ?? '—'],
        ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
      ),
      el('h3', {}, 'Detail'),
      el('pre', { class: 'json', tabindex: '0', 'aria-label': 'Entry detail' }, JSON.stringify(entry.detail ?? {}, null, 2)),
    );
    detail.querySelector('h2').focus();
  };

  const drawTable = () => {
    table.replaceChildren(
      dataTable({
        caption: `${shown.length} entr${shown.length === 1 ? 'y' : 'ies'}, newest first. Select a row for its detail.`,
        columns: [
          { label: 'When', value: (e) => formatDateTime(e.occurred_at, tz) },
          { label: 'Log type', value: (e) => LABELS.log_type[e.log_type] ?? e.log_type },
          { label: 'Action', value: (e) => e.action },
          { label: 'Outcome', value: (e) => LABELS.outcome[e.outcome] ?? e.outcome },
          { label: 'Patient', value: (e) => e.patient_id ?? '' },
          { label: 'Appointment', value: (e) => e.appointment_id ?? '' },
          { label: 'Actor', value: (e) => e.actor?.user ?? '' },
        ],
        rows: shown,
        onSelect: showDetail,
      }),
    );
  };

  const load = async (cursor) => {
    try {
      const page = await ctx.api.get('/audit-entries', { ...currentQuery(), limit: PAGE, cursor });
      clearFieldErrors(form);
      shown = cursor ? shown.concat(page.items) : page.items;
      drawTable();
      more.replaceChildren(page.next_cursor ? pager({ next: page.next_cursor, onNext: () => load(page.next_cursor) }) : '');
      ctx.announce(`${shown.length} audit entries shown${page.next_cursor ? '; more follow' : ''}.`);
    } catch (error) {
      shown = [];
      table.replaceChildren();
      more.replaceChildren();
      showFieldErrors(form, error);
    }
  };

  const exportCsv = async () => {
    const button = form.querySelector('[data-action="export"]');
    button.disabled = true;
    try {
      const entries = [];
      let cursor;
      do {
        const page = await ctx.api.get('/audit-entries', { ...currentQuery(), limit: EXPORT_PAGE, cursor });
        entries.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      const Papa = await loadVendor('papaparse/papaparse.min.js', 'Papa');
      const csv = Papa.unparse({ fields: CSV_COLUMNS.map(([h]) => h), data: entries.map((e) => CSV_COLUMNS.map(([, f]) => f(e))) }, { newline: '\r\n' });
      downloadText(`audit-log-${new Date().toISOString().slice(0, 10)}.csv`, csv);
      ctx.announce(`Exported ${entries.length} audit entries as CSV.`);
    } catch (error) {
      showFieldErrors(form, error);
    } finally {
      button.disabled = false;
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    detail.hidden = true;
    load();
  });
  form.querySelector('[data-action="export"]').addEventListener('click', exportCsv);

  root.append(el('h1', {}, 'Audit log'), form, results, detail);
  await load();
}
