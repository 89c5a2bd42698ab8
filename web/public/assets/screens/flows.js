// Flows (integration): every flow with its direction, entity and event; "Create Flow" opens the
// wizard, a row opens the flow in it.
import { el, dataTable } from '../ui.js';

export const screen = { path: '#/flows', title: 'Flows', nav: 'Integration', roles: ['admin'] };

const DIRECTION = { ehr_to_crm: 'EHR → CRM', crm_to_ehr: 'CRM → EHR' };

export async function render(root, ctx) {
  const { items } = await ctx.api.get('/flows');
  const create = el('button', { type: 'button', class: 'primary' }, 'Create Flow');
  create.addEventListener('click', () => ctx.navigate('#/flows/new'));
  root.append(
    el('h1', {}, 'Flows'),
    el('p', {}, 'Each flow moves one HL7 event type one way, for a lead or an activity.'),
    el('div', { class: 'actions' }, create),
    items.length
      ? dataTable({
          caption: 'Flows. Select one to open it in the wizard.',
          columns: [
            { label: 'Name', value: (f) => f.name },
            { label: 'Direction', value: (f) => DIRECTION[f.direction] ?? f.direction },
            { label: 'Entity', value: (f) => (f.entity === 'lead' ? 'Lead' : 'Activity') },
            { label: 'Event', value: (f) => f.event_type },
            { label: 'Channel', value: (f) => f.channel_id },
            { label: 'Enabled', value: (f) => (f.enabled ? 'Yes' : 'No') },
          ],
          rows: items,
          onSelect: (f) => ctx.navigate(`#/flows/${encodeURIComponent(f.flow_id)}`),
        })
      : el('p', {}, 'No flow yet.'),
  );
}
