// Every screen of the console, in nav order within each group (Front desk, Admin, Integration).
// Each group has its own import block and list, so screens of different groups are added apart.

// Front desk
import * as patients from './patients.js';
import * as patient from './patient.js';

// Admin

// Integration

const frontDesk = [patients, patient];

const admin = [];

const integration = [];

export default [...frontDesk, ...admin, ...integration];
