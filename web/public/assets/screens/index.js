// Every screen of the console, in nav order within each group (Front desk, Admin, Integration).
// Each group has its own import block and list, so screens of different groups are added apart.
// A user's home is the first screen of this list their role may open: the dashboard for admins
// (what an integration engineer opens first), Find a patient for staff.

// Front desk
import * as patients from './patients.js';
import * as register from './register.js';
import * as patient from './patient.js';

// Admin
import * as dashboard from './dashboard.js';
import * as settings from './settings.js';
import * as audit from './audit.js';
import * as batch from './batch.js';

// Integration
import * as channels from './channels.js';
import * as flows from './flows.js';
import * as flowWizard from './flow-wizard.js';
import * as messages from './messages.js';
import * as deliveries from './deliveries.js';

const frontDesk = [patients, register, patient];

const admin = [dashboard, settings, audit, batch];

const integration = [channels, flows, flowWizard, messages, deliveries];

export default [...admin, ...frontDesk, ...integration];
