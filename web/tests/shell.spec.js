// The console shell: the local-user picker, the nav, focus and title on navigation, sign out.
import { test, expect, checkA11y, signInLocal } from './support.js';

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
