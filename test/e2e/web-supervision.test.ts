/**
 * Who supervises a live session, on the console's watch page (issue 15, SPEC §8.6), in a real headless
 * Chromium against a real broker and device sshd: the technician's browser terminal on a device that
 * requires supervision is held; an auditor watching sees "Input held: waiting for a supervisor from
 * <department>"; once an approver of the department watches, both watch pages say who supervises, and
 * the technician's input reaches the device.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeviceSshd } from '../support/device-sshd.js';
import { createStory, login, newPerson, openGrant, PASSWORD, reportErrors, screenshot, terminalText, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

const LONG = { timeout: 30_000 };
/** the terminal's text with rows joined, so a notice wrapped at the terminal's width still matches */
const flat = async (page: Page) => (await terminalText(page)).replace(/\n/g, '');

describe('supervision on the watch page', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser;
  beforeAll(() => void ({ broker, sshd, browser } = web));

  it('shows that input is held, then who supervises, while the page is open', async () => {
    const s = await createStory(broker, sshd);
    await broker.api.ok('PATCH', `/api/devices/${s.device.id}`, s.admin.token, { policy: { supervision: 'required', idleTimeoutMinutes: 0 } });
    const approverName = (await broker.api.ok('GET', '/api/me', s.approver.token)).displayName as string;
    const grant = await openGrant(broker, s);
    const tech = await newPerson(browser, broker.httpUrl!);
    const auditor = await newPerson(browser, broker.httpUrl!);
    const approver = await newPerson(browser, broker.httpUrl!);

    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.goto(`/grants/${grant.id}/terminal`);
    await expect.poll(() => flat(tech.page), LONG).toContain('waiting for a supervisor from');
    const live = await broker.api.ok('GET', `/api/sessions?live=true&deviceId=${s.device.id}`, s.auditor.token);
    const sessionId = live.items[0].id as string;
    // the API says so too: a supervised live session lists its supervisors (none yet)
    expect((await broker.api.ok('GET', `/api/sessions/${sessionId}`, s.auditor.token)).supervisors).toEqual([]);

    // an auditor watching does not supervise: the page says input is held, and for whom it waits
    await login(auditor.page, s.auditor.username, PASSWORD);
    await auditor.page.goto(`/sessions/${sessionId}/watch`);
    const auditorNote = auditor.page.getByTestId('supervision');
    await expect.poll(() => auditorNote.innerText(), LONG).toContain(`Input held: waiting for a supervisor from ${s.department}`);

    // an approver of the department watching supervises: their page and the auditor's (refreshed) say who
    await login(approver.page, s.approver.username, PASSWORD);
    await approver.page.goto(`/sessions/${sessionId}/watch`);
    await expect.poll(() => approver.page.getByTestId('supervision').innerText(), LONG).toContain(`Supervised by ${approverName}`);
    await expect.poll(() => auditorNote.innerText(), LONG).toContain(`Supervised by ${approverName}`);
    await screenshot(approver.page, 'approver-watch-supervised');
    expect((await broker.api.ok('GET', `/api/sessions/${sessionId}`, s.auditor.token)).supervisors)
      .toEqual([{ userId: s.approver.id, displayName: approverName, username: s.approver.username }]);

    // input flows now
    await expect.poll(() => flat(tech.page), LONG).toContain('is now supervising this session');
    await tech.page.getByTestId('terminal').click();
    await tech.page.keyboard.type('echo supervised-$((6*7))\n');
    await expect.poll(() => terminalText(approver.page), LONG).toContain('supervised-42');

    // the approver leaves: the auditor's page shows input held again
    await approver.page.goto('/live');
    await expect.poll(() => auditorNote.innerText(), LONG).toContain('Input held');

    for (const p of [tech, auditor, approver]) await p.context.close();
    expect(reportErrors([tech, auditor, approver])).toEqual([]);
  }, 240_000);
});
