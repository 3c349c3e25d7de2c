/**
 * The everyday console (issue 18, items 7–10) in a real headless Chromium against a real broker and a
 * real device sshd: the Access page lists active, scheduled, emergency and ended grants with names and
 * revokes one; terminating a session revokes its grant by default and says so; the live-sessions page
 * shows vendor and time left; the replay says why the access was asked for and who cut it; a normal
 * exit is a calm notice; forms show the broker's problems at their fields; a locked-out user is told
 * until when and an admin unlocks them. Screenshots go to test-artifacts/screenshots/.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeviceSshd } from '../support/device-sshd.js';
import { createStory, INITIAL_PASSWORD, login, newPerson, openGrant, PASSWORD, PHONE, reportErrors, screenshot, type Story, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

// generous waits: these tests share two cores with the rest of the suite
const LONG = { timeout: 30_000 };
const LIBRARY_WORDING = /Too small|Too big|Invalid input|Invalid option|Unrecognized key|body\./;

describe('the everyday console', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser, base: string;
  beforeAll(() => void ({ broker, sshd, browser, base } = web));

  /** Another technician of the story's vendor, logged in through the API. */
  const technician = async (s: Story, tag: string, displayName: string) => {
    const user = await broker.api.ok('POST', '/api/users', s.admin.token, {
      username: `${s.tech.username}-${tag}`, displayName, roles: ['technician'], vendorId: s.vendor.id, password: INITIAL_PASSWORD,
    });
    return { ...user, token: await broker.api.firstLogin(user.username, INITIAL_PASSWORD, PASSWORD) } as { id: string; username: string; token: string };
  };
  const suffixOf = (s: Story) => s.device.name.replace(/^vent-/, '');

  const openTerminal = async (page: Page, grantId: string) => {
    await page.goto(`/grants/${grantId}/terminal`);
    await page.getByRole('button', { name: 'Disconnect' }).waitFor(LONG);
  };
  const typeInTerminal = async (page: Page, line: string) => {
    await page.getByTestId('terminal').click();
    await page.keyboard.type(line);
    await page.keyboard.press('Enter');
  };

  it('the Access page lists active, emergency, scheduled and ended grants with names, and revokes one with a reason', async () => {
    const s = await createStory(broker, sshd);
    const suffix = suffixOf(s);
    const active = await openGrant(broker, s);
    // a window later today, approved: scheduled
    const night = await technician(s, 'n', `Night Shift ${suffix}`);
    const later = await broker.api.ok('POST', '/api/access-requests', night.token, {
      deviceId: s.device.id, reason: 'Planned battery swap', ticketRef: 'CHG-2', durationMinutes: 30, startsAt: new Date(Date.now() + 3 * 3600_000).toISOString(),
    });
    expect((await broker.api.ok('POST', `/api/access-requests/${later.id}/approve`, s.approver.token, { comment: 'ok' })).grant.status).toBe('scheduled');
    // break-glass: active at once, marked emergency
    await broker.api.ok('PATCH', `/api/devices/${s.device.id}`, s.admin.token, { policy: { breakGlass: true, breakGlassMaxMinutes: 20 } });
    const urgent = await technician(s, 'e', `Emergency Tech ${suffix}`);
    await broker.api.ok('POST', '/api/break-glass', urgent.token, { deviceId: s.device.id, reason: 'Alarm loop on bed 4', durationMinutes: 15 });

    const approver = await newPerson(browser, base);
    const page = approver.page;
    await login(page, s.approver.username, PASSWORD);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access' }).click();
    await page.waitForURL('**/grants');
    const activeRows = page.locator('[data-testid=grants-active] tbody tr');
    const mine = activeRows.filter({ hasText: `Technician ${suffix}` });
    await mine.waitFor(LONG);
    await expect.poll(() => mine.innerText()).toContain(s.device.name);
    const row = await mine.innerText();
    expect(row).toContain(s.vendor.name);
    expect(row).toContain('firmware check');
    expect(row).toMatch(/\d+ min \d+ s/);
    const emergency = activeRows.filter({ hasText: `Emergency Tech ${suffix}` });
    await emergency.locator('.badge[data-status=emergency]').waitFor(LONG);
    expect(await emergency.innerText()).toContain('Alarm loop on bed 4');
    const scheduled = page.locator('[data-testid=grants-scheduled] tbody tr', { hasText: `Night Shift ${suffix}` });
    await scheduled.waitFor(LONG);
    expect(await scheduled.innerText()).toContain('Planned battery swap');
    await screenshot(page, 'approver-access');

    // one click and a reason: the grant ends and moves to "ended", saying who and why
    await mine.getByRole('button', { name: 'Revoke…' }).click();
    await mine.getByLabel('Reason for revoking (shown to the technician)').fill('Work moved to the night shift');
    await mine.getByRole('button', { name: 'Revoke now' }).click();
    const ended = page.locator('[data-testid=grants-ended] tbody tr', { hasText: `Technician ${suffix}` });
    await ended.getByTestId('revoked-by').getByText(`by Approver ${suffix}: Work moved to the night shift`).waitFor(LONG);
    await expect.poll(() => activeRows.filter({ hasText: `Technician ${suffix}` }).count(), LONG).toBe(0);
    expect((await broker.api.ok('GET', `/api/grants/${active.id}`, s.admin.token)).status).toBe('revoked');
    await screenshot(page, 'approver-access-revoked');

    // and it fits a phone
    const phone = await newPerson(browser, base, PHONE);
    await login(phone.page, s.approver.username, PASSWORD);
    await phone.page.goto('/grants');
    await phone.page.locator('[data-testid=grants-active] tbody tr', { hasText: `Emergency Tech ${suffix}` }).waitFor(LONG);
    const { scroll, width } = await phone.page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    expect(scroll).toBeLessThanOrEqual(width + 1);
    await screenshot(phone.page, 'phone-approver-access');

    // technicians have no Access page
    const tech = await newPerson(browser, base);
    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.goto('/grants');
    await tech.page.getByRole('heading', { name: 'Not allowed' }).waitFor(LONG);
    for (const p of [approver, phone, tech]) await p.context.close();
    expect(reportErrors([approver, phone, tech])).toEqual([]);
  }, 240_000);

  it('terminating revokes the grant by default and says so; live sessions show vendor and time left; the replay says why and who cut it', async () => {
    const s = await createStory(broker, sshd);
    const suffix = suffixOf(s);
    const grant = await openGrant(broker, s);
    const tech = await newPerson(browser, base);
    await login(tech.page, s.tech.username, PASSWORD);
    await openTerminal(tech.page, grant.id);
    await typeInTerminal(tech.page, 'echo everyday-$((9*9))');

    const approver = await newPerson(browser, base);
    await login(approver.page, s.approver.username, PASSWORD);
    await approver.page.goto('/live');
    const row = approver.page.locator('[data-testid=live-sessions] tbody tr', { hasText: s.device.name });
    await row.waitFor(LONG);
    expect(await row.innerText()).toContain(s.vendor.name);
    await expect.poll(() => row.getByTestId('grant-end').innerText(), LONG).toMatch(/\d+ min \d+ s left/);
    await screenshot(approver.page, 'approver-live-sessions-access');

    await row.getByRole('button', { name: 'Terminate…' }).click();
    const revoke = row.getByLabel('Also revoke the grant (no reconnecting)');
    expect(await revoke.isChecked()).toBe(true);
    expect(await row.getByTestId('terminate-explainer').innerText()).toContain('cannot reconnect');
    await revoke.uncheck();
    expect(await row.getByTestId('terminate-explainer').innerText()).toContain('The grant stays active: the technician can reconnect');
    await revoke.check();
    await row.getByLabel('Reason (shown to the technician)').fill('Ventilator needed for a patient');
    await screenshot(approver.page, 'approver-terminate-dialog');
    await row.getByRole('button', { name: 'Terminate now' }).click();

    // the technician reads the reason once, and cannot reconnect: the grant is revoked
    const ended = tech.page.getByTestId('terminal-ended');
    await expect.poll(() => ended.innerText(), LONG).toContain('Ventilator needed for a patient');
    expect(await ended.getAttribute('data-calm')).toBe('false');
    expect((await ended.innerText()).split('Ventilator needed for a patient')).toHaveLength(2);
    await expect.poll(async () => (await broker.api.ok('GET', `/api/grants/${grant.id}`, s.admin.token)).status, LONG).toBe('revoked');
    await tech.page.locator('.page-actions [data-status=revoked]').waitFor(LONG);
    expect(await tech.page.getByRole('button', { name: 'Reconnect' }).count()).toBe(0);

    let sessionId = '';
    await expect.poll(async () => {
      const [x] = (await broker.api.ok('GET', `/api/sessions?grantId=${grant.id}`, s.admin.token)).items;
      sessionId = x?.id ?? '';
      return x?.endReason ?? null;
    }, LONG).toBe('revoked');

    // the recordings list and the replay: the request's reason and ticket, who cut it and why
    const admin = await newPerson(browser, base);
    await login(admin.page, s.admin.username, PASSWORD);
    await admin.page.goto(`/sessions?deviceId=${s.device.id}`);
    await admin.page.locator('[data-testid=sessions] tbody tr').getByTestId('session-reason').getByText('firmware check').waitFor(LONG);
    await admin.page.goto(`/sessions/${sessionId}`);
    const cut = admin.page.getByTestId('session-cut');
    await cut.waitFor(LONG);
    expect(await cut.innerText()).toContain(`Terminated by Approver ${suffix}`);
    expect(await cut.innerText()).toContain('Ventilator needed for a patient');
    expect(await admin.page.getByTestId('access-reason').innerText()).toBe('firmware check');
    expect(await admin.page.getByTestId('access-ticket').innerText()).toBe('CHG-1');
    await admin.page.getByTestId('player').waitFor(LONG);
    await screenshot(admin.page, 'admin-replay-cut');

    // the watch page belongs to "Live sessions", not to "Recordings"
    await admin.page.goto(`/sessions/${sessionId}/watch`);
    const nav = admin.page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Live sessions' }).and(admin.page.locator('[aria-current=page]')).waitFor(LONG);
    expect(await nav.locator('[aria-current=page]').count()).toBe(1);
    expect(await nav.getByRole('link', { name: 'Recordings' }).getAttribute('aria-current')).toBeNull();
    await admin.page.getByTestId('watch-ended').waitFor(LONG);
    await screenshot(admin.page, 'admin-watch-nav');

    for (const p of [tech, approver, admin]) await p.context.close();
    expect(reportErrors([tech, approver, admin])).toEqual([]);
  }, 240_000);

  it('a normal exit from the browser terminal is a calm notice, said once', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const tech = await newPerson(browser, base);
    await login(tech.page, s.tech.username, PASSWORD);
    await openTerminal(tech.page, grant.id);
    await typeInTerminal(tech.page, 'exit');
    const ended = tech.page.getByTestId('terminal-ended');
    await ended.waitFor(LONG);
    const text = (await ended.innerText()).trim();
    expect(text).toMatch(/^Session ended: (closed by the technician|the device closed the connection)( \(exit status 0\))?\.$/);
    expect(await ended.getAttribute('data-calm')).toBe('true');
    expect(await ended.getAttribute('class')).toContain('alert-info');
    await tech.page.getByRole('button', { name: 'Reconnect' }).waitFor(LONG);
    await screenshot(tech.page, 'technician-terminal-exit');
    await tech.context.close();
    expect(reportErrors([tech])).toEqual([]);
  }, 180_000);

  it('forms show the broker\'s problems at their fields, in words for people', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const suffix = suffixOf(s);
    const admin = await newPerson(browser, base);
    const page = admin.page;
    await login(page, s.admin.username, PASSWORD);
    await page.goto('/admin/devices/new');
    await page.getByLabel('Name (the SSH principal)').fill('Pump #7');
    await page.getByLabel('Manufacturer').fill('B. Braun');
    await page.getByLabel('Model').fill('Space');
    await page.getByLabel('Firmware baseline').fill('4.2.0');
    await page.getByLabel('Owning department').fill(s.department);
    await page.getByLabel('Clinical purpose').fill('Infusion pump, ICU bed 7');
    await page.getByLabel('Network address').fill('127.0.0.1');
    await page.getByLabel('SSH port').fill(String(sshd.port));
    // the two classic mix-ups: the private key as the device's host key, a public key as its credential
    await page.getByLabel('Pinned SSH host key').fill(sshd.credential.privateKey);
    await page.getByLabel('Login name on the device').fill(sshd.credential.username);
    await page.getByLabel(/^Private key/).fill(sshd.hostKey);
    await page.getByRole('button', { name: 'Enroll (staged)' }).click();

    await page.locator('[data-field=hostKey]').getByText('That looks like a private key — paste the public key (the .pub file) instead').waitFor(LONG);
    expect(await page.getByLabel('Pinned SSH host key').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('[data-field="credential.privateKey"]').innerText()).toMatch(/^That is a public key — paste the private key file/);
    expect(await page.locator('[data-field=name]').innerText()).toMatch(/^May use lowercase letters, digits/);
    const banner = await page.getByTestId('form-problems').innerText();
    expect(banner).toContain('Please check the highlighted fields.');
    expect(banner + await page.locator('.field-problem').allInnerTexts()).not.toMatch(LIBRARY_WORDING);
    await screenshot(page, 'admin-device-form-errors');

    // corrected, it goes through
    await page.getByLabel('Name (the SSH principal)').fill(`pump-${suffix}`);
    await page.getByLabel('Pinned SSH host key').fill(sshd.hostKey);
    await page.getByLabel(/^Private key/).fill(sshd.credential.privateKey);
    await page.getByRole('button', { name: 'Enroll (staged)' }).click();
    await page.waitForURL(/\/admin\/devices\/[0-9a-f-]{36}$/, LONG);
    await page.locator('.page-actions [data-status=staged]').waitFor(LONG);

    // a technician pastes the private key where the certificate page wants the public one
    const tech = await newPerson(browser, base);
    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.goto(`/grants/${grant.id}/certificate`);
    await tech.page.getByLabel('OpenSSH public key').fill(sshd.credential.privateKey);
    await tech.page.getByRole('button', { name: 'Get certificate' }).click();
    await tech.page.locator('[data-field=publicKey]').getByText('That looks like a private key').waitFor(LONG);
    expect(await tech.page.getByLabel('OpenSSH public key').getAttribute('aria-invalid')).toBe('true');
    await screenshot(tech.page, 'technician-certificate-private-key');

    for (const p of [admin, tech]) await p.context.close();
    expect(reportErrors([admin, tech], { allowStatus: [400] })).toEqual([]);
  }, 180_000);

  it('a locked-out user is told until when; the admin sees the lock and unlocks it', async () => {
    const s = await createStory(broker, sshd);
    // five wrong passwords from this machine lock the (user, address) pair
    for (let i = 0; i < 5; i++) expect((await broker.api.call('POST', '/api/auth/login', undefined, { username: s.tech.username, password: `wrong-${i}` })).status).toBe(401);

    const tech = await newPerson(browser, base);
    await tech.page.goto('/login');
    await tech.page.getByLabel('Username').fill(s.tech.username);
    await tech.page.getByLabel('Password').fill(PASSWORD);
    await tech.page.getByRole('button', { name: 'Log in' }).click();
    const locked = tech.page.getByTestId('login-locked');
    await locked.waitFor(LONG);
    expect(await locked.innerText()).toMatch(/Too many failed login attempts\. You can try again at .+ \(in 1[45] min \d+ s\)\. An administrator can unlock your account sooner\./);
    expect(await locked.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    await screenshot(tech.page, 'login-locked');

    const admin = await newPerson(browser, base);
    await login(admin.page, s.admin.username, PASSWORD);
    await admin.page.goto('/admin/users');
    await admin.page.getByLabel('Find users').fill(suffixOf(s));
    const row = admin.page.locator(`tr[data-username="${s.tech.username}"]`);
    const state = row.getByTestId('lock-state');
    await state.waitFor(LONG);
    expect(await state.innerText()).toMatch(/locked out\s+from 127\.0\.0\.1 until/);
    await screenshot(admin.page, 'admin-users-locked');
    await row.getByRole('button', { name: 'Unlock' }).click();
    await expect.poll(() => state.count(), LONG).toBe(0);
    expect(await row.getByRole('button', { name: 'Unlock' }).count()).toBe(0);
    const events = await broker.api.ok('GET', `/api/audit?action=auth.unlocked&subjectId=${s.tech.id}`, s.admin.token);
    expect(events.items).toEqual([expect.objectContaining({ actorId: s.admin.id, details: expect.objectContaining({ username: s.tech.username }) })]);

    // the technician is in at once
    await tech.page.getByRole('button', { name: 'Log in' }).click();
    await tech.page.getByTestId('who').waitFor({ state: 'attached', ...LONG });
    for (const p of [tech, admin]) await p.context.close();
    expect(reportErrors([tech, admin], { allowStatus: [429] })).toEqual([]);
  }, 180_000);
});
