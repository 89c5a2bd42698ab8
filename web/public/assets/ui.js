// Shared DOM helpers: built with el() (never innerHTML with data), labelled fields with an error
// slot, problem+json errors beside their inputs, a confirmation dialog, tables, a pager, dates.

import { selectableRow } from '/components/hie-consent.js';

let uid = 0;
/** A unique element id with `prefix`. */
export function uniqueId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * `el('button', { class: 'primary', onclick: fn }, 'Save')`: attributes (on* = listeners, `hidden`
 * etc. with '' or true, false/null/undefined skipped) and children (strings become text nodes).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'value' && 'value' in node) {
      node.value = value;
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * A labelled input (type text, date, number, email, password, textarea, select, checkbox,
 * datetime-local) with a hint and an error slot; `options` [{ value, label }] for a select.
 */
export function field({ label, name, type = 'text', value, hint, options, required, attrs = {} }) {
  const id = uniqueId(`f-${name}`);
  const hintId = hint ? `${id}-hint` : null;
  let input;
  if (type === 'select') {
    input = el(
      'select',
      { id, name, ...attrs },
      (options || []).map((o) => el('option', { value: o.value, selected: String(o.value) === String(value ?? '') }, o.label)),
    );
  } else if (type === 'textarea') {
    input = el('textarea', { id, name, rows: 4, ...attrs });
    input.value = value ?? '';
  } else if (type === 'checkbox') {
    input = el('input', { id, name, type, checked: Boolean(value), ...attrs });
  } else {
    input = el('input', { id, name, type, ...attrs });
    input.value = value ?? '';
  }
  if (required) input.required = true;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const error = el('p', { class: 'field-error', id: `${id}-error`, 'data-error-for': name, hidden: true });
  const wrapper = el(
    'div',
    { class: `field field-${type}`, 'data-field': name },
    type === 'checkbox'
      ? [input, el('label', { for: id }, label)]
      : [el('label', { for: id }, label), input],
    hint ? el('p', { class: 'hint', id: hintId }, hint) : null,
    error,
  );
  return wrapper;
}

/** Removes every error `showFieldErrors` put in `form`. */
export function clearFieldErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    const hint = input.getAttribute('aria-describedby') || '';
    const kept = hint.split(' ').filter((id) => id && !id.endsWith('-error'));
    if (kept.length) input.setAttribute('aria-describedby', kept.join(' '));
    else input.removeAttribute('aria-describedby');
  }
  const summary = form.querySelector('.form-error');
  if (summary) {
    summary.hidden = true;
    summary.textContent = '';
  }
}

/** The form's error summary (created at its end if missing). */
export function errorSummary(form) {
  let summary = form.querySelector('.form-error');
  if (!summary) {
    summary = el('p', { class: 'form-error', role: 'alert', hidden: true });
    form.append(summary);
  }
  return summary;
}

/**
 * Shows `error` (an ApiError or Error) in `form`: each problem `errors[]` message beside the input
 * named by its field (aria-invalid, aria-describedby), the rest and the detail in the summary;
 * focuses the first invalid input. Returns how many field errors were placed.
 */
export function showFieldErrors(form, error) {
  clearFieldErrors(form);
  const unmatched = [];
  let first = null;
  let placed = 0;
  const entries = typeof error.fieldErrors === 'function' ? [...error.fieldErrors()] : [];
  for (const [name, message] of entries) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (!input || !slot) {
      unmatched.push(`${name}: ${message}`);
      continue;
    }
    slot.textContent = message;
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    const described = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    input.setAttribute('aria-describedby', [...described, slot.id].join(' '));
    first = first || input;
    placed += 1;
  }
  const summary = errorSummary(form);
  const text = placed && !unmatched.length ? '' : unmatched.length ? unmatched.join('; ') : error.message;
  if (text) {
    summary.textContent = text;
    summary.hidden = false;
  }
  if (first) first.focus();
  return placed;
}

/**
 * A modal confirmation (native <dialog>, focus trapped by showModal, Escape cancels, focus returns
 * to the opener). Resolves to null when cancelled, else { reason } (reason '' without reasonLabel).
 */
export function confirmDialog({ title, body, confirmLabel = 'OK', cancelLabel = 'Cancel', reasonLabel, danger }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uniqueId('dialog-title');
    const reason = reasonLabel ? field({ label: reasonLabel, name: 'reason', type: 'textarea' }) : null;
    const form = el(
      'form',
      { method: 'dialog' },
      el('h2', { id: titleId }, title),
      body ? el('p', {}, body) : null,
      reason,
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'button', value: 'cancel', class: 'secondary', 'data-cancel': true }, cancelLabel),
        el('button', { type: 'submit', value: 'confirm', class: danger ? 'danger' : 'primary' }, confirmLabel),
      ),
    );
    const dialog = el('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
    let result = null;
    form.querySelector('[data-cancel]').addEventListener('click', () => dialog.close());
    form.addEventListener('submit', () => {
      result = { reason: reason ? reason.querySelector('textarea').value.trim() : '' };
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && typeof opener.focus === 'function') opener.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    (reason ? reason.querySelector('textarea') : form.querySelector('[type=submit]')).focus();
  });
}

/**
 * A table; `columns` [{ label, value(row) -> string|Node, className? }]. With `onSelect(row, tr)`
 * each row is focusable and selected by click, Enter or Space (aria-selected marks the selected);
 * `rowAttrs(row)` adds attributes (e.g. a class) to a row.
 */
export function dataTable({ columns, rows, caption, onSelect, rowAttrs, empty = 'Nothing to show.' }) {
  const body = el('tbody');
  const table = el(
    'table',
    { class: onSelect ? 'data selectable' : 'data' },
    caption ? el('caption', {}, caption) : null,
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, c.label)))),
    body,
  );
  if (!rows.length) {
    body.append(el('tr', {}, el('td', { colspan: columns.length, class: 'empty' }, empty)));
  }
  for (const row of rows) {
    const tr = el(
      'tr',
      { ...(rowAttrs ? rowAttrs(row) : {}) },
      columns.map((c) => el('td', { class: c.className }, c.value(row) ?? '')),
    );
    if (onSelect) {
      tr.tabIndex = 0;
      tr.setAttribute('aria-selected', 'false');
      const select = () => {
        for (const other of body.querySelectorAll('tr[aria-selected]')) other.setAttribute('aria-selected', 'false');
        tr.setAttribute('aria-selected', 'true');
        onSelect(row, tr);
      };
      selectableRow(tr, select);
    }
    body.append(tr);
  }
  return el('div', { class: 'table-wrap' }, table);
}

/** A "More" button while there is a `next` cursor; `onNext(next)` loads the following page. */
export function pager({ next, onNext, label = 'Show more' }) {
  if (!next) return el('div', { class: 'pager' });
  const button = el('button', { type: 'button', class: 'secondary' }, label);
  button.addEventListener('click', () => onNext(next));
  return el('div', { class: 'pager' }, button);
}

/** A date ('2026-11-21') as the browser's locale shows it (no time zone shift). */
export function formatDate(value) {
  if (!value) return '';
  const [y, m, d] = String(value).slice(0, 10).split('-').map(Number);
  if (!y || !m || !d) return String(value);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(undefined, { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' });
}

/** A timestamp in `timeZone` (an IANA name; the browser's own when absent). */
export function formatDateTime(value, timeZone) {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const options = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  try {
    return date.toLocaleString(undefined, { ...options, timeZone: timeZone || undefined, timeZoneName: 'short' });
  } catch {
    return date.toLocaleString(undefined, options);
  }
}

/** Today's date (YYYY-MM-DD) in `timeZone`, and `days` later. */
export function isoDate(timeZone, days = 0) {
  const now = new Date(Date.now());
  let today;
  try {
    today = new Intl.DateTimeFormat('en-CA', { timeZone: timeZone || undefined, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  } catch {
    today = now.toISOString().slice(0, 10);
  }
  if (!days) return today;
  const [y, m, d] = today.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** A short message for an error from the API (or the network). */
export function messageOf(error) {
  if (error && error.problem) {
    const p = error.problem;
    return p.detail || p.title || `The connector answered ${error.status}`;
  }
  return (error && error.message) || String(error);
}

/** A paragraph for a screen that could not load: role=alert, the API's message. */
export function errorBox(error) {
  return el('p', { class: 'notice error', role: 'alert' }, messageOf(error));
}
