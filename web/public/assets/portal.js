// The patient portal page: the patient signs in (on loopback: their patient id; with --tokens:
// their bearer token), then <hie-consent> shows the clinic's explanation, their consent history,
// and lets them give or revoke consent. The page uses the same component clinics embed.

import { detectMode, headersFor, loadIdentity, signInForm, signOut } from './identity.js';
import { el } from './ui.js';

const main = document.getElementById('main');
const userBox = document.getElementById('user');

async function start() {
  const identity = loadIdentity();
  if (!identity || identity.role !== 'patient') {
    const mode = await detectMode();
    document.title = 'Sign in · Patient portal';
    main.replaceChildren(signInForm({ mode, roles: ['patient'], onSignedIn: () => start() }));
    main.querySelector('input').focus();
    return;
  }
  document.title = 'Share My Medical Information · Patient portal';
  userBox.replaceChildren(
    el('span', { class: 'who' }, 'Signed in'),
    el('button', { type: 'button', class: 'secondary small', onclick: () => { signOut(); window.location.reload(); } }, 'Sign out'),
  );
  const consent = document.createElement('hie-consent');
  consent.headers = headersFor(identity);
  main.replaceChildren(el('h1', {}, 'Share My Medical Information'), consent);
  main.focus();
}

start();
