/**
 * Device credentials in the console (§8.4), in a real headless Chromium against a real broker and sshd:
 * - the admin device form offers the three kinds with their setup: the exact TrustedUserCAKeys line and
 *   the device CA key (as GET /api/device-ca gives them) for a certificate, where the broker's key goes
 *   for a rotated key (and, once saved, the public key to install), a static secret with an optional
 *   rotation command for a password; the trust record shows the kind, issue and rotation times;
 * - the credentials report is reachable from Reports and lists the static secret with its age;
 * - a host key change shows the new fingerprint beside the pinned one, and the device's approver
 *   re-pins it from the Host keys page.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKey, type DeviceSshd } from '../support/device-sshd.js';
import { createStory, login, newPerson, PASSWORD, reportErrors, screenshot, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';
import { hostKeyFingerprint } from '../../server/core/host-key-changes.js';

describe('web console: device credentials and host key changes', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser, base: string;
  beforeAll(() => void ({ broker, sshd, browser, base } = web));

  it('the device form shows each credential kind with its setup; the trust record and the report show the credential', async () => {
    const s = await createStory(broker, sshd);
    const suffix = s.device.name.replace(/^vent-/, '');
    const ca = await broker.api.ok('GET', '/api/device-ca', s.admin.token);
    const admin = await newPerson(browser, base);
    const page = admin.page;
    await login(page, s.admin.username, PASSWORD);
    await page.goto('/admin/devices/new');
    await page.getByLabel('Login name on the device').fill('service');

    // certificate: the exact sshd_config line and the device CA's public key
    await page.getByLabel('Kind').selectOption('certificate');
    await expect.poll(() => page.getByTestId('device-ca-sshd-config').textContent()).toBe('TrustedUserCAKeys /etc/ssh/portcullis_device_ca.pub');
    expect(await page.getByTestId('device-ca-public-key').textContent()).toBe(ca.publicKey);
    expect(await page.getByTestId('certificate-setup').textContent()).toContain('service');
    await screenshot(page, 'admin-device-credential-certificate');

    // static password: shown as a static secret, with an optional rotation command
    await page.getByLabel('Kind').selectOption('password');
    expect(await page.getByTestId('static-setup').textContent()).toMatch(/static secret/);
    await page.getByLabel('Rotation command on the device (optional)').waitFor();

    // rotated key: where the key goes; enrolling shows the public key to install
    await page.getByLabel('Kind').selectOption('key');
    expect(await page.getByTestId('key-setup').textContent()).toContain('~service/.ssh/authorized_keys');
    await page.getByLabel('Name (the SSH principal)').fill(`pump-${suffix}`);
    await page.getByLabel('Manufacturer').fill('B. Braun');
    await page.getByLabel('Model').fill('Space Infusion');
    await page.getByLabel('Firmware baseline').fill('4.2.0');
    await page.getByLabel('Owning department').fill(s.department);
    await page.getByLabel('Clinical purpose').fill('Infusion pump station, ICU bed 4');
    await page.getByLabel('Network address').fill('127.0.0.1');
    await page.getByLabel('SSH port').fill(String(sshd.port));
    await page.getByLabel('Pinned SSH host key').fill(sshd.hostKey);
    await page.getByRole('button', { name: 'Enroll (staged)' }).click();
    await page.waitForURL(/\/admin\/devices\/[0-9a-f-]{36}$/);
    const deviceId = page.url().split('/').pop()!;
    const device = await broker.api.ok('GET', `/api/devices/${deviceId}`, s.admin.token);
    expect(device.credentialKind).toBe('key');
    await expect.poll(() => page.getByTestId('key-to-install').textContent()).toBe(device.credentialPublicKey);
    expect(device.credentialPublicKey).toMatch(/^ssh-ed25519 AAAA/);
    await page.getByText('rotated key (generated and rotated by the broker)').first().waitFor();
    const kv = (term: string) => page.locator('.kv > div', { has: page.locator('dt', { hasText: term }) }).locator('dd');
    expect(await kv('Credential issued').textContent()).toMatch(/\(0 days old\)$/);
    expect(await kv('Credential rotated').textContent()).toBe('never');
    expect(await kv('Vaulted credential').textContent()).toBe('set (never shown)');
    await screenshot(page, 'admin-device-credential-key');

    // the report, from the Reports page: the story's device has a static private key
    await page.goto('/reports');
    await page.getByRole('link', { name: 'Device credentials report' }).click();
    await page.waitForURL('**/reports/credentials');
    const row = page.locator(`[data-testid=credentials-report] tr[data-device="${s.device.name}"]`);
    await row.getByText('static secret (private key)').waitFor();
    expect(await row.locator('td[data-label=Age]').textContent()).toMatch(/^0 days/);
    expect(await page.locator(`[data-testid=credentials-report] tr[data-device="pump-${suffix}"]`).count()).toBe(0);
    await screenshot(page, 'credentials-report');
    await admin.context.close();
    expect(reportErrors([admin])).toEqual([]);
  }, 300_000);

  it('an approver compares the presented host key with the pin and re-pins it', async () => {
    const s = await createStory(broker, sshd);
    // the pin no longer matches what the device presents (as after a re-imaging): the connection test is refused and records it
    const other = generateKey(sshd.dir, `other-host-${Date.now()}`).publicKey.split(' ').slice(0, 2).join(' ');
    await broker.api.ok('PATCH', `/api/devices/${s.device.id}`, s.admin.token, { hostKey: other });
    expect(await broker.api.ok('POST', `/api/devices/${s.device.id}/test`, s.admin.token)).toMatchObject({ ok: false });

    const approver = await newPerson(browser, base);
    const page = approver.page;
    await login(page, s.approver.username, PASSWORD);
    await page.getByRole('link', { name: 'Host keys' }).first().click();
    await page.waitForURL('**/host-keys');
    const card = page.locator('.card', { hasText: s.device.name });
    await card.getByTestId('pinned-fingerprint').getByText(hostKeyFingerprint(other)).waitFor();
    await card.getByTestId('pending-fingerprint').getByText(hostKeyFingerprint(sshd.hostKey)).waitFor();
    await screenshot(page, 'host-key-change');
    const repin = card.getByRole('button', { name: 'Re-pin the new host key' });
    expect(await repin.isDisabled()).toBe(true);
    await card.getByLabel(/I compared/).check();
    await repin.click();
    await page.locator('.card', { hasText: s.device.name }).waitFor({ state: 'detached' });

    const after = await broker.api.ok('GET', `/api/devices/${s.device.id}`, s.admin.token);
    expect(after.hostKey).toBe(sshd.hostKey);
    expect(await broker.api.ok('POST', `/api/devices/${s.device.id}/test`, s.admin.token)).toMatchObject({ ok: true });
    // filtered: the run's other brokers write to the same audit log meanwhile
    const audit = await broker.api.ok('GET', `/api/audit?action=device.host_key_repinned&subjectId=${s.device.id}`, s.admin.token);
    expect(audit.items.some((e: { action: string; subjectId: string; actorId: string }) =>
      e.action === 'device.host_key_repinned' && e.subjectId === s.device.id && e.actorId === s.approver.id)).toBe(true);
    await approver.context.close();
    expect(reportErrors([approver])).toEqual([]);
  }, 300_000);
});
