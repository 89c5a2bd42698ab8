// Batch preview (admin): what the next HIE batch would send and skip, and why, and a
// "Run the batch now" action (POST /hie/batch-runs).
import { el, dataTable, formatDateTime } from '../ui.js';

export const screen = { path: '#/batch', title: 'HIE batch', nav: 'Admin', roles: ['admin'] };

const STATUS = {
  send: 'Goes in the next batch',
  skip: 'Skipped',
  pending: 'Pending (safety lag)',
  already_sent: 'Already sent',
  in_progress: 'Being sent now',
  closed: 'Closed',
};

const REASON = {
  no_consent: 'No consent record',
  expired: 'Consent expired',
  revoked: 'Consent revoked',
  future_dated: 'Consent starts later',
  superseded: 'Transitioned again since',
  unknown_patient: 'Unknown patient',
};

export async function render(root, ctx) {
  const settings = await ctx.api.get('/settings/hie');
  const tz = settings.time_zone;
  const summary = el('div', { class: 'summary' });
  const list = el('div', {});
  const runResult = el('div', { class: 'run-result', role: 'status' });
  const runButton = el('button', { type: 'button', class: 'primary' }, 'Run the batch now');

  const refresh = async () => {
    const plan = await ctx.api.get('/hie/batch-preview', { limit: 1000 });
    summary.replaceChildren(
      el('p', {}, plan.enabled ? 'HIE integration is on.' : 'HIE integration is off: the batch sends nothing until it is enabled in HIE settings.'),
      el('p', {}, `Next Batch Start Time: ${plan.next_batch_start_time ? formatDateTime(plan.next_batch_start_time, tz) : 'not set (the first run sets it)'}; safety lag ${plan.safety_lag_seconds} s.`),
      el(
        'ul',
        { class: 'counts' },
        ...[
          ['Would send', plan.would_send],
          ['Would skip', plan.would_skip],
          ['Pending', plan.pending],
          ['Already sent', plan.already_sent],
          ['In progress', plan.in_progress],
          ['Closed', plan.closed],
        ].map(([label, n]) => el('li', {}, el('strong', {}, String(n)), ` ${label}`)),
      ),
    );
    list.replaceChildren(
      plan.appointments.length
        ? dataTable({
            caption: `Appointments transitioned after the Next Batch Start Time, oldest first${plan.more ? ' (the first 1000; more follow)' : ''}.`,
            columns: [
              { label: 'Appointment', value: (a) => a.appointment_id },
              { label: 'Patient', value: (a) => a.patient_id },
              { label: 'Transitioned', value: (a) => formatDateTime(a.transitioned_at, tz) },
              { label: 'What the batch does', value: (a) => STATUS[a.status] ?? a.status },
              { label: 'Why', value: (a) => why(a, tz) },
              { label: 'Latest consent', value: (a) => a.consent_status ?? 'none' },
            ],
            rows: plan.appointments,
          })
        : el('p', {}, 'No appointment is waiting for the batch.'),
    );
  };

  runButton.addEventListener('click', async () => {
    runButton.disabled = true;
    runResult.textContent = 'Running the batch…';
    try {
      const run = await ctx.api.post('/hie/batch-runs');
      runResult.textContent =
        run.status === 'started'
          ? 'The batch collector was started; refresh in a moment to see what it did.'
          : `Batch run finished at ${formatDateTime(run.finished_at, tz)}: ${run.queued} queued, ${run.skipped} skipped, ${run.errors} errors.`;
      await refresh();
    } catch (error) {
      runResult.textContent = `The batch did not run: ${error.problem?.detail ?? error.message}`;
    } finally {
      runButton.disabled = false;
    }
  });

  root.append(
    el('h1', {}, 'HIE batch'),
    el('p', {}, 'Who the next batch sends to the HIE, who it skips and why. Nothing is sent by looking.'),
    summary,
    el('div', { class: 'actions' }, runButton),
    runResult,
    el('h2', {}, 'Next batch'),
    list,
  );
  await refresh();
}

/** Why an appointment gets its status, in words. */
function why(a, tz) {
  if (a.status === 'pending') return `Eligible at ${formatDateTime(a.eligible_at, tz)}${a.decision === 'skip' ? ` (then skipped: ${REASON[a.reason] ?? a.reason})` : ''}`;
  if (a.decision === 'skip') return REASON[a.reason] ?? a.reason;
  if (a.status === 'send') return 'Active consent';
  return '';
}
