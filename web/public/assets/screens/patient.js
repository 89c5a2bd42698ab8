export const screen = { path: '#/patients/:id', title: 'Patient', nav: null, roles: ['staff', 'admin'] };
export async function render(root) { root.textContent = 'Patient'; }
