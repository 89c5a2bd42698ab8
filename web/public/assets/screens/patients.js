// Front desk > Find a patient: by MRN, or by last name (its beginning) and birth date
// (GET /patients); a result opens the patient.

import { clearFieldErrors, dataTable, el, errorSummary, field, formatDate, pager, showFieldErrors } from '../ui.js';

export const screen = { path: '#/patients', title: 'Find a patient', nav: 'Front desk', roles: ['staff', 'admin'] };

export async function render(root, { api, navigate, announce }) {
  const results = el('div', { class: 'results', 'aria-live': 'polite' });
  const form = el(
    'form',
    { class: 'card search', role: 'search', 'aria-label': 'Find a patient', novalidate: true },
    el('p', {}, 'Search by MRN, or by the beginning of the last name together with the birth date.'),
    el(
      'div',
      { class: 'form-grid' },
      field({ label: 'MRN', name: 'mrn' }),
      field({ label: 'Last name (beginning)', name: 'last_name' }),
      field({ label: 'Birth date', name: 'birth_date', type: 'date' }),
    ),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Search'), el('a', { href: '#/patients/new' }, 'Register a new patient')),
  );
  errorSummary(form);
  let rows = [];

  function show(next, query) {
    results.replaceChildren(
      dataTable({
        caption: `${rows.length} patient${rows.length === 1 ? '' : 's'} found`,
        columns: [
          { label: 'Name', value: (p) => el('a', { href: `#/patients/${encodeURIComponent(p.patient_id)}` }, `${p.last_name}, ${p.first_name}`) },
          { label: 'Birth date', value: (p) => formatDate(p.birth_date) },
          { label: 'MRN', value: (p) => p.mrn },
          { label: 'Sex', value: (p) => p.sex },
          { label: 'Patient ID', value: (p) => p.patient_id },
        ],
        rows,
        empty: 'No patient matches. Check the spelling, or register the patient.',
        onSelect: (p) => navigate(`#/patients/${encodeURIComponent(p.patient_id)}`),
      }),
      pager({ next, onNext: (cursor) => search({ ...query, cursor }, true) }),
    );
  }

  async function search(query, more = false) {
    clearFieldErrors(form);
    try {
      const page = await api.get('/patients', query);
      rows = more ? rows.concat(page.items) : page.items;
      show(page.next_cursor, { ...query, cursor: undefined });
      announce(`${rows.length} patient${rows.length === 1 ? '' : 's'} found`);
    } catch (error) {
      showFieldErrors(form, error);
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const mrn = String(data.get('mrn') || '').trim();
    const query = mrn
      ? { mrn }
      : { last_name: String(data.get('last_name') || '').trim(), birth_date: String(data.get('birth_date') || '') };
    search(query);
  });
  root.append(el('h1', {}, 'Find a patient'), form, results);
}
