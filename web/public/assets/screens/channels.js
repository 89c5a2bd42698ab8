// Channels (integration): list, create, edit. Secrets are entered write-only (PUT /secrets/{name})
// and shown only as set or not set; the CRM webhook token is hashed in the browser and only its
// SHA-256 is sent.
import { el, field, showFieldErrors, dataTable } from '../ui.js';
import { validationError } from './admin-kit.js';

export const screen = { path: '#/channels', title: 'Channels', nav: 'Integration', roles: ['admin'] };

const SECRET_STATUS = { resolved: 'set', unresolvable: 'not set', unknown: 'cannot tell here' };

export async function render(root, ctx) {
  const list = el('div', {});
  const editor = el('section', { class: 'editor', 'aria-labelledby': 'channel-form-heading', hidden: '' });
  const newButton = el('button', { type: 'button', class: 'primary' }, 'New channel');

  const refresh = async () => {
    const { items } = await ctx.api.get('/channels');
    list.replaceChildren(
      items.length
        ? dataTable({
            caption: 'Channels. Select one to edit it.',
            columns: [
              { label: 'Id', value: (c) => c.channel_id },
              { label: 'Name', value: (c) => c.name },
              { label: 'Outbound', value: (c) => describeOutbound(c.outbound) },
              { label: 'CRM webhook', value: (c) => (c.crm_webhook ? 'token set' : 'none') },
            ],
            rows: items,
            onSelect: (c) => edit(c.channel_id),
          })
        : el('p', {}, 'No channel yet. A channel is one EHR connection: create one, then build flows on it.'),
    );
  };

  const edit = async (channelId) => {
    const channel = channelId ? await ctx.api.get(`/channels/${encodeURIComponent(channelId)}`) : null;
    editor.hidden = false;
    editor.replaceChildren(channelForm(ctx, channel, async (saved) => {
      editor.hidden = true;
      await refresh();
      ctx.announce(`Channel ${saved.channel_id} saved.`);
    }));
    editor.querySelector('input')?.focus();
  };
  newButton.addEventListener('click', () => edit(null));

  root.append(
    el('h1', {}, 'Channels'),
    el('p', {}, 'Each channel is one EHR connection: how its HL7 is authenticated, where CRM → EHR messages are delivered, and the token its CRM webhooks carry.'),
    el('div', { class: 'actions' }, newButton),
    list,
    editor,
  );
  await refresh();
}

function describeOutbound(o) {
  if (!o) return 'none';
  return o.type === 'mllp' ? `MLLP ${o.host}:${o.port}` : `HTTPS ${o.url}`;
}

/** The create/edit form; `channel` is GET /channels/{id}'s answer, or null for a new one. */
function channelForm(ctx, channel, onSaved) {
  const out = channel?.outbound ?? null;
  const status = (fieldName) => channel?.secrets?.find((s) => s.field === fieldName)?.status;
  const secretRef = channel?.inbound?.secret ?? '';
  const form = el(
    'form',
    { novalidate: '', class: 'form' },
    el('h2', { id: 'channel-form-heading' }, channel ? `Edit channel ${channel.channel_id}` : 'New channel'),
    el('p', { class: 'form-error', role: 'alert', hidden: true }),
    channel ? '' : field({ label: 'Channel id', name: 'channel_id', hint: 'Optional: the id the EHR\u2019s URL and --mllp-channel use (letters, digits, - _ . : @). Left blank, one is generated.' }),
    field({ label: 'Name', name: 'name', value: channel?.name ?? '' }),
    field({ label: 'Description', name: 'description', type: 'textarea', value: channel?.description ?? '' }),
    el(
      'fieldset',
      {},
      el('legend', {}, 'Inbound HL7 (HMAC-SHA256)'),
      field({ label: 'Secret reference', name: 'inbound.secret', value: secretRef, hint: 'Where the HMAC key lives: local:NAME (stored by the connector, set below), env:CONNECTOR_SECRET_… or secretsmanager:ARN.' }),
      el('p', { class: 'secret-status', 'data-secret': 'inbound.secret' }, `Secret: ${channel ? SECRET_STATUS[status('inbound.secret')] ?? 'not set' : 'not set'}`),
      field({ label: 'New secret value (write-only)', name: 'secret_value', type: 'password', hint: 'For a local: reference: stores the value behind it. Never shown again; leave blank to keep the stored one.' }),
      field({ label: 'Replay window (seconds)', name: 'inbound.replay_window_secs', type: 'number', value: String(channel?.inbound?.replay_window_secs ?? 300) }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, 'Outbound to the EHR (CRM → EHR flows)'),
      field({
        label: 'Delivery',
        name: 'outbound.type',
        type: 'select',
        value: out?.type ?? '',
        options: [
          { value: '', label: 'None' },
          { value: 'mllp', label: 'MLLP over TCP' },
          { value: 'https', label: 'HTTPS' },
        ],
      }),
      field({ label: 'Host (MLLP)', name: 'outbound.host', value: out?.host ?? '' }),
      field({ label: 'Port (MLLP)', name: 'outbound.port', type: 'number', value: out?.port != null ? String(out.port) : '' }),
      field({ label: 'URL (HTTPS)', name: 'outbound.url', value: out?.url ?? '' }),
      field({ label: 'Attempts before parking', name: 'outbound.max_attempts', type: 'number', value: String(out?.max_attempts ?? 5) }),
      field({ label: 'First retry after (ms)', name: 'outbound.backoff_initial_ms', type: 'number', value: String(out?.backoff_initial_ms ?? 1000) }),
      field({ label: 'Longest retry wait (ms)', name: 'outbound.backoff_max_ms', type: 'number', value: String(out?.backoff_max_ms ?? 300000) }),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, 'CRM webhooks'),
      el('p', { class: 'secret-status' }, `Webhook token: ${channel?.crm_webhook ? 'set' : 'not set'}`),
      field({ label: 'Header name', name: 'crm_webhook.header_name', value: channel?.crm_webhook?.header_name ?? 'x-connector-webhook-token' }),
      field({ label: 'Webhook token (write-only)', name: 'crm_webhook.token_hash', type: 'password', hint: channel?.crm_webhook ? 'Only its SHA-256 is stored, so enter the token again to keep the webhook when saving.' : 'Leave blank for a channel without CRM webhooks. Only its SHA-256 is sent.' }),
    ),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Save channel')),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const v = (name) => form.elements[name]?.value.trim() ?? '';
    const int = (name) => (v(name) === '' ? null : Number(v(name)));
    const id = channel?.channel_id ?? v('channel_id');
    const secretValue = form.elements.secret_value.value;
    let ref = v('inbound.secret');
    if (!ref && secretValue) ref = `local:${id || slug(v('name'))}-hmac`;
    const outType = v('outbound.type');
    const token = form.elements['crm_webhook.token_hash'].value;
    const body = {
      name: v('name'),
      description: v('description') || null,
      inbound: { type: 'hmac', secret: ref || null, replay_window_secs: int('inbound.replay_window_secs') },
      outbound: outType
        ? {
            ...keepOutbound(out, outType),
            type: outType,
            ...(outType === 'mllp' ? { host: v('outbound.host') || null, port: int('outbound.port') } : { url: v('outbound.url') || null }),
            max_attempts: int('outbound.max_attempts'),
            backoff_initial_ms: int('outbound.backoff_initial_ms'),
            backoff_max_ms: int('outbound.backoff_max_ms'),
          }
        : null,
      crm_webhook: token || channel?.crm_webhook ? { header_name: v('crm_webhook.header_name') || null, token_hash: token ? await sha256Hex(token) : null } : null,
    };
    try {
      if (secretValue) {
        if (!ref.startsWith('local:')) {
          showFieldErrors(form, validationError([{ field: 'secret_value', message: 'can only be stored behind a local: reference' }]));
          return;
        }
        await ctx.api.put(`/secrets/${encodeURIComponent(ref.slice('local:'.length))}`, { value: secretValue });
      }
      const saved = id ? await ctx.api.put(`/channels/${encodeURIComponent(id)}`, body) : await ctx.api.post('/channels', body);
      await onSaved(saved);
    } catch (error) {
      showFieldErrors(form, error);
    }
  });
  return form;
}

/** The outbound settings this form does not edit (TLS, headers, timeouts), kept as stored. */
function keepOutbound(out, type) {
  if (!out || out.type !== type) return {};
  const kept = {};
  for (const key of ['tls', 'connect_timeout_ms', 'ack_timeout_ms', 'headers', 'timeout_ms']) if (out[key] != null) kept[key] = out[key];
  return kept;
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 50) || 'channel';
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
