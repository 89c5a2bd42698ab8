// `connector serve --oidc` against the real provider: an access token the provider issued (through
// its login page) is accepted; tokens with a wrong audience, a wrong issuer, an expiry in the past,
// a key not in the provider's JWKS, `alg: none` or HMAC are answered 401 problem+json with
// `WWW-Authenticate: Bearer error="invalid_token"`, and change nothing.
import { test, expect } from '@playwright/test';
import { startOidcStack, signInAtProvider, storedUser } from './oidc/stack.js';

let stack;
test.beforeAll(async () => {
  stack = await startOidcStack();
});
test.afterAll(async () => {
  await stack.stop();
});

/** GET `path` with `token` as the bearer token: { status, headers, body }. */
async function get(path, token) {
  const response = await fetch(`${stack.server.url}${path}`, { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

test('a token the provider issued is accepted, with the role and patient id from its claims', async ({ page }) => {
  await page.goto(`${stack.server.url}/`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await signInAtProvider(page, stack.idp, 'clinicadmin');
  await expect(page.getByText('Signed in as')).toContainText('clinicadmin (admin)');
  const { access_token: token } = await storedUser(page);
  const [, payload] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  expect(claims).toMatchObject({ iss: stack.idp.issuer, aud: 'connector-api', sub: 'clinicadmin', role: 'admin' });

  const settings = await get('/settings/hie', token);
  expect(settings.status, 'an admin reads the settings').toBe(200);
  await stack.api('PUT', '/patients/p-claims-1', { mrn: 'MRN-CL-1', first_name: 'Cla', last_name: 'Ims', birth_date: '1990-01-01', sex: 'U' });
  const patient = await get('/me/consents', await stack.idp.mint({ sub: 'patient-p-claims-1', role: 'patient', patient_id: 'p-claims-1' }));
  expect(patient.status, 'a patient reads their own consents (patient_id claim)').toBe(200);
  expect((await get('/settings/hie', await stack.idp.mint({ sub: 'frontdesk', role: 'staff' }))).status, 'staff is not admin').toBe(403);
});

const REFUSED = [
  ['a wrong audience', (idp) => idp.mint({ aud: 'another-api' })],
  ['a wrong issuer', (idp) => idp.mint({ iss: 'http://127.0.0.1:1/other-issuer' })],
  ['an expired token', (idp) => idp.mint({ iat: Math.floor(Date.now() / 1000) - 900 }, { lifetime: -600 })],
  ['a key not in the JWKS', (idp) => idp.mint({}, { signer: 'stranger' })],
  ['alg none', (idp) => idp.mint({}, { signer: 'none' })],
  ['an HMAC token', (idp) => idp.mint({}, { signer: 'hs256' })],
];

for (const [name, token] of REFUSED) {
  test(`401 for ${name}`, async () => {
    const admin = await stack.idp.mint({ sub: 'clinicadmin', role: 'admin' });
    const bad = await token(stack.idp);
    const refused = await get('/settings/hie', bad);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(refused.body.status).toBe(401);
    // ... and changes nothing
    const before = (await get('/settings/hie', admin)).body;
    const write = await fetch(`${stack.server.url}/settings/hie`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bad}` },
      body: JSON.stringify({ ...before, consent_expire_days: before.consent_expire_days + 1 }),
    });
    expect(write.status).toBe(401);
    expect((await get('/settings/hie', admin)).body).toEqual(before);
  });
}
