// <hie-consent>: a patient's HIE consent management (the Consent History grid, New, Save, Revoke
// with a reason) as a self-contained web component with its own styles in a shadow root.
//
//   <script type="module" src="https://connector.example.org/components/hie-consent.js"></script>
//   <hie-consent api="https://connector.example.org"></hie-consent>
//   document.querySelector('hie-consent').tokenProvider = async () => myPortal.accessToken();
//
// Attributes: `api` (the connector's base URL; default this origin), `patient-id` (staff use: the
// clinic routes /patients/{id}/consents; without it the patient's own /me/consents and the
// clinic's explanation from /me/portal), `headers` (JSON of extra request headers, e.g. the local
// x-connector-user / x-connector-role of a demo). Properties: `tokenProvider` (async () => bearer
// token, sent as Authorization: Bearer), `headers` (an object). Events: `hie-consent-change`
// (detail: { action: 'given' | 'revoked', status }) after a save or revoke;
// `hie-consent-unauthorized` when the API refuses the credentials (401: the page signs in again).

const STYLES = `
:host { display: block; font-family: inherit; color: #1b1f24; line-height: 1.5; }
* { box-sizing: border-box; }
h2 { font-size: 1.2rem; margin: 0 0 0.5rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 0.5rem; }
p { margin: 0.4rem 0; }
.explanation { background: #f3f5f7; border-left: 4px solid #0b5cad; padding: 0.5rem 0.75rem; white-space: pre-line; }
.summary { font-weight: 600; }
.table-wrap { overflow-x: auto; border: 1px solid #c9d1d9; border-radius: 6px; background: #fff; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 700; padding: 0.5rem 0.75rem; }
th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid #c9d1d9; vertical-align: top; }
th { background: #f3f5f7; font-size: 0.9rem; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #eef4fb; }
tr.active td { background: #dcf5e3; color: #0f5323; }
tr[aria-selected='true'] { outline: 3px solid #0b5cad; outline-offset: -3px; }
tr[aria-selected='true'] td:first-child::before { content: '▶ '; }
.status { font-weight: 700; }
.small { font-size: 0.9rem; color: #4a5561; }
tr.active .small { color: #0f5323; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0.75rem 0; }
button { font: inherit; font-weight: 600; cursor: pointer; border-radius: 6px; padding: 0.45rem 1rem; min-height: 2.75rem;
  border: 1px solid #0b5cad; background: #fff; color: #0b5cad; }
button.primary { background: #0b5cad; color: #fff; }
button.danger { background: #8a1111; border-color: #8a1111; color: #fff; }
button:disabled { opacity: 0.55; cursor: not-allowed; }
:focus-visible { outline: 3px solid #c2410c; outline-offset: 2px; }
form.new { border: 1px solid #c9d1d9; border-radius: 6px; padding: 0.75rem 1rem; margin: 0.75rem 0; background: #fff; }
.fields { display: flex; flex-wrap: wrap; gap: 0.5rem 1.25rem; }
.field { display: flex; flex-direction: column; gap: 0.25rem; min-width: 11rem; }
label { font-weight: 600; }
input, textarea { font: inherit; color: #1b1f24; border: 1px solid #6b7785; border-radius: 6px; padding: 0.45rem 0.6rem; min-height: 2.75rem; }
textarea { width: 100%; }
[aria-invalid='true'] { border: 2px solid #8a1111; }
.error { color: #8a1111; font-weight: 600; margin: 0.25rem 0; }
.error:empty { display: none; }
.ok { color: #0f5323; font-weight: 600; }
dialog { border: 1px solid #c9d1d9; border-radius: 6px; padding: 1rem 1.25rem; width: min(30rem, 94vw); }
dialog::backdrop { background: rgb(0 0 0 / 45%); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (max-width: 40rem) {
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { border-bottom: 2px solid #c9d1d9; padding: 0.25rem 0; }
  caption { display: block; }
  td { border: 0; padding: 0.2rem 0.6rem; }
  td:empty { display: none; }
  td::before { content: attr(data-label) ': '; font-weight: 600; }
  .fields { flex-direction: column; }
  .actions button { flex: 1 1 auto; }
}
`;

const STATUS_TEXT = { active: 'Active', inactive: 'Inactive', expired: 'Expired', revoked: 'Revoked' };
const SOURCE_TEXT = { staff: 'Front desk', portal: 'Patient portal', opt_in_default: 'Opt-in by default', api: 'API' };

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false || child === '') continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function day(value) {
  if (!value) return '';
  const [y, m, d] = value.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(undefined, { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' });
}

function moment(value) {
  return value ? new Date(value).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

function who(actor) {
  if (!actor) return '';
  return actor.role === 'patient' ? 'the patient' : `${actor.user} (${actor.role})`;
}

class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The connector answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/**
 * Makes a table row selectable: `select()` on click, Enter or Space; ArrowUp/ArrowDown move focus
 * between rows. (Also used by the console's tables.)
 */
export function selectableRow(tr, select) {
  tr.addEventListener('click', select);
  tr.addEventListener('keydown', (event) => {
    const target = { ArrowDown: tr.nextElementSibling, ArrowUp: tr.previousElementSibling }[event.key];
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select();
    } else if (target) {
      event.preventDefault();
      target.focus();
    }
  });
}

let counter = 0;
let sheet = null;

/** The component's styles as a constructable stylesheet (allowed by a CSP without 'unsafe-inline'). */
function styles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
  }
  return sheet;
}

export class HieConsent extends HTMLElement {
  static get observedAttributes() {
    return ['api', 'patient-id', 'headers'];
  }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.shadowRoot.adoptedStyleSheets = [styles()];
    this._tokenProvider = null;
    this._headers = {};
    this._history = null;
    this._selected = null;
    this._formOpen = false;
    this._uid = `hc${(counter += 1)}`;
  }

  /** async () => bearer token (sent as Authorization: Bearer); setting it reloads. */
  get tokenProvider() {
    return this._tokenProvider;
  }

  set tokenProvider(value) {
    this._tokenProvider = typeof value === 'function' ? value : null;
    if (this.isConnected) this.load();
  }

  /** Extra request headers (merged over the `headers` attribute's JSON). */
  get headers() {
    return this._headers;
  }

  set headers(value) {
    this._headers = value || {};
    if (this.isConnected) this.load();
  }

  connectedCallback() {
    // Give the page a moment to set tokenProvider / headers (setting either loads at once).
    setTimeout(() => {
      if (!this._loading) this.load();
    }, 0);
  }

  attributeChangedCallback(_name, before, after) {
    if (before !== after && this.isConnected) this.load();
  }

  get _staff() {
    return this.hasAttribute('patient-id');
  }

  _base() {
    const id = this.getAttribute('patient-id');
    return this._staff ? `/patients/${encodeURIComponent(id)}/consents` : '/me/consents';
  }

  async _request(method, path, body) {
    let fromAttribute = {};
    try {
      fromAttribute = JSON.parse(this.getAttribute('headers') || '{}');
    } catch {
      fromAttribute = {};
    }
    const headers = { accept: 'application/json', ...fromAttribute, ...this._headers };
    if (this._tokenProvider) {
      const token = await this._tokenProvider();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await fetch(`${(this.getAttribute('api') || '').replace(/\/$/, '')}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
      });
    } catch {
      throw new Error('The connector cannot be reached. Try again later.');
    }
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (response.status === 401) {
      this.dispatchEvent(new CustomEvent('hie-consent-unauthorized', { bubbles: true, composed: true }));
    }
    if (!response.ok) throw new ProblemError(response.status, json || { status: response.status });
    return json;
  }

  /** Reloads the history (and, for a patient, the clinic's explanation) and redraws. */
  async load() {
    const token = (this._loading = {});
    this._render({ loading: true });
    try {
      const [history, portal] = await Promise.all([
        this._request('GET', this._base()),
        this._staff ? null : this._request('GET', '/me/portal').catch(() => null),
      ]);
      if (token !== this._loading) return;
      this._history = history;
      this._portal = portal;
      this._selected = null;
      this._formOpen = history.consents.length === 0;
      this._render({});
    } catch (error) {
      if (token !== this._loading) return;
      this._history = null;
      this._render({ error });
    }
  }

  _render({ loading, error, message }) {
    const root = this.shadowRoot;
    const titleId = `${this._uid}-title`;
    const parts = [];
    const section = h('section', { 'aria-labelledby': titleId });
    parts.push(section);
    section.append(h('h2', { id: titleId }, this._staff ? 'HIE consent' : 'My consent to share with the HIE'));
    if (this._portal && this._portal.explanation) {
      section.append(h('p', { class: 'explanation' }, this._portal.explanation));
    }
    const live = h('p', { role: 'status', class: 'ok' }, message || '');
    if (loading) {
      section.append(h('p', {}, 'Loading consent history…'), live);
      root.replaceChildren(...parts);
      return;
    }
    if (error) {
      section.append(h('p', { class: 'error', role: 'alert' }, error.message), h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => this.load() }, 'Try again')));
      root.replaceChildren(...parts);
      return;
    }
    const history = this._history;
    const current = history.current;
    section.append(
      h(
        'p',
        { class: 'summary' },
        current && current.status === 'active'
          ? `Consent is Active until ${day(current.expires_on)}: information can be shared with the HIE.`
          : 'No active consent: nothing is shared with the HIE.',
      ),
    );
    section.append(this._table(history), this._actions(), live);
    if (this._formOpen) section.append(this._newForm(history));
    root.replaceChildren(...parts);
  }

  _table(history) {
    const latestId = history.consents[0] && history.consents[0].consent_id;
    const columns = ['Given On', 'Expires On', 'Status', 'Source', 'Recorded', 'Revoked'];
    const body = h('tbody');
    if (!history.consents.length) {
      body.append(h('tr', {}, h('td', { colspan: columns.length }, 'No consent recorded yet.')));
    }
    history.consents.forEach((c) => {
      const active = c.status === 'active';
      const statusText = `${STATUS_TEXT[c.status] || c.status}${c.consent_id === latestId ? ' (latest)' : ''}`;
      const cells = [
        day(c.given_on),
        day(c.expires_on),
        h('span', { class: 'status' }, active ? `✔ ${statusText}` : statusText),
        SOURCE_TEXT[c.source] || c.source,
        h('span', {}, who(c.created_by), h('br'), h('span', { class: 'small' }, moment(c.created_at))),
        c.revoked_at
          ? h('span', {}, who(c.revoked_by), h('br'), h('span', { class: 'small' }, moment(c.revoked_at)), c.revoke_reason ? h('br') : null, c.revoke_reason ? h('span', { class: 'small' }, `Reason: ${c.revoke_reason}`) : null)
          : '',
      ];
      const selected = this._selected === c.consent_id;
      const tr = h(
        'tr',
        { class: active ? 'active' : null, tabindex: 0, 'aria-selected': selected ? 'true' : 'false', 'data-consent-id': c.consent_id, 'data-status': c.status },
        cells.map((cell, i) => h('td', { 'data-label': columns[i] }, cell)),
      );
      const select = () => {
        this._selected = c.consent_id;
        for (const row of body.querySelectorAll('tr')) row.setAttribute('aria-selected', row === tr ? 'true' : 'false');
        this._revokeButton.disabled = Boolean(c.revoked_at);
        this._revokeError.textContent = '';
      };
      selectableRow(tr, select);
      tr.addEventListener('dblclick', () => {
        select();
        this._revoke();
      });
      body.append(tr);
    });
    const table = h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h('caption', {}, 'Consent History (newest first)'),
        h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
        body,
      ),
    );
    return h('div', {}, table, h('p', { class: 'small' }, 'Select a record (click, or Enter or Space) to revoke it.'));
  }

  _actions() {
    const selected = this._history.consents.find((c) => c.consent_id === this._selected);
    this._revokeButton = h('button', { type: 'button', class: 'danger', disabled: !selected || Boolean(selected.revoked_at), onclick: () => this._revoke() }, 'Revoke');
    this._revokeError = h('p', { class: 'error', role: 'alert', id: `${this._uid}-revoke-error` });
    this._newButton = h('button', { type: 'button', class: 'primary', onclick: () => this._openForm() }, 'New');
    return h('div', {}, h('div', { class: 'actions' }, this._newButton, this._revokeButton), this._revokeError);
  }

  _openForm() {
    this._formOpen = true;
    this._render({});
    this.shadowRoot.querySelector('input[name=given_on]').focus();
  }

  _newForm(history) {
    const defaults = history.new_defaults || { given_on: history.today, expires_on: null };
    const input = (name, label, value) => {
      const id = `${this._uid}-${name}`;
      return h(
        'div',
        { class: 'field' },
        h('label', { for: id }, label),
        h('input', { id, name, type: 'date', value: value || '', required: true, 'aria-describedby': `${id}-error` }),
        h('p', { class: 'error', id: `${id}-error`, 'data-error-for': name }),
      );
    };
    const summary = h('p', { class: 'error', role: 'alert', 'data-error-for': '' });
    const form = h(
      'form',
      { class: 'new', 'aria-label': 'New consent', novalidate: true },
      h('h3', {}, 'New consent'),
      h('p', { class: 'small' }, 'A new record replaces the previous one. Dates can be typed or picked.'),
      h('div', { class: 'fields' }, input('given_on', 'Given On', defaults.given_on), input('expires_on', 'Expires On', defaults.expires_on)),
      summary,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save'),
        history.consents.length
          ? h('button', { type: 'button', onclick: () => { this._formOpen = false; this._render({}); this._newButton.focus(); } }, 'Cancel')
          : null,
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this._save(form);
    });
    return form;
  }

  async _save(form) {
    const body = {};
    for (const name of ['given_on', 'expires_on']) {
      const value = form.elements[name].value;
      if (value) body[name] = value;
    }
    for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
    for (const input of form.querySelectorAll('input')) input.removeAttribute('aria-invalid');
    form.querySelector('[type=submit]').disabled = true;
    try {
      const consent = await this._request('POST', this._base(), body);
      await this.load();
      this._render({ message: `Consent saved: ${STATUS_TEXT[consent.status] || consent.status} until ${day(consent.expires_on)}.` });
      this.dispatchEvent(new CustomEvent('hie-consent-change', { bubbles: true, composed: true, detail: { action: 'given', status: consent.status } }));
    } catch (error) {
      form.querySelector('[type=submit]').disabled = false;
      let first = null;
      const unmatched = [];
      for (const { field, message } of (error.problem && error.problem.errors) || []) {
        const slot = form.querySelector(`[data-error-for="${field}"]`);
        const input = form.elements[field];
        if (slot && input && field) {
          slot.textContent = `${slot.textContent ? `${slot.textContent}; ` : ''}${message}`;
          input.setAttribute('aria-invalid', 'true');
          first = first || input;
        } else {
          unmatched.push(message);
        }
      }
      if (!first || unmatched.length) form.querySelector('[data-error-for=""]').textContent = unmatched.join('; ') || error.message;
      (first || form.querySelector('[type=submit]')).focus();
    }
  }

  async _revoke() {
    const consent = this._history.consents.find((c) => c.consent_id === this._selected);
    if (!consent || consent.revoked_at) return;
    const reason = await this._confirm(consent);
    if (reason === null) return;
    try {
      const revoked = await this._request('POST', `${this._base()}/${encodeURIComponent(consent.consent_id)}/revoke`, reason ? { reason } : {});
      await this.load();
      this._render({ message: 'Consent revoked: nothing is shared with the HIE from now on.' });
      this.dispatchEvent(new CustomEvent('hie-consent-change', { bubbles: true, composed: true, detail: { action: 'revoked', status: revoked.status } }));
    } catch (error) {
      this._revokeError.textContent = error.message;
      this._revokeButton.focus();
    }
  }

  /** The confirmation dialog; resolves to the reason ('' if none given) or null when cancelled. */
  _confirm(consent) {
    return new Promise((resolve) => {
      const opener = this.shadowRoot.activeElement;
      const titleId = `${this._uid}-dialog-title`;
      const reasonId = `${this._uid}-reason`;
      const reason = h('textarea', { id: reasonId, name: 'reason', rows: 3 });
      const form = h(
        'form',
        { method: 'dialog' },
        h('h2', { id: titleId }, 'Revoke consent?'),
        h('p', {}, `The consent given on ${day(consent.given_on)} will be revoked: from now on nothing is shared with the HIE until consent is given again.`),
        h('div', { class: 'field' }, h('label', { for: reasonId }, 'Reason for revoking'), reason),
        h('div', { class: 'actions' }, h('button', { type: 'button', value: 'cancel', 'data-cancel': true }, 'Cancel'), h('button', { type: 'submit', class: 'danger' }, 'Revoke consent')),
      );
      const dialog = h('dialog', { 'aria-labelledby': titleId }, form);
      let result = null;
      form.querySelector('[data-cancel]').addEventListener('click', () => dialog.close());
      form.addEventListener('submit', () => {
        result = reason.value.trim();
      });
      dialog.addEventListener('close', () => {
        dialog.remove();
        if (opener && opener.isConnected) opener.focus();
        else if (this._revokeButton) this._revokeButton.focus();
        resolve(result);
      });
      this.shadowRoot.append(dialog);
      dialog.showModal();
      reason.focus();
    });
  }
}

if (!customElements.get('hie-consent')) customElements.define('hie-consent', HieConsent);
