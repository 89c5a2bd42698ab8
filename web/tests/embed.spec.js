// <hie-consent> embedded in a foreign page: another origin (the clinic's own portal) loads the
// component from the connector (started with --allow-origin for it and --tokens), and the
// component calls the API with the bearer token its tokenProvider returns.
import { test, expect, checkA11y, snap, startServer, CONNECTOR_BIN } from './support.js';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function listen(server) {
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server.address().port)));
}

test('the consent component works embedded in another origin with a token provider', async ({ page }) => {
  const tokens = { patient: '' };
  const portal = createServer((request, response) => {
    if (request.url === '/session/connector-token') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end(tokens.patient);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(portal.page);
  });
  const portalOrigin = `http://127.0.0.1:${await listen(portal)}`;
  const dir = mkdtempSync(join(tmpdir(), 'connector-embed-'));
  const tokenFile = join(dir, 'tokens');
  const add = (user, role) =>
    execFileSync(CONNECTOR_BIN, ['token', 'add', '--user', user, '--role', role, '--file', tokenFile]).toString().trim();
  const admin = add('robin', 'admin');
  tokens.patient = add('p-embed-1', 'patient');
  const connector = await startServer({ args: ['--tokens', tokenFile, '--allow-origin', portalOrigin] });
  try {
    portal.page = readFileSync(join(here, 'embed', 'foreign-portal.html'), 'utf8').replaceAll('__CONNECTOR__', connector.url);
    const auth = { headers: { authorization: `Bearer ${admin}` } };
    await connector.api('PUT', '/settings/hie', { portal_explanation: 'Example Clinic shares visits with the regional HIE.' }, auth);
    await connector.api('PUT', '/patients/p-embed-1', { mrn: 'MRN-EMB-1', first_name: 'Emb', last_name: 'Edded', birth_date: '1990-01-01', sex: 'U' }, auth);

    const requests = [];
    page.on('request', (r) => {
      if (r.url().startsWith(connector.url) && r.method() !== 'OPTIONS') requests.push(r);
    });
    await page.goto(portalOrigin);
    const consent = page.locator('hie-consent');
    await expect(consent.getByText('Example Clinic shares visits with the regional HIE.')).toBeVisible();
    await consent.getByRole('button', { name: 'Save' }).click();
    await expect(consent.locator('tbody tr').first()).toContainText('Active (latest)');
    const apiCall = requests.find((r) => r.url().endsWith('/me/consents') && r.method() === 'POST');
    expect(apiCall, 'the component called the API').toBeTruthy();
    expect(await apiCall.headerValue('authorization')).toBe(`Bearer ${tokens.patient}`);
    await checkA11y(page, { include: 'hie-consent' });
    await snap(page, 'component-embedded', { docs: true });
  } finally {
    await connector.stop();
    portal.close();
  }
});
