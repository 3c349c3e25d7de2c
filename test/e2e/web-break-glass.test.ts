/**
 * Break-glass in the web console, in a real headless Chromium against a real broker: the technician's
 * red "Emergency access" button (reason required) gives an active grant marked Emergency at once;
 * an approver of the department sees the banner on any page, opens the emergency page and records
 * the review, after which nothing waits for review.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeviceSshd } from '../support/device-sshd.js';
import { createStory, login, newPerson, PASSWORD, reportErrors, screenshot, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

describe('break-glass in the web console', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser;
  beforeAll(() => void ({ broker, sshd, browser } = web));

  it('technician opens emergency access from the request form; the approver is alerted and reviews it', async () => {
    const s = await createStory(broker, sshd);
    await broker.api.ok('PATCH', `/api/devices/${s.device.id}`, s.admin.token, { policy: { breakGlass: true, breakGlassMaxMinutes: 20 } });
    const tech = await newPerson(browser, broker.httpUrl!);
    const approver = await newPerson(browser, broker.httpUrl!);

    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.goto(`/devices/${s.device.id}/request`);
    await tech.page.getByTestId('break-glass').click();
    const open = tech.page.getByRole('button', { name: 'Open emergency access now' });
    expect(await open.isDisabled()).toBe(true); // no reason yet
    await tech.page.getByLabel(/Reason \(required/).fill('Ventilator alarm loop on ICU bed 4');
    await tech.page.getByLabel(/Minutes/).fill('10');
    await screenshot(tech.page, 'technician-break-glass');
    await open.click();
    await tech.page.waitForURL('**/access');
    await tech.page.locator('.grant-card .badge[data-status="emergency"]').waitFor();
    await tech.page.getByRole('link', { name: 'Open terminal' }).waitFor();

    await login(approver.page, s.approver.username, PASSWORD);
    await approver.page.getByTestId('emergency-banner').waitFor();
    await approver.page.getByRole('link', { name: 'Review now' }).click();
    await approver.page.waitForURL('**/emergency');
    await approver.page.getByText('Ventilator alarm loop on ICU bed 4').waitFor();
    await screenshot(approver.page, 'approver-emergency-review');
    await approver.page.getByLabel(/Comment/).fill('Alarm confirmed with the ward nurse');
    await approver.page.getByRole('button', { name: 'Record review' }).click();
    await approver.page.getByText('No emergency access waits for a review.').waitFor();
    await approver.page.reload();
    await approver.page.getByText('No emergency access waits for a review.').waitFor();
    expect(await approver.page.getByTestId('emergency-banner').count()).toBe(0);

    const grants = await broker.api.ok('GET', '/api/grants?emergency=true', s.approver.token);
    expect(grants.items).toEqual([expect.objectContaining({ emergency: true, status: 'active', reviewOutcome: 'justified',
      reviewComment: 'Alarm confirmed with the ward nurse' })]);
    expect(reportErrors([tech, approver])).toEqual([]);
  }, 120_000);
});
