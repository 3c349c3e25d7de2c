/**
 * The console's admin pages and its phone layout, in a real headless Chromium against a real
 * broker: an administrator enrolls a vendor and a device, deploys it, edits it, replaces its vaulted
 * credential (never shown) and creates a technician who can then log in and see that device; every
 * main page fits a phone's width. Screenshots go to test-artifacts/screenshots/.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeviceSshd } from '../support/device-sshd.js';
import { createStory, firstLogin, INITIAL_PASSWORD, login, newPerson, openGrant, PASSWORD, PHONE, reportErrors, screenshot, terminalText, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

describe('web console: admin pages and phones', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser, base: string;
  beforeAll(() => void ({ broker, sshd, browser, base } = web));

  it('an admin enrolls a vendor and a device, deploys and edits it, sets its credential and adds a technician', async () => {
    const s = await createStory(broker, sshd);
    const suffix = s.device.name.replace(/^vent-/, '');
    const admin = await newPerson(browser, base);
    const page = admin.page;
    await login(page, s.admin.username, PASSWORD);
    await page.waitForURL('**/admin/devices');

    // vendor
    await page.goto('/admin/vendors');
    await page.getByLabel('Name').fill(`Infusion Service ${suffix}`);
    await page.getByLabel('Contract reference').fill(`IS-${suffix}`);
    await page.getByLabel('Contract end (last day of access)').fill('2098-06-30');
    await page.getByRole('button', { name: 'Add vendor' }).click();
    await page.locator('[data-testid=vendors] tr', { hasText: `Infusion Service ${suffix}` }).getByText('2098-06-30').waitFor();
    await screenshot(page, 'admin-vendors');

    // device: trust record, policy, vendor, vaulted credential
    await page.goto('/admin/devices/new');
    const name = `pump-${suffix}`;
    await page.getByLabel('Name (the SSH principal)').fill(name);
    await page.getByLabel('Manufacturer').fill('B. Braun');
    await page.getByLabel('Model').fill('Space Infusion');
    await page.getByLabel('Serial number').fill(`SN-${suffix}`);
    await page.getByLabel('Firmware baseline').fill('4.2.0');
    await page.getByLabel('Owning department').fill(s.department);
    await page.getByLabel('Criticality').selectOption('critical');
    await page.getByLabel('Clinical purpose').fill('Infusion pump station, ICU bed 4');
    await page.getByLabel('Network address').fill('127.0.0.1');
    await page.getByLabel('SSH port').fill(String(sshd.port));
    await page.getByLabel('Pinned SSH host key').fill(sshd.hostKey);
    await page.getByLabel('Max session (minutes)').fill('30');
    await page.getByLabel(`Infusion Service ${suffix}`).check();
    await page.getByLabel('Login name on the device').fill(sshd.credential.username);
    await page.getByLabel(/^Private key/).fill(sshd.credential.privateKey);
    expect(await page.getByLabel('Approvals required').inputValue()).toBe('2');
    await screenshot(page, 'admin-device-new');
    await page.getByRole('button', { name: 'Enroll (staged)' }).click();
    await page.waitForURL(/\/admin\/devices\/[0-9a-f-]{36}$/);
    const deviceId = page.url().split('/').pop()!;
    await page.locator('.page-actions [data-status=staged]').waitFor();
    await page.getByText('set (never shown)').waitFor();

    // lifecycle with a reason
    await page.getByLabel('Move from staged to').selectOption('deployed');
    await page.getByLabel('Reason (audited)').fill('commissioned by biomedical engineering');
    await page.getByRole('button', { name: 'Move to deployed' }).click();
    await page.locator('.page-actions [data-status=deployed]').waitFor();
    // deploying tested the connection first (host key, credential, a no-op): the result is on the page
    await page.getByTestId('last-test').getByText('passed').waitFor();

    // edit the trust record
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Firmware baseline').fill('4.2.1');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('4.2.1').waitFor();

    // replace the credential: accepted, never displayed
    await page.getByLabel('Login name on the device').fill('service');
    await page.getByLabel('Kind').selectOption('password');
    await page.getByLabel('Password').fill('a-device-password-that-must-never-show');
    await page.getByRole('button', { name: 'Replace credential' }).click();
    await page.getByText('Credential sealed in the vault.').waitFor();
    // the device does not take that password: "Test connection" says so
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByTestId('last-test').getByText('the device refused the credential of "service"', { exact: false }).waitFor();
    await page.locator('.card', { hasText: 'History' }).getByText('device.credential_rotated').waitFor();
    const html = await page.content();
    expect(html).not.toContain('a-device-password-that-must-never-show');
    expect(html).not.toContain('PRIVATE KEY');
    await screenshot(page, 'admin-device');
    const device = await broker.api.ok('GET', `/api/devices/${deviceId}`, s.admin.token);
    expect(device).toMatchObject({ name, firmwareBaseline: '4.2.1', lifecycleState: 'deployed', hasCredential: true, policy: { approvalsRequired: 2, maxSessionMinutes: 30 } });

    await page.goto('/admin/devices');
    await page.locator('[data-testid=devices]').getByText(name).waitFor();
    await screenshot(page, 'admin-devices');

    // a technician of the new vendor, who then sees the device
    await page.goto('/admin/users');
    const techName = `tina-${suffix}`;
    await page.getByLabel('Username').fill(techName);
    await page.getByLabel('Display name').fill('Tina Pump-Service');
    await page.getByLabel('Vendor (technicians)').selectOption({ label: `Infusion Service ${suffix}` });
    await page.getByLabel('Initial password').fill(INITIAL_PASSWORD);
    await page.getByRole('button', { name: 'Add user' }).click();
    const row = page.locator(`tr[data-username="${techName}"]`);
    await row.waitFor();
    await page.getByLabel('Find users').fill(suffix);
    await screenshot(page, 'admin-users');
    const tech = await newPerson(browser, base);
    // the password the admin chose is replaced at the first login
    await firstLogin(tech.page, techName, INITIAL_PASSWORD, PASSWORD, 'first-login-password');
    await tech.page.getByText(name).waitFor();
    // and can change it again whenever they like
    await tech.page.getByRole('link', { name: 'Change password' }).click();
    await tech.page.getByLabel('Current password').fill(PASSWORD);
    await tech.page.getByLabel('New password', { exact: true }).fill(`${PASSWORD}-2`);
    await tech.page.getByLabel('Repeat the new password').fill(`${PASSWORD}-2`);
    await tech.page.getByRole('button', { name: 'Change password' }).click();
    await tech.page.getByText('Password changed.').waitFor();
    await screenshot(tech.page, 'change-password');
    await tech.context.close();

    // disabling is one click and shows at once
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.locator('[data-status=disabled]').waitFor();
    await admin.context.close();
    expect(reportErrors([admin, tech])).toEqual([]);
  }, 300_000);

  it('every main page fits a phone', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    // a second request waiting in the approver's queue: another technician of the same vendor
    const other = await broker.api.ok('POST', '/api/users', s.admin.token, {
      username: `${s.tech.username}-b`, displayName: 'Second Technician', roles: ['technician'], vendorId: s.vendor.id, password: INITIAL_PASSWORD,
    });
    const otherToken = await broker.api.firstLogin(other.username, INITIAL_PASSWORD, PASSWORD);
    const pending = await broker.api.ok('POST', '/api/access-requests', otherToken, {
      deviceId: s.device.id, reason: 'Check the alarm log after last night\'s event', ticketRef: 'INC-2291', durationMinutes: 15,
    });

    const fits = async (page: Page, what: string) => {
      const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      expect(scroll, `${what} is wider than the phone`).toBeLessThanOrEqual(width + 1);
    };

    const tech = await newPerson(browser, base, PHONE);
    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.getByText(s.device.name).first().waitFor();
    await fits(tech.page, 'devices');
    await screenshot(tech.page, 'phone-technician-devices');
    await tech.page.getByRole('button', { name: 'Menu' }).click();
    await tech.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My access' }).waitFor();
    await screenshot(tech.page, 'phone-menu');
    await tech.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My access' }).click();
    await tech.page.getByRole('link', { name: 'Open terminal' }).waitFor();
    await fits(tech.page, 'my access');
    await screenshot(tech.page, 'phone-technician-access');
    await tech.page.goto(`/grants/${grant.id}/terminal`);
    await tech.page.getByRole('button', { name: 'Disconnect' }).waitFor({ timeout: 15_000 });
    await tech.page.getByTestId('terminal').click();
    await tech.page.keyboard.type('echo phone-$((4*4))-ok');
    await tech.page.keyboard.press('Enter');
    await expect.poll(() => terminalText(tech.page), { timeout: 15_000 }).toContain('phone-16-ok');
    // the key a phone keyboard lacks: interrupt a program that waits for input
    await tech.page.keyboard.type('cat');
    await tech.page.keyboard.press('Enter');
    await tech.page.getByRole('button', { name: 'Ctrl-C' }).click();
    await tech.page.keyboard.type('echo after-$((2+2))-ctrlc');
    await tech.page.keyboard.press('Enter');
    await expect.poll(() => terminalText(tech.page), { timeout: 15_000 }).toContain('after-4-ctrlc');
    // one terminal page, one session
    expect((await broker.api.ok('GET', `/api/sessions?grantId=${grant.id}`, s.admin.token)).items).toHaveLength(1);
    await fits(tech.page, 'terminal');
    await screenshot(tech.page, 'phone-technician-terminal');

    const approver = await newPerson(browser, base, PHONE);
    await login(approver.page, s.approver.username, PASSWORD);
    await approver.page.getByText('Check the alarm log').waitFor();
    await fits(approver.page, 'approvals');
    await screenshot(approver.page, 'phone-approver-queue');
    await approver.page.goto(`/approvals/${pending.id}`);
    await approver.page.getByText('Device trust record').waitFor();
    await approver.page.getByRole('button', { name: 'Approve' }).waitFor();
    await fits(approver.page, 'request detail');
    await screenshot(approver.page, 'phone-approver-request');
    await approver.page.goto('/live');
    await approver.page.locator('[data-testid=live-sessions]').getByText(s.device.name).waitFor({ timeout: 10_000 });
    await fits(approver.page, 'live sessions');
    await screenshot(approver.page, 'phone-approver-live');

    const auditor = await newPerson(browser, base, PHONE);
    await login(auditor.page, s.auditor.username, PASSWORD);
    await auditor.page.goto('/audit');
    await auditor.page.getByTestId('chain-status').waitFor({ timeout: 15_000 });
    await auditor.page.locator('[data-testid=audit] tbody tr').first().waitFor();
    await fits(auditor.page, 'audit log');
    await screenshot(auditor.page, 'phone-auditor-audit');
    await auditor.page.goto('/sessions');
    await auditor.page.locator('[data-testid=sessions]').getByText(s.device.name).first().waitFor();
    await fits(auditor.page, 'sessions');
    await screenshot(auditor.page, 'phone-auditor-sessions');

    for (const p of [tech, approver, auditor]) await p.context.close();
    expect(reportErrors([tech, approver, auditor])).toEqual([]);
  }, 300_000);
});
