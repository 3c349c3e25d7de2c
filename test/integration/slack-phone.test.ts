/**
 * An approval link on a phone, in a real headless Chromium: the page is readable at phone width, the
 * approver signs in on it with their password, the browser's own form post (with its Fetch metadata,
 * Origin and the broker's CSP) decides once, and a second tap on the same link is refused. Without the
 * sign-in the same button decides nothing. Screenshots: test-artifacts/screenshots/slack-link-*.png.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import { slackRoutes } from '../../server/http/routes/slack.js';
import { createLinkTokens, type LinkTokens } from '../../server/notify/slack-links.js';
import { launchBrowser, newPerson, PHONE, screenshot } from '../support/browser.js';
import { startHarness, type Harness } from '../support/harness.js';
import { insertLink, setPassword } from '../support/slack-link-fixtures.js';
import { requestAccess, world } from '../support/workflow-fixtures.js';

let h: Harness;
let server: http.Server;
let baseUrl: string;
let links: LinkTokens;
let browser: Browser;

beforeAll(async () => {
  h = await startHarness();
  links = createLinkTokens({ signing: h.keys.tokenSigning, verifying: h.keys.tokenVerifying }, h.clock);
  server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', createApp(h.deps, slackRoutes({ core: h.deps, publicUrl: baseUrl, links })));
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await h?.close();
});

describe('an approval link on a phone', () => {
  it('shows the request; the confirm button decides once, for the approver signed in on the page', async () => {
    const w = await world(h, { approvers: 1, device: { policy: { approvalsRequired: 1 } } });
    const req = await requestAccess(h, w.tech, w.device.id, { reason: 'replace the occlusion sensor on the infusion pump' });
    const approver = w.approvers[0]!;
    const password = await setPassword(h, approver);
    const { token } = await insertLink(h, links, { requestId: req.id, approverId: approver.user.id, action: 'approve' });
    const phone = await newPerson(browser, baseUrl, PHONE);
    try {
      await phone.page.goto(`/slack/decide?t=${encodeURIComponent(token)}`);
      await expect.poll(() => phone.page.locator('h1').innerText()).toContain(`Approve access to ${w.device.name}`);
      for (const s of [w.tech.user.displayName, w.vendor.name, 'occlusion sensor']) await expect.poll(() => phone.page.locator('main').innerText()).toContain(s);
      // nothing wider than the screen: no sideways scrolling on a phone
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshot(phone.page, 'slack-link-confirm');
      expect((await h.pool.query('SELECT status FROM access_requests WHERE id = $1', [req.id])).rows[0].status).toBe('pending');

      // pressed without signing in: nothing is decided, the page asks for the approver's sign-in
      await phone.page.getByRole('button', { name: /Approve access/ }).click();
      await expect.poll(() => phone.page.locator('h1').first().innerText()).toBe('Sign in to decide');
      expect((await h.pool.query('SELECT status FROM access_requests WHERE id = $1', [req.id])).rows[0].status).toBe('pending');

      await phone.page.getByLabel(`Password of ${approver.user.username}`).fill(password);
      await phone.page.getByLabel('Comment').fill('sensor swap agreed with the ward');
      await phone.page.getByRole('button', { name: /Approve access/ }).click();
      await expect.poll(() => phone.page.locator('h1').innerText()).toBe('You approved the request');
      await screenshot(phone.page, 'slack-link-done');
      const { rows } = await h.pool.query('SELECT channel, comment FROM decisions WHERE request_id = $1', [req.id]);
      expect(rows).toEqual([{ channel: 'slack-link', comment: 'sensor swap agreed with the ward' }]);

      await phone.page.goto(`/slack/decide?t=${encodeURIComponent(token)}`);
      await expect.poll(() => phone.page.locator('h1').innerText()).toBe('This link has already been used');
      // (the sign-in page's 401, the refusal page's own 409 and a missing favicon are the only failed loads)
      expect(phone.errors.filter((e) => !/Failed to load resource: .*(401|404|409)/.test(e))).toEqual([]);
    } finally {
      await phone.context.close();
    }
  }, 60_000);
});
