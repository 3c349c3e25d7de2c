/**
 * The web console in a real headless Chromium against a real broker and a real device sshd:
 * technician requests → approver approves → technician runs a command in the browser terminal →
 * auditor replays it; an approver watches a live session and kills it, and the technician's terminal
 * says why; a technician cannot reach approver or admin pages or APIs. Screenshots of every main
 * page go to test-artifacts/screenshots/.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKey, type DeviceSshd } from '../support/device-sshd.js';
import { createStory, login, newPerson, openGrant, PASSWORD, reportErrors, screenshot, terminalText, type Story, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

describe('web console', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser, base: string;
  beforeAll(() => void ({ broker, sshd, browser, base } = web));

  const typeInTerminal = async (page: Page, line: string) => {
    await page.getByTestId('terminal').click();
    await page.keyboard.type(line);
    await page.keyboard.press('Enter');
  };

  it('technician requests, approver approves, technician runs a command in the browser terminal, auditor replays it', async () => {
    const s: Story = await createStory(broker, sshd);
    const tech = await newPerson(browser, base);
    const approver = await newPerson(browser, base);
    const auditor = await newPerson(browser, base);

    // technician: devices with trust records → request form with the policy's limit
    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.waitForURL('**/devices');
    await tech.page.getByText(s.device.name).first().waitFor();
    await screenshot(tech.page, 'technician-devices');
    await tech.page.getByTestId(`request-${s.device.name}`).click();
    await tech.page.getByText('at most 45').first().waitFor();
    await tech.page.getByLabel('Reason').fill('Replace the flow sensor calibration table');
    await tech.page.getByLabel('Change ticket').fill('CHG-4711');
    await tech.page.getByLabel(/Duration/).fill('20');
    await screenshot(tech.page, 'technician-request-form');
    await tech.page.getByRole('button', { name: 'Send request' }).click();
    await tech.page.waitForURL('**/access?created=*');
    await tech.page.locator('[data-testid=my-requests] [data-status=pending]').waitFor();
    await screenshot(tech.page, 'technician-my-access-pending');

    // approver: the queue, the request in full context, approve with a comment
    await login(approver.page, s.approver.username, PASSWORD);
    await approver.page.waitForURL('**/approvals');
    const card = approver.page.locator('.queue-card', { hasText: s.device.name });
    await card.getByText('Replace the flow sensor calibration table').waitFor();
    await screenshot(approver.page, 'approver-queue');
    await card.getByTestId('review').click();
    await approver.page.getByText('Device trust record').waitFor();
    await approver.page.getByText('CHG-4711').waitFor();
    await approver.page.getByTestId('approvals').getByText('0 of 1').waitFor();
    await approver.page.getByText(`history on ${s.device.name}`).waitFor();
    await approver.page.getByLabel('Comment').fill('OK for the calibration, ticket checked');
    await screenshot(approver.page, 'approver-request-detail');
    await approver.page.getByRole('button', { name: 'Approve' }).click();
    await approver.page.locator('.page-actions [data-status=approved]').waitFor();
    await approver.page.getByText('OK for the calibration, ticket checked').waitFor();

    // technician: the grant turns active by itself, with a countdown; open the browser terminal
    const open = tech.page.getByRole('link', { name: 'Open terminal' });
    await open.waitFor({ timeout: 15_000 });
    await expect.poll(() => tech.page.getByTestId('countdown').first().innerText()).toMatch(/\d+ min \d+ s/);
    await screenshot(tech.page, 'technician-grant-active');
    await open.click();
    await tech.page.getByRole('button', { name: 'Disconnect' }).waitFor({ timeout: 15_000 });
    await typeInTerminal(tech.page, 'echo portcullis-$((6*7))-web');
    await expect.poll(() => terminalText(tech.page), { timeout: 15_000 }).toContain('portcullis-42-web');
    await screenshot(tech.page, 'technician-terminal');
    await typeInTerminal(tech.page, 'exit');
    await expect.poll(() => tech.page.getByTestId('terminal-ended').innerText(), { timeout: 15_000 }).toMatch(/Session ended: (closed by the technician|the device closed the connection)/);
    let ended = '';
    await expect.poll(async () => (ended = (await broker.api.ok('GET', `/api/sessions?deviceId=${s.device.id}`, s.auditor.token)).items[0]?.endReason ?? '')).not.toBe('');

    // auditor: find the session with the filters, replay it, see the command's output in the player
    await login(auditor.page, s.auditor.username, PASSWORD);
    await auditor.page.goto('/sessions');
    await auditor.page.getByLabel('Device').selectOption({ label: s.device.name });
    await auditor.page.getByLabel('End reason').selectOption(ended);
    await auditor.page.getByRole('button', { name: 'Search' }).click();
    await auditor.page.waitForURL(new RegExp(`endReason=${ended}`));
    const row = auditor.page.locator('[data-testid=sessions] tbody tr');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    await screenshot(auditor.page, 'auditor-sessions');
    await row.getByRole('link', { name: 'Replay' }).click();
    const player = auditor.page.getByTestId('player');
    await player.locator('[data-engine=asciinema], [data-engine=xterm]').or(player).waitFor();
    await expect.poll(() => player.getAttribute('data-engine'), { timeout: 10_000 }).not.toBe('checking');
    await auditor.page.getByRole('button', { name: /^(Play|▶ Play)$/ }).first().click();
    await expect.poll(() => player.innerText(), { timeout: 20_000 }).toContain('portcullis-42-web');
    expect(await auditor.page.getByTestId('download-cast').getAttribute('href')).toMatch(/\/api\/sessions\/[0-9a-f-]{36}\/recording$/);
    await screenshot(auditor.page, 'auditor-replay');

    // auditor: the audit log with the chain verified
    await auditor.page.goto('/audit');
    await expect.poll(() => auditor.page.getByTestId('chain-status').innerText(), { timeout: 15_000 }).toContain('Chain verified');
    await auditor.page.locator('[data-testid=audit] tbody tr').first().waitFor();
    await screenshot(auditor.page, 'auditor-audit-log');

    for (const p of [tech, approver, auditor]) await p.context.close();
    expect(reportErrors([tech, approver, auditor])).toEqual([]);
  }, 300_000);

  it('an approver watches a live session read-only and kills it; the technician\'s terminal says why', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const tech = await newPerson(browser, base);
    const approver = await newPerson(browser, base);

    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.goto(`/grants/${grant.id}/terminal`);
    await tech.page.getByRole('button', { name: 'Disconnect' }).waitFor({ timeout: 15_000 });
    await typeInTerminal(tech.page, 'echo before-$((5*5))-watch');
    await expect.poll(() => terminalText(tech.page), { timeout: 15_000 }).toContain('before-25-watch');

    await login(approver.page, s.approver.username, PASSWORD);
    await approver.page.goto('/live');
    const row = approver.page.locator('[data-testid=live-sessions] tbody tr', { hasText: s.device.name });
    await row.waitFor({ timeout: 10_000 });
    await screenshot(approver.page, 'approver-live-sessions');
    await row.getByRole('link', { name: 'Watch' }).click();
    // what was recorded before the watch began, then live output
    await expect.poll(() => terminalText(approver.page), { timeout: 15_000 }).toContain('before-25-watch');
    await typeInTerminal(tech.page, 'echo during-$((6*6))-watch');
    await expect.poll(() => terminalText(approver.page), { timeout: 15_000 }).toContain('during-36-watch');
    await screenshot(approver.page, 'approver-watch');

    // the kill switch, with a reason the technician reads
    await approver.page.getByRole('button', { name: 'Terminate…' }).click();
    await approver.page.getByLabel('Reason (shown to the technician)').fill('unplanned change seen on the ICU ventilator');
    // revoking the grant too is the default; this approver ends the session only
    await approver.page.getByLabel('Also revoke the grant (no reconnecting)').uncheck();
    await approver.page.getByTestId('terminate-explainer').getByText('The grant stays active').waitFor();
    await approver.page.getByRole('button', { name: 'Terminate now' }).click();
    await expect.poll(() => tech.page.getByTestId('terminal-ended').innerText(), { timeout: 10_000 }).toContain('unplanned change seen on the ICU ventilator');
    expect(await tech.page.getByTestId('terminal-ended').innerText()).toContain('cut off by an approver');
    // a terminated session, not a revoked grant: the technician may reconnect
    await tech.page.getByRole('button', { name: 'Reconnect' }).waitFor();
    await screenshot(tech.page, 'technician-terminal-terminated');
    await approver.page.getByTestId('watch-ended').waitFor({ timeout: 10_000 });

    // the recording carries the revocation as a marker, shown on the player's timeline and listed
    const auditor = await newPerson(browser, base);
    await login(auditor.page, s.auditor.username, PASSWORD);
    await auditor.page.goto(`/sessions?deviceId=${s.device.id}`);
    await auditor.page.locator('[data-testid=sessions] tbody tr', { hasText: 'cut off' }).getByRole('link', { name: 'Replay' }).click();
    await auditor.page.locator('.markers', { hasText: 'unplanned change seen on the ICU ventilator' }).waitFor({ timeout: 15_000 });
    await auditor.page.locator('.marker-tick, .ap-marker-container').first().waitFor();
    await auditor.page.locator('.markers button').first().click();
    await expect.poll(() => auditor.page.getByTestId('player').innerText(), { timeout: 15_000 }).toContain('during-36-watch');
    await screenshot(auditor.page, 'auditor-replay-revoked');

    for (const p of [tech, approver, auditor]) await p.context.close();
    expect(reportErrors([tech, approver, auditor])).toEqual([]);
  }, 300_000);

  it('a technician cannot reach approver, auditor or admin pages, nor their APIs', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const tech = await newPerson(browser, base);
    await login(tech.page, s.tech.username, PASSWORD);
    const nav = await tech.page.getByRole('navigation', { name: 'Main' }).innerText();
    expect(nav).not.toMatch(/Approvals|Users|Audit|Manage devices/);
    for (const path of ['/approvals', `/approvals/${grant.requestId}`, '/live', '/sessions', '/audit', '/admin/devices', '/admin/users', '/admin/vendors']) {
      await tech.page.goto(path);
      await tech.page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    }
    await screenshot(tech.page, 'technician-not-allowed');

    // the same session cookie, straight at the API: refused by the broker, not just hidden by the UI
    const status = (method: string, path: string, body?: unknown) =>
      tech.page.evaluate(async ([m, p, b]) => {
        const r = await fetch(p as string, { method: m as string, headers: { 'content-type': 'application/json', 'x-requested-with': 'portcullis' }, body: b === undefined ? undefined : JSON.stringify(b) });
        return r.status;
      }, [method, path, body] as const);
    expect(await status('GET', '/api/users')).toBe(403);
    expect(await status('GET', '/api/audit')).toBe(403);
    expect(await status('GET', '/api/audit/verify')).toBe(403);
    expect(await status('POST', '/api/vendors', { name: 'x', contractRef: 'y', contractEnd: '2099-01-01' })).toBe(403);
    expect(await status('POST', `/api/devices/${s.device.id}/lifecycle`, { state: 'suspended', reason: 'x' })).toBe(403);
    expect([403, 404]).toContain(await status('POST', `/api/access-requests/${grant.requestId}/approve`, {}));
    expect([403, 404]).toContain(await status('POST', `/api/grants/${grant.id}/revoke`, { reason: 'x' }));
    expect(await status('GET', `/api/sessions/${grant.id}/recording`)).toBe(403);
    // and a write without the console's header is refused even for what the technician may do
    const noHeader = await tech.page.evaluate(async (id) => (await fetch(`/api/access-requests/${id}/cancel`, { method: 'POST' })).status, grant.requestId);
    expect(noHeader).toBe(403);
    await tech.context.close();
    expect(reportErrors([tech], { allowStatus: [403] })).toEqual([]);
  }, 180_000);

  it('a technician gets an SSH certificate in the console and connects with the exact command shown', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-web-key-'));
    try {
      const key = generateKey(dir, 'id_ed25519');
      const tech = await newPerson(browser, base);
      await login(tech.page, s.tech.username, PASSWORD);
      await tech.page.goto('/access');
      await tech.page.getByRole('link', { name: 'Get SSH certificate' }).click();
      await tech.page.waitForURL(`**/grants/${grant.id}/certificate`);
      await tech.page.getByLabel('OpenSSH public key').fill(key.publicKey);
      await tech.page.getByRole('button', { name: 'Get certificate' }).click();
      const certificate = (await tech.page.getByTestId('certificate').innerText()).trim();
      const command = (await tech.page.getByTestId('ssh-command').innerText()).trim();
      const knownHosts = (await tech.page.getByTestId('known-hosts').innerText()).trim();
      expect(certificate).toMatch(/^ssh-ed25519-cert-v01@openssh.com /);
      expect(command).toMatch(new RegExp(`^ssh -p \\d+ -i ~/.ssh/id_ed25519 -o CertificateFile=~/.ssh/id_ed25519-cert.pub ${s.device.name}@127.0.0.1$`));
      await screenshot(tech.page, 'technician-ssh-certificate');
      await tech.context.close();
      expect(reportErrors([tech])).toEqual([]);

      // what the technician does with it: save the certificate beside the key and run the command.
      // The test broker's proxy listens on an ephemeral port, which the broker advertises as SSH_PORT (0).
      const port = String(broker.sshPort);
      await fs.writeFile(`${key.path}-cert.pub`, certificate + '\n');
      await fs.writeFile(path.join(dir, 'known_hosts'), knownHosts.replace(/\[([^\]]+)\]:\d+ /, `[$1]:${port} `) + '\n');
      const args = command.replace(/^ssh /, '').replace(/-p \d+/, `-p ${port}`).replaceAll('~/.ssh/id_ed25519', key.path).split(' ');
      const out = await promisify(execFile)('ssh', ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes',
        ...args, 'echo cert-$((3*3))-ok']);
      expect(out.stdout).toContain('cert-9-ok');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('replays with asciinema-player (seek, speed, markers) where the page may compile WebAssembly', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const tech = await newPerson(browser, base);
    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.goto(`/grants/${grant.id}/terminal`);
    await tech.page.getByRole('button', { name: 'Disconnect' }).waitFor({ timeout: 15_000 });
    await typeInTerminal(tech.page, 'echo replay-$((7*8))-asciinema');
    await expect.poll(() => terminalText(tech.page), { timeout: 15_000 }).toContain('replay-56-asciinema');
    // the kill switch that also revokes the grant: the session is cut and cannot be reopened
    const approver = await newPerson(browser, base);
    await login(approver.page, s.approver.username, PASSWORD);
    await approver.page.goto('/live');
    const row = approver.page.locator('[data-testid=live-sessions] tbody tr', { hasText: s.device.name });
    await row.getByRole('button', { name: 'Terminate…' }).click();
    await row.getByLabel('Reason (shown to the technician)').fill('maintenance finished');
    await row.getByLabel('Also revoke the grant (no reconnecting)').check();
    await row.getByRole('button', { name: 'Terminate now' }).click();
    await expect.poll(() => tech.page.getByTestId('terminal-ended').innerText(), { timeout: 10_000 }).toContain('maintenance finished');
    await expect.poll(async () => (await broker.api.ok('GET', `/api/grants/${grant.id}`, s.tech.token)).status).toBe('revoked');
    await tech.page.locator('.page-actions [data-status=revoked]').waitFor({ timeout: 10_000 });
    expect(await tech.page.getByRole('button', { name: 'Reconnect' }).count()).toBe(0);
    await approver.context.close();
    await tech.context.close();

    // asciinema-player needs 'wasm-unsafe-eval'; bypassCSP stands in for a broker whose CSP allows it
    const auditor = await newPerson(browser, base, { viewport: { width: 1366, height: 900 }, bypassCSP: true });
    await login(auditor.page, s.auditor.username, PASSWORD);
    const sessions = await broker.api.ok('GET', `/api/sessions?grantId=${grant.id}`, s.auditor.token);
    await auditor.page.goto(`/sessions/${sessions.items[0].id}`);
    const player = auditor.page.getByTestId('player');
    await expect.poll(() => player.getAttribute('data-engine'), { timeout: 10_000 }).toBe('asciinema');
    await auditor.page.locator('.ap-player').waitFor({ timeout: 10_000 });
    await auditor.page.getByLabel('Playback speed').selectOption('4');
    await auditor.page.locator('.ap-player').waitFor();
    // seek to the revocation marker: the screen at that moment shows the command's output
    await auditor.page.locator('.markers', { hasText: 'maintenance finished' }).locator('button').first().click();
    await expect.poll(() => player.innerText(), { timeout: 15_000 }).toContain('replay-56-asciinema');
    // and the marker sits on the player's own timeline
    await auditor.page.locator('.ap-marker-container').first().waitFor({ state: 'attached', timeout: 10_000 });
    await screenshot(auditor.page, 'auditor-replay-asciinema');
    await auditor.context.close();
    expect(reportErrors([tech, approver, auditor])).toEqual([]);
  }, 240_000);
});
