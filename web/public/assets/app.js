// The console shell: sign-in (identity.js: local user, token or OIDC), a header with the user and
// role, the nav grouped as Front desk / Admin / Integration, hash routing to the screen modules, a
// main region that takes focus with an updated document.title on navigation, and an aria-live
// status region.

import { createApi } from './api.js';
import { REFUSED, signIn } from './identity.js';
import { el, errorBox } from './ui.js';
import screens from './screens/index.js';

const GROUPS = ['Front desk', 'Admin', 'Integration'];
const PRODUCT = 'Clinic Connector';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const userBox = document.getElementById('user');
const status = document.getElementById('status');

let identity = null;
let api = null;
let cleanup = null;
let renderToken = 0;

/** `#/patients/:id` -> { regex, names }; screens without params come first when sorted. */
function compile(path) {
  const names = [];
  const source = path
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { regex: new RegExp(`^${source}$`), names };
}

const routes = screens
  .map((module) => ({ module, ...compile(module.screen.path) }))
  .sort((a, b) => a.names.length - b.names.length);

function allowed(module) {
  const roles = module.screen.roles;
  return !roles || roles.includes(identity.role);
}

function match(hash) {
  for (const route of routes) {
    const found = route.regex.exec(hash);
    if (found) {
      const params = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1]);
      });
      return { module: route.module, params };
    }
  }
  return null;
}

/** Writes `message` into the aria-live status region (screen readers announce it). */
function announce(message) {
  status.textContent = '';
  window.setTimeout(() => {
    status.textContent = message;
  }, 50);
}

function navigate(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function homeHash() {
  const first = routes.find((r) => r.module.screen.nav && !r.names.length && allowed(r.module));
  return first ? first.module.screen.path : '#/';
}

function renderNav(currentPath) {
  nav.replaceChildren();
  for (const group of GROUPS) {
    const items = screens.filter((m) => m.screen.nav === group && allowed(m));
    if (!items.length) continue;
    nav.append(
      el(
        'section',
        { class: 'nav-group' },
        el('h2', {}, group),
        el(
          'ul',
          {},
          items.map((m) =>
            el(
              'li',
              {},
              el(
                'a',
                { href: m.screen.path, 'aria-current': currentPath === m.screen.path ? 'page' : null },
                m.screen.title,
              ),
            ),
          ),
        ),
      ),
    );
  }
  if (identity.role === 'patient') {
    nav.append(el('p', {}, el('a', { href: '/portal/' }, 'Open the patient portal')));
  }
}

function renderUser() {
  userBox.replaceChildren(
    el('span', { class: 'who' }, 'Signed in as ', el('strong', {}, identity.user), ` (${identity.role})`),
    el(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        onclick: () => identity.signOut(),
      },
      'Sign out',
    ),
  );
}

async function render() {
  const token = ++renderToken;
  if (typeof cleanup === 'function') cleanup();
  cleanup = null;
  let hash = window.location.hash || '';
  if (!hash.startsWith('#/')) hash = '';
  if (!hash || hash === '#/') {
    const home = homeHash();
    if (home !== '#/') {
      window.location.replace(home);
      return;
    }
  }
  const found = match(hash);
  renderNav(found ? found.module.screen.path : null);
  const root = el('div', { class: 'screen' });
  main.replaceChildren(root);
  if (!found) {
    document.title = `Not found · ${PRODUCT}`;
    root.append(el('h1', {}, 'Not found'), el('p', {}, 'There is no such page. Choose one from the menu.'));
  } else if (!allowed(found.module)) {
    document.title = `Not allowed · ${PRODUCT}`;
    root.append(el('h1', {}, found.module.screen.title), el('p', { class: 'notice' }, `This page is for ${found.module.screen.roles.join(' or ')} users.`));
  } else {
    document.title = `${found.module.screen.title} · ${PRODUCT}`;
    try {
      const result = await found.module.render(root, {
        api,
        identity: { user: identity.user, role: identity.role, authorize: (element) => identity.authorize(element) },
        params: found.params,
        navigate,
        announce,
      });
      if (token === renderToken) cleanup = result;
      else if (typeof result === 'function') result();
    } catch (error) {
      root.append(errorBox(error));
    }
  }
  if (token === renderToken) main.focus();
}

async function start() {
  document.getElementById('skip').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  document.title = `Sign in · ${PRODUCT}`;
  identity = await signIn({
    configUrl: '/config.json',
    client: 'console',
    roles: ['staff', 'admin', 'patient'],
    main,
    intro: 'Sign in with your clinic account: you go to the clinic\'s sign-in page and come back here.',
  });
  if (identity.role === 'patient') {
    window.location.assign('/portal/');
    return;
  }
  api = createApi({
    baseUrl: identity.apiBase,
    headers: () => identity.headers(),
    onUnauthorized: () => identity.endSession(REFUSED),
  });
  renderUser();
  window.addEventListener('hashchange', render);
  await render();
}

start();
