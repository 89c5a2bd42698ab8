export const screen = { path: '#/patients', title: 'Find a patient', nav: 'Front desk', roles: ['staff', 'admin'] };
export async function render(root) { root.textContent = 'Patients'; }
