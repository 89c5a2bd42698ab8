// HIE settings (admin): the API's 422 problems appear beside their fields and change nothing;
// Next Batch Start Time is entered in the clinic's time zone; the portal text has a live preview.
import { test, expect, checkA11y, snap, signInLocal } from './support.js';

test('settings: problems beside their fields, the start time in the clinic zone, a portal preview', async ({ page, server }) => {
  await signInLocal(page, { user: 'robin', role: 'admin', path: '/#/settings' });
  await page.goto('/#/settings');
  await expect(page.getByRole('heading', { name: 'HIE settings', level: 1 })).toBeVisible();
  await checkA11y(page);

  // Invalid: enabled without a To address, a bad From address, 0 days, a lag over an hour.
  await page.getByLabel('Enable HIE integration').check();
  await page.getByLabel('Default To address').fill('');
  await page.getByLabel('Default From address').fill('not an address');
  await page.getByLabel('Consent expires after (days)').fill('0');
  await page.getByLabel('Safety lag (seconds)').fill('4000');
  await page.getByRole('button', { name: 'Save settings' }).click();

  const errorOf = (name) => page.locator(`[data-error-for="${name}"]`);
  await expect(errorOf('default_from_address')).toBeVisible();
  await expect(errorOf('consent_expire_days')).toHaveText(/between 1 and 3650/);
  await expect(errorOf('safety_lag_seconds')).toHaveText(/0 to 3600/);
  await expect(page.getByLabel('Consent expires after (days)')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Default From address')).toBeFocused();
  await snap(page, 'settings-validation');
  expect((await server.api('GET', '/settings/hie')).consent_expire_days, 'a rejected change writes nothing').toBe(365);

  // A text that is not a whole number is caught before sending, beside the field too.
  await page.getByLabel('Consent expires after (days)').fill('');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(errorOf('consent_expire_days')).toHaveText(/whole number/);

  // Valid: the wall-clock start time is read in the chosen zone (America/Chicago is UTC-5 on
  // 1 November 2026 at midnight, before DST ends at 02:00).
  await page.getByLabel('Default To address').fill('intake@direct.examplehie.org');
  await page.getByLabel('Default From address').fill('records@direct.exampleclinic.org');
  await page.getByLabel('Consent expires after (days)').fill('730');
  await page.getByLabel('Safety lag (seconds)').fill('0');
  await page.getByLabel('Time zone').selectOption('America/Chicago');
  await expect(page.getByText("clinic's time zone (America/Chicago)")).toBeVisible();
  await page.getByLabel('Next Batch Start Time').fill('2026-11-01T00:00');
  await page.getByLabel('Portal explanation').fill('We share your visit summaries with the regional HIE.\n\nYou can stop at any time.');
  const preview = page.locator('#portal-preview');
  await expect(preview.locator('p')).toHaveText(['We share your visit summaries with the regional HIE.', 'You can stop at any time.']);
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status')).toHaveText('HIE settings saved.');
  await expect(page.locator('[data-error-for]:visible')).toHaveCount(0);

  const saved = await server.api('GET', '/settings/hie');
  expect(saved).toMatchObject({
    enabled: true,
    time_zone: 'America/Chicago',
    next_batch_start_time: '2026-11-01T05:00:00Z',
    consent_expire_days: 730,
    safety_lag_seconds: 0,
  });
  // Shown back in the clinic's zone after a reload.
  await page.reload();
  await expect(page.getByLabel('Next Batch Start Time')).toHaveValue('2026-11-01T00:00');
  await snap(page, 'settings', { docs: true });
});
