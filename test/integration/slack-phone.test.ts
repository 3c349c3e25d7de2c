/**
 * An approval link on a phone, in a real headless Chromium: the page is readable at phone width, the
 * browser's own form post (with its Fetch metadata, Origin and the broker's CSP) decides once, and a
 * second tap on the same link is refused. Screenshots: test-artifacts/screenshots/slack-link-*.png.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import { slackRoutes } from '../../server/http/routes/slack.js';
import { createLinkTokens, type LinkTokens } from '../../server/notify/slack-links.js';
import { slackStore } from '../../server/notify/slack-store.js';
import { launchBrowser, newPerson, PHONE, screenshot } from '../support/browser.js';
import { startHarness, type Harness } from '../support/harness.js';
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
  server.on('request', createApp(h.deps, slackRoutes({ core: h.deps, pool: h.pool, publicUrl: baseUrl, links })));
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await h?.close();
});

describe('an approval link on a phone', () => {
  it('shows the request, and the confirm button decides once', async () => {
    const w = await world(h, { approvers: 1, device: { policy: { approvalsRequired: 1 } } });
    const req = await requestAccess(h, w.tech, w.device.id, { reason: 'replace the occlusion sensor on the infusion pump' });
    const { token, claims } = await links.mint({ requestId: req.id, approverId: w.approvers[0]!.user.id, action: 'approve' });
    await slackStore(h.pool).insertLink(claims, h.clock.now());
    const phone = await newPerson(browser, baseUrl, PHONE);
    try {
      await phone.page.goto(`/slack/decide?t=${encodeURIComponent(token)}`);
      await expect.poll(() => phone.page.locator('h1').innerText()).toContain(`Approve access to ${w.device.name}`);
      for (const s of [w.tech.user.displayName, w.vendor.name, 'occlusion sensor']) await expect.poll(() => phone.page.locator('main').innerText()).toContain(s);
      // nothing wider than the screen: no sideways scrolling on a phone
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshot(phone.page, 'slack-link-confirm');
      expect((await h.pool.query('SELECT status FROM access_requests WHERE id = $1', [req.id])).rows[0].status).toBe('pending');

      await phone.page.getByLabel('Comment').fill('sensor swap agreed with the ward');
      await phone.page.getByRole('button', { name: /Approve access/ }).click();
      await expect.poll(() => phone.page.locator('h1').innerText()).toBe('You approved the request');
      await screenshot(phone.page, 'slack-link-done');
      const { rows } = await h.pool.query('SELECT channel, comment FROM decisions WHERE request_id = $1', [req.id]);
      expect(rows).toEqual([{ channel: 'slack-link', comment: 'sensor swap agreed with the ward' }]);

      await phone.page.goto(`/slack/decide?t=${encodeURIComponent(token)}`);
      await expect.poll(() => phone.page.locator('h1').innerText()).toBe('This link has already been used');
      // (the refusal page's own 409 and a missing favicon are the only failed loads)
      expect(phone.errors.filter((e) => !/Failed to load resource: .*(404|409)/.test(e))).toEqual([]);
    } finally {
      await phone.context.close();
    }
  });
});
