/**
 * A quiet console (issue 18 item 12), in a real headless Chromium against a real broker: loading the
 * login page with no session makes no request the broker answers 401 and logs nothing to the console,
 * and leaving the live watch page closes its WebSocket without a browser warning. Also, once signed
 * in, a session that ends underneath the console sends the person back to the login page with a 401,
 * after which the console asks nothing again.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeviceSshd } from '../support/device-sshd.js';
import { createStory, login, newPerson, openGrant, PASSWORD, terminalText, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

/** Everything the browser complains about: console errors and warnings, page errors, answers of 400 and up. */
function listen(page: Page): string[] {
  const noise: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') noise.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => noise.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) noise.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return noise;
}

describe('a quiet web console', () => {
  const web = useWebConsole();
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser;
  beforeAll(() => void ({ broker, sshd, browser } = web));

  it('loads the login page without a 401 or a console message, and logging out leaves it quiet too', async () => {
    const s = await createStory(broker, sshd);
    const person = await newPerson(browser, broker.httpUrl!);
    const noise = listen(person.page);
    await person.page.goto('/');
    await person.page.getByRole('button', { name: 'Log in' }).waitFor();
    await person.page.goto('/sessions');
    await person.page.getByRole('button', { name: 'Log in' }).waitFor();
    await person.page.reload();
    await person.page.getByRole('button', { name: 'Log in' }).waitFor();
    await person.page.waitForLoadState('networkidle');
    expect(noise).toEqual([]);

    await login(person.page, s.tech.username, PASSWORD);
    await person.page.reload();
    await person.page.getByTestId('who').waitFor({ state: 'attached' });
    // log out of a settled page: a request still in flight when the tokens end answers 401 by design
    await person.page.waitForLoadState('networkidle');
    await person.page.getByRole('button', { name: /Log out/ }).first().click({ force: true });
    await person.page.getByRole('button', { name: 'Log in' }).waitFor();
    await person.page.reload();
    await person.page.getByRole('button', { name: 'Log in' }).waitFor();
    await person.page.waitForLoadState('networkidle');
    expect(noise).toEqual([]);

    // a session that ended underneath the console (its cookie gone, the marker left): a 401 sends the
    // person to the login form, and the console forgets the marker so the next load asks nothing
    await login(person.page, s.tech.username, PASSWORD);
    await person.context.clearCookies({ name: 'portcullis_session' });
    await person.page.reload();
    await person.page.getByRole('button', { name: 'Log in' }).waitFor();
    // (twice in the test build, where React's StrictMode runs effects twice)
    await expect.poll(() => noise.some((n) => n.startsWith('401 GET /api/me')) && noise.some((n) => n.includes('status of 401'))).toBe(true);
    await person.page.waitForLoadState('networkidle');
    noise.length = 0;
    await person.page.reload();
    await person.page.getByRole('button', { name: 'Log in' }).waitFor();
    await person.page.waitForLoadState('networkidle');
    expect(noise).toEqual([]);
    await person.context.close();
  }, 120_000);

  it('leaves the live watch page without a WebSocket warning', async () => {
    const s = await createStory(broker, sshd);
    const grant = await openGrant(broker, s);
    const tech = await newPerson(browser, broker.httpUrl!);
    const approver = await newPerson(browser, broker.httpUrl!);
    await login(tech.page, s.tech.username, PASSWORD);
    await tech.page.goto(`/grants/${grant.id}/terminal`);
    await tech.page.getByRole('button', { name: 'Disconnect' }).waitFor({ timeout: 20_000 });
    await tech.page.getByTestId('terminal').click();
    await tech.page.keyboard.type('echo quiet-$((6*7))\n');
    await expect.poll(() => terminalText(tech.page), { timeout: 15_000 }).toContain('quiet-42');

    await login(approver.page, s.approver.username, PASSWORD);
    const noise = listen(approver.page);
    const live = await broker.api.ok('GET', `/api/sessions?live=true&deviceId=${s.device.id}`, s.approver.token);
    const sessionId = live.items[0].id as string;
    // leave once the watch is open, and once while it is still connecting
    await approver.page.goto(`/sessions/${sessionId}/watch`);
    await expect.poll(() => terminalText(approver.page), { timeout: 15_000 }).toContain('quiet-42');
    await approver.page.getByRole('link', { name: '← Live sessions' }).click();
    await approver.page.locator('[data-testid=live-sessions]').waitFor({ timeout: 15_000 });
    await approver.page.locator(`[data-session-id="${sessionId}"]`).getByRole('link', { name: 'Watch' }).click();
    await approver.page.getByRole('link', { name: '← Live sessions' }).click();
    await approver.page.locator('[data-testid=live-sessions]').waitFor({ timeout: 15_000 });
    await approver.page.waitForTimeout(500);
    expect(noise).toEqual([]);
    for (const p of [tech, approver]) await p.context.close();
  }, 180_000);
});
