// The demographics form (register or edit a patient: PUT /patients/{id}), shared by the register
// and patient screens. Not a screen itself. Problem errors are shown beside their inputs (the
// address's as address.line1 etc.).

import { clearFieldErrors, el, errorSummary, field, showFieldErrors } from '../ui.js';

const SEX = [
  { value: '', label: 'Choose…' },
  { value: 'F', label: 'Female (F)' },
  { value: 'M', label: 'Male (M)' },
  { value: 'O', label: 'Other (O)' },
  { value: 'U', label: 'Unknown (U)' },
];

const ADDRESS = [
  ['line1', 'Address line 1'],
  ['line2', 'Address line 2'],
  ['city', 'City'],
  ['state', 'State'],
  ['postal_code', 'Postal code'],
  ['country', 'Country'],
];

/** The PUT body from the form: empty values left out, an address only when any part is given. */
function bodyOf(form) {
  const data = new FormData(form);
  const value = (name) => String(data.get(name) || '').trim() || undefined;
  const body = {};
  for (const name of ['mrn', 'first_name', 'last_name', 'birth_date', 'sex', 'phone', 'email']) body[name] = value(name);
  const address = {};
  for (const [part] of ADDRESS) address[part] = value(`address.${part}`);
  if (Object.values(address).some(Boolean)) body.address = address;
  return body;
}

/** Whether patient `id` is registered already (a new registration must not overwrite it). */
async function exists(api, id) {
  try {
    await api.get(`/patients/${encodeURIComponent(id)}`);
    return true;
  } catch (error) {
    if (error.status === 404) return false;
    throw error;
  }
}

/**
 * The form for `patient` (null: a new one, then with a Patient ID field). `onSaved(answer, id)`
 * runs after a 200/201.
 */
export function demographicsForm({ api, patient, onSaved, submitLabel = 'Save demographics' }) {
  const p = patient || {};
  const address = p.address || {};
  const form = el(
    'form',
    { class: 'card demographics', novalidate: true, 'aria-label': patient ? 'Demographics' : 'New patient' },
    patient
      ? null
      : field({ label: 'Patient ID', name: 'patient_id', hint: "The EHR's identifier of the patient (letters, digits, - and _).", required: true }),
    el(
      'div',
      { class: 'form-grid' },
      field({ label: 'MRN', name: 'mrn', value: p.mrn, required: true }),
      field({ label: 'First name', name: 'first_name', value: p.first_name, required: true }),
      field({ label: 'Last name', name: 'last_name', value: p.last_name, required: true }),
      field({ label: 'Birth date', name: 'birth_date', type: 'date', value: p.birth_date, required: true }),
      field({ label: 'Sex', name: 'sex', type: 'select', value: p.sex || '', options: SEX, required: true }),
      field({ label: 'Phone', name: 'phone', type: 'tel', value: p.phone }),
      field({ label: 'E-mail', name: 'email', type: 'email', value: p.email }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, 'Address (optional)'),
      el('div', { class: 'form-grid' }, ADDRESS.map(([part, label]) => field({ label, name: `address.${part}`, value: address[part] }))),
    ),
  );
  errorSummary(form);
  const submit = el('button', { type: 'submit', class: 'primary' }, submitLabel);
  form.append(el('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const id = patient ? patient.patient_id : String(new FormData(form).get('patient_id') || '').trim();
    if (!id) {
      showFieldErrors(form, { message: 'Enter a patient ID.', fieldErrors: () => new Map([['patient_id', 'is required']]) });
      return;
    }
    submit.disabled = true;
    try {
      if (!patient && (await exists(api, id))) {
        showFieldErrors(form, { message: '', fieldErrors: () => new Map([['patient_id', 'a patient with this ID is already registered; find them to edit']]) });
        return;
      }
      const answer = await api.put(`/patients/${encodeURIComponent(id)}`, bodyOf(form));
      onSaved(answer, id);
    } catch (error) {
      showFieldErrors(form, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
