// The patient portal page: the patient signs in (identity.js: on loopback their patient id, with
// --tokens their bearer token, with OIDC at the clinic's provider through the portal's client),
// then <hie-consent> shows the clinic's explanation, their consent history, and lets them give or
// revoke consent. The page uses the same component clinics embed.

import { signIn } from './identity.js';
import { el } from './ui.js';

const main = document.getElementById('main');
const userBox = document.getElementById('user');

async function start() {
  document.title = 'Sign in · Patient portal';
  const identity = await signIn({
    configUrl: '../config.json',
    client: 'portal',
    roles: ['patient'],
    main,
    intro: 'Sign in with your patient portal account: you go to the clinic\'s sign-in page and come back here.',
  });
  document.title = 'Share My Medical Information · Patient portal';
  userBox.replaceChildren(
    el('span', { class: 'who' }, 'Signed in'),
    el('button', { type: 'button', class: 'secondary small', onclick: () => identity.signOut() }, 'Sign out'),
  );
  const consent = document.createElement('hie-consent');
  identity.authorize(consent);
  main.replaceChildren(el('h1', {}, 'Share My Medical Information'), consent);
  main.focus();
}

start();
