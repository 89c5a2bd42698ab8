// The console shell: the local-user picker, the nav, focus and title on navigation, sign out;
// with --tokens the bearer-token sign-in.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, checkA11y, signInLocal, startServer, CONNECTOR_BIN } from './support.js';

test('a local user signs in, navigates by hash, and the main region takes focus', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Choose a local user' })).toBeVisible();
  await checkA11y(page);
  await signInLocal(page, { user: 'dana', role: 'staff' });
  await expect(page).toHaveURL(/#\/patients$/);
  await expect(page.getByText('Signed in as')).toContainText('dana');
  await expect(page.getByRole('navigation', { name: 'Main' })).toContainText('Front desk');
  await expect(page).toHaveTitle(/Find a patient/);
  await expect(page.locator('main')).toBeFocused();
  await page.goto('/#/no-such-page');
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Choose a local user' })).toBeVisible();
});

test('with --tokens the console asks for a bearer token and learns its role from the API', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'connector-tokens-'));
  const file = join(dir, 'tokens');
  const add = (user, role) =>
    execFileSync(CONNECTOR_BIN, ['token', 'add', '--user', user, '--role', role, '--file', file]).toString().trim();
  const admin = add('robin', 'admin');
  const server = await startServer({ args: ['--tokens', file] });
  try {
    await page.goto(server.url);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await page.getByLabel('Bearer token').fill('cc_not_a_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toContainText('does not accept this token');
    await checkA11y(page);
    await page.getByLabel('Bearer token').fill(admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByText('Signed in as')).toContainText('(admin)');
    await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 }), 'an admin lands on the dashboard').toBeVisible();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
