/**
 * The auditor's console for issue 16, in a real headless Chromium against a real broker: the search
 * page finds a typed line and opens the replay at its moment; the session page offers the grant's
 * evidence and its printable maintenance record; the reports page shows the month's vendor access.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { type DeviceSshd } from '../support/device-sshd.js';
import { createStory, login, newPerson, openGrant, PASSWORD, reportErrors, screenshot, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

describe('web console: search, evidence and reports', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser;
  beforeAll(() => void ({ broker, sshd, browser } = web));

  it('an auditor finds a typed line, opens the replay there, and gets the evidence and the reports', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const marker = `zq${Date.now().toString(36)}`;
    const castPath = path.join(broker.dataDir, `${marker}.cast`);
    const cast = [
      JSON.stringify({ version: 2, width: 80, height: 24 }), JSON.stringify([0.5, 'o', '$ ']),
      JSON.stringify([12.5, 'i', `echo ${marker}\r`]), JSON.stringify([12.6, 'o', `echo ${marker}\r\n${marker}\r\n$ `]), '',
    ].join('\n');
    await fs.writeFile(castPath, cast);
    const conn = await authorizeConnection(broker.deps, { grantId: grant.id, principal: s.device.name });
    const { session } = await recordSessionStart(broker.deps, conn, { channel: 'shell', command: null, clientAddress: '127.0.0.1', proxyInstance: 'web-test', recordingPath: () => castPath });
    await recordSessionEnd(broker.deps, session.id, { endReason: 'client_closed', bytesIn: 1, bytesOut: 1, recording: { bytes: cast.length, durationMs: 12_600, sha256: 'e'.repeat(64) } });

    const auditor = await newPerson(browser, broker.httpUrl!);
    const page = auditor.page;
    await login(page, s.auditor.username, PASSWORD);
    await page.getByRole('navigation', { name: 'Main' }).getByText('Search').waitFor();
    // the worker indexes ended sessions every few seconds
    const deadline = Date.now() + 20_000;
    for (;;) {
      await page.goto(`/search?q=${marker}&deviceId=${s.device.id}`);
      const rows = page.locator('[data-testid=search-hits] tbody tr');
      if (await rows.count().then((n) => n > 0, () => false)) break;
      await page.getByText('Nothing found.').or(rows.first()).waitFor();
      if ((await rows.count()) > 0) break;
      if (Date.now() > deadline) throw new Error('the session was not indexed in time');
      await page.waitForTimeout(500);
    }
    const typed = page.locator('[data-testid=search-hits] tbody tr', { hasText: 'typed' });
    await expect(typed.locator('mark').first().innerText()).resolves.toBe(marker);
    await screenshot(page, 'search');
    await typed.getByRole('link', { name: '00:12' }).click();
    await page.waitForURL(`**/sessions/${session.id}?t=11`);
    const evidence = page.getByTestId('download-evidence');
    await expect(evidence.getAttribute('href')).resolves.toBe(`/api/grants/${grant.id}/evidence`);

    await page.goto(`/api/grants/${grant.id}/evidence?format=html`);
    await page.getByText('Remote maintenance record').waitFor();
    expect(await page.content()).toContain(`echo ${marker}`);
    await screenshot(page, 'maintenance-record');

    // the audit log by name: the device's trail, the session's start by the technician, linked to the session
    await page.goto(`/audit?deviceId=${s.device.id}`);
    const started = page.locator('[data-testid=audit] tr', { hasText: 'session.started' });
    await expect(started.innerText()).resolves.toContain(`(${s.tech.username})`);
    await expect(started.getByRole('link').getAttribute('href')).resolves.toBe(`/sessions/${session.id}`);
    await screenshot(page, 'audit-by-name');

    await page.goto('/reports');
    await page.locator('[data-testid=vendor-access] tr', { hasText: s.device.name }).waitFor();
    await screenshot(page, 'reports');
    expect(reportErrors([auditor], { allowStatus: [404] })).toEqual([]);
  });
});
