/**
 * An approval link on a phone with a passkey, in a real headless Chromium with a CDP virtual
 * authenticator: the page's one same-origin script (under the broker's CSP) gets a challenge bound to
 * the request, the phone's passkey signs it, and that assertion both signs the named approver in and is
 * their step-up — the decision's audit event names the passkey. (A passkey sign-in whose assertion is
 * not verified decides nothing: slack-link-binding.test.ts.) The broker is reached as http://localhost:<port>: WebAuthn refuses IP addresses.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, CDPSession } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import type { HttpDeps } from '../../server/http/deps.js';
import { slackRoutes } from '../../server/http/routes/slack.js';
import { createLinkTokens, type LinkTokens } from '../../server/notify/slack-links.js';
import { launchBrowser, newPerson, PHONE, screenshot } from '../support/browser.js';
import { startHarness, type Harness } from '../support/harness.js';
import { insertLink } from '../support/slack-link-fixtures.js';
import { requestAccess, world, type Person } from '../support/workflow-fixtures.js';

let h: Harness;
let server: http.Server;
let baseUrl: string;
let deps: HttpDeps;
let links: LinkTokens;
let browser: Browser;

beforeAll(async () => {
  h = await startHarness();
  links = createLinkTokens({ signing: h.keys.tokenSigning, verifying: h.keys.tokenVerifying }, h.clock);
  server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  deps = { ...h.deps, mfa: { ...h.deps.mfa, rpId: 'localhost', origin: baseUrl }, web: { ...h.deps.web, publicUrl: baseUrl } };
  server.on('request', createApp(deps, slackRoutes({ core: deps, publicUrl: baseUrl, links })));
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await h?.close();
});

/** A P-256 passkey of `p` on the virtual authenticator, registered with the broker as enrolment would. */
async function passkeyOf(cdp: CDPSession, authenticatorId: string, p: Person): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
  const cose = Buffer.concat([Buffer.from('a5010203262001215820', 'hex'), Buffer.from(jwk.x!, 'base64url'), Buffer.from('225820', 'hex'), Buffer.from(jwk.y!, 'base64url')]);
  const id = randomBytes(16);
  await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: {
    credentialId: id.toString('base64'), isResidentCredential: false, rpId: 'localhost', signCount: 0,
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  } });
  await h.deps.store.transaction((tx) => tx.mfa.insertPasskey(p.user.id,
    { id: id.toString('base64url'), publicKey: new Uint8Array(cose), counter: 0, transports: ['internal'], name: 'phone' }, h.clock.now()));
  return id.toString('base64url');
}

const status = async (requestId: string) => (await h.pool.query('SELECT status FROM access_requests WHERE id = $1', [requestId])).rows[0].status as string;

describe('an approval link with a passkey', () => {
  it('the named approver\'s passkey signs in and confirms on the page; the audit event names the passkey', async () => {
    const w = await world(h, { approvers: 2, device: { policy: { approvalsRequired: 1 } } });
    const [named, colleague] = w.approvers as [Person, Person];
    const phone = await newPerson(browser, baseUrl, PHONE);
    try {
      const cdp = await phone.context.newCDPSession(phone.page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
        protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true } });

      // a colleague's passkey on the same phone is of no use: the page offers only the named approver's
      await passkeyOf(cdp, authenticatorId, colleague);
      const credentialId = await passkeyOf(cdp, authenticatorId, named);
      const req = await requestAccess(h, w.tech, w.device.id, { reason: 'recalibrate the pressure sensor' });
      const { token, jti } = await insertLink(h, links, { requestId: req.id, approverId: named.user.id });
      await phone.page.goto(`/slack/decide?t=${encodeURIComponent(token)}`);
      const button = phone.page.getByRole('button', { name: `Approve with a passkey of ${named.user.displayName}` });
      await button.waitFor();
      await screenshot(phone.page, 'slack-link-passkey');
      expect(await phone.page.evaluate(() => document.querySelectorAll('script').length)).toBe(1);
      await phone.page.getByLabel('Comment').fill('sensor work agreed');
      await button.click();
      await expect.poll(() => phone.page.locator('h1').innerText()).toBe('You approved the request');
      expect(await status(req.id)).toBe('approved');
      const { rows } = await h.pool.query(
        "SELECT actor_id, details FROM audit_events WHERE action = 'request.approved_by' AND subject_id = $1", [req.id]);
      expect(rows).toEqual([{ actor_id: named.user.id, details: expect.objectContaining({
        channel: 'slack-link', comment: 'sensor work agreed',
        stepUp: { method: 'webauthn', credentialId, via: 'proof' }, link: { jti, signIn: 'passkey' },
      }) }]);
      expect(phone.errors.filter((e) => !/Failed to load resource: .*(401|404|409)/.test(e))).toEqual([]);
    } finally {
      await phone.context.close();
    }
  }, 60_000);
});
