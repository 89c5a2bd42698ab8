// Front desk > Register a patient (PUT /patients/{id} with a new id); opens the patient after.

import { el } from '../ui.js';
import { demographicsForm } from './demographics.js';

export const screen = { path: '#/patients/new', title: 'Register a patient', nav: 'Front desk', roles: ['staff', 'admin'] };

export async function render(root, { api, navigate, announce }) {
  root.append(
    el('h1', {}, 'Register a patient'),
    el('p', {}, 'With Opt-In By Default on, registering also records an Active consent.'),
    demographicsForm({
      api,
      patient: null,
      submitLabel: 'Register',
      onSaved: (_answer, id) => {
        announce('Patient registered');
        navigate(`#/patients/${encodeURIComponent(id)}`);
      },
    }),
  );
}
