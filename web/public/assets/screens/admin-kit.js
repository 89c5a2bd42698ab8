// Helpers the admin and integration screens share: wall-clock times in the clinic's time zone,
// file downloads, problems found before sending.
import { ApiError } from '../api.js';

/** Every IANA time zone the browser knows, UTC first. */
export function timeZones() {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return ['UTC', ...zones.filter((z) => z !== 'UTC')];
}

/** The wall-clock parts of `date` in `timeZone`: { year, month, day, hour, minute, second }. */
function zonedParts(date, timeZone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(date);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

/** How far `timeZone` is ahead of UTC at `date`, in milliseconds. */
function offsetMs(date, timeZone) {
  const p = zonedParts(date, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (date.getTime() - date.getMilliseconds());
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/**
 * A `datetime-local` value (`YYYY-MM-DDTHH:MM`), read as a wall-clock time in `timeZone`, as an
 * RFC 3339 UTC instant; null for an empty value. A time skipped by a DST change moves forward.
 */
export function zonedInputToUtc(value, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || '');
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let instant = wall - offsetMs(new Date(wall), timeZone);
  instant = wall - offsetMs(new Date(instant), timeZone);
  return new Date(instant).toISOString().replace('.000Z', 'Z');
}

/** An RFC 3339 instant as a `datetime-local` value in `timeZone` ('' for null). */
export function utcToZonedInput(iso, timeZone) {
  if (!iso) return '';
  const p = zonedParts(new Date(iso), timeZone);
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** Offers `text` as a file download named `name`. */
export function downloadText(name, text, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The labels the screens show for API enumerations. */
export const LABELS = {
  log_type: {
    hie_consent_changes: 'HIE Integration: Consent Changes',
    hie_sent_appointments: 'HIE Integration: Sent Appointments',
    hl7_inbound: 'HL7 inbound',
    crm_outbound: 'CRM outbound',
    configuration_changes: 'Configuration changes',
  },
  outcome: { success: 'Success', skipped: 'Skipped', error: 'Error' },
  sync: {
    capture: 'Capture (create and update existing) record',
    create_only: 'Create only new record',
    update_only: 'Update only existing record',
    do_nothing: 'Do nothing',
  },
};

/** Problems found before sending, as the API's 422 would carry them (for showFieldErrors). */
export function validationError(errors) {
  return new ApiError(422, { type: '/problems/validation', title: 'Validation failed', status: 422, detail: 'Some fields are not valid.', errors });
}
