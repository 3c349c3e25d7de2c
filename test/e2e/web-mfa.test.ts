/**
 * Second factors in the console (issue 14, §8.5) in a real headless Chromium against a real broker that
 * requires MFA of approvers: an approver without one is kept on /me/security; a passkey made there with
 * a CDP virtual authenticator signs a step-up for one approval (the audit event names webauthn and the
 * credential) and then the login's second step; an authenticator app set up from the page's key (codes
 * computed here with otpauth) signs in, a wrong code is refused with a clear message, and a recovery code
 * confirms a denial once. The broker is reached as http://localhost:<port>: WebAuthn refuses IP
 * addresses. Screenshots go to test-artifacts/screenshots/.
 */
import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeviceSshd } from '../support/device-sshd.js';
import { createStory, newPerson, PASSWORD, reportErrors, screenshot, type Story, useWebConsole } from '../support/browser.js';
import { type TestBroker } from '../support/test-broker.js';

// generous waits: these tests share two cores with the rest of the suite
const LONG = { timeout: 30_000 };
const STEP_UP_SECONDS = 10;

describe('second factors in the console', () => {
  const web = useWebConsole({ brokerEnv: { MFA_REQUIRED_ROLES: 'approver', STEP_UP_SECONDS: String(STEP_UP_SECONDS) }, localhost: true });
  let broker: TestBroker, sshd: DeviceSshd, browser: Browser, base: string;
  beforeAll(() => void ({ broker, sshd, browser, base } = web));

  /** A platform authenticator with user verification, as a laptop with a fingerprint reader has. */
  const addAuthenticator = async (context: BrowserContext, page: Page) => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    const credentialIds = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials
      .map((c) => Buffer.from(c.credentialId, 'base64').toString('base64url'));
    return { credentialIds };
  };

  const passwordStep = async (page: Page, username: string) => {
    await page.goto('/login');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
  };

  const request = (s: Story, reason: string) =>
    broker.api.ok<{ id: string }>('POST', '/api/access-requests', s.tech.token, { deviceId: s.device.id, reason, ticketRef: 'CHG-MFA', durationMinutes: 30 });

  const decisionEvent = async (s: Story, action: 'request.approved_by' | 'request.denied_by', requestId: string) => {
    const r = await broker.api.ok<{ items: { details: { stepUp?: { method: string; credentialId: string | null } | null } }[] }>(
      'GET', `/api/audit?action=${action}&subjectId=${requestId}`, s.admin.token);
    expect(r.items).toHaveLength(1);
    return r.items[0]!.details;
  };

  const storeRecoveryCodes = async (page: Page): Promise<string[]> => {
    const list = page.getByTestId('recovery-code-list');
    await list.waitFor(LONG);
    const codes = (await list.locator('li').allInnerTexts()).map((c) => c.trim());
    await page.getByRole('button', { name: 'I have stored these codes' }).click();
    return codes;
  };

  it('an approver without a second factor is kept on Security, adds a passkey, approves with a passkey step-up and signs in with it', async () => {
    const s = await createStory(broker, sshd);
    const req = await request(s, 'Passkey step-up');
    const approver = await newPerson(browser, base);
    const { page, context } = approver;
    const authenticator = await addAuthenticator(context, page);

    // the password alone opens only the security page; other addresses lead back to it
    await passwordStep(page, s.approver.username);
    await page.getByTestId('mfa-enrolment-required').waitFor(LONG);
    expect(new URL(page.url()).pathname).toBe('/me/security');
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').count()).toBe(0);
    await page.goto(`/approvals/${req.id}`);
    await page.getByTestId('mfa-enrolment-required').waitFor(LONG);
    expect(new URL(page.url()).pathname).toBe('/me/security');
    await screenshot(page, 'mfa-enrolment-required');

    // a passkey: the first factor comes with recovery codes, shown once
    await page.getByLabel('Name for the new passkey').fill('Test laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByTestId('recovery-codes').waitFor(LONG);
    await screenshot(page, 'mfa-recovery-codes');
    const codes = await storeRecoveryCodes(page);
    expect(codes.length).toBeGreaterThanOrEqual(8);
    expect(new Set(codes).size).toBe(codes.length);
    // and the console opens at the approver's start page
    await page.waitForURL('**/approvals', LONG);
    const [credentialId] = await authenticator.credentialIds();
    expect(credentialId).toBeTruthy();
    await page.goto('/me/security');
    await page.getByTestId('passkey').filter({ hasText: 'Test laptop' }).waitFor(LONG);

    // this session never proved a second factor: approving asks for one, and the passkey signs this request
    await page.goto(`/approvals/${req.id}`);
    await page.getByRole('button', { name: 'Approve' }).click();
    const prompt = page.getByTestId('step-up');
    await prompt.waitFor(LONG);
    await screenshot(page, 'mfa-step-up');
    await prompt.getByRole('button', { name: 'Use a passkey' }).click();
    await page.locator('.page-actions .badge[data-status=approved]').waitFor(LONG);
    expect(await prompt.count()).toBe(0);
    expect(await decisionEvent(s, 'request.approved_by', req.id)).toMatchObject({ stepUp: { method: 'webauthn', credentialId } });

    // signing in again: the password, then the passkey
    await page.getByRole('button', { name: /Log out/ }).first().click();
    await page.getByLabel('Username').waitFor(LONG);
    await passwordStep(page, s.approver.username);
    const second = page.getByTestId('login-second-step');
    await second.waitFor(LONG);
    await screenshot(page, 'mfa-login-second-step');
    await second.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByTestId('who').waitFor(LONG);
    await page.waitForURL('**/approvals', LONG);

    await context.close();
    expect(reportErrors([approver], { allowStatus: [403] })).toEqual([]);
  }, 300_000);

  it('an authenticator app is set up from the page, signs in with a code (a wrong one is refused), and a recovery code confirms a denial once', async () => {
    const s = await createStory(broker, sshd);
    const approver = await newPerson(browser, base);
    const { page, context } = approver;

    await passwordStep(page, s.approver.username);
    await page.getByTestId('mfa-enrolment-required').waitFor(LONG);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByTestId('totp-qr');
    await qr.waitFor(LONG);
    // the QR code is the broker's SVG as an image, and it renders
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml/);
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), LONG).toBe(true);
    const secret = await page.getByTestId('totp-secret').getAttribute('data-secret');
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret!), digits: 6, period: 30, algorithm: 'SHA1' });
    await screenshot(page, 'mfa-totp-setup');

    // a code from long ago is refused, on the spot
    await page.getByLabel('Enter the 6-digit code the app shows').fill(totp.generate({ timestamp: Date.now() - 3600_000 }));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('alert').first().waitFor(LONG);
    await page.getByLabel('Enter the 6-digit code the app shows').fill(totp.generate());
    await page.getByRole('button', { name: 'Confirm' }).click();
    const codes = await storeRecoveryCodes(page);
    await page.waitForURL('**/approvals', LONG);

    // the second step: a wrong code says so and keeps the step; the next period's code signs in
    await page.getByRole('button', { name: /Log out/ }).first().click();
    await page.getByLabel('Username').waitFor(LONG);
    await passwordStep(page, s.approver.username);
    const second = page.getByTestId('login-second-step');
    await second.waitFor(LONG);
    expect(await second.getByRole('button', { name: 'Use a passkey' }).count()).toBe(0);
    await second.getByTestId('mfa-code').fill(totp.generate({ timestamp: Date.now() - 3600_000 }));
    await second.getByRole('button', { name: 'Confirm with code' }).click();
    await second.getByTestId('mfa-error').waitFor(LONG);
    await screenshot(page, 'mfa-login-wrong-code');
    // the code of the coming period: within the allowed skew, and newer than the one used to enrol
    await second.getByTestId('mfa-code').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await second.getByRole('button', { name: 'Confirm with code' }).click();
    await page.getByTestId('who').waitFor(LONG);

    // once the sign-in's proof is older than STEP_UP_SECONDS, deciding asks again: a recovery code answers
    const req = await request(s, 'Recovery step-up');
    await page.waitForTimeout((STEP_UP_SECONDS + 1) * 1000);
    await page.goto(`/approvals/${req.id}`);
    await page.getByLabel('Comment').fill('Not tonight');
    await page.getByRole('button', { name: 'Deny' }).click();
    const prompt = page.getByTestId('step-up');
    await prompt.waitFor(LONG);
    await prompt.getByTestId('mfa-code').fill(codes[0]!);
    await prompt.getByRole('button', { name: 'Confirm with code' }).click();
    await page.locator('.page-actions .badge[data-status=denied]').waitFor(LONG);
    expect(await decisionEvent(s, 'request.denied_by', req.id)).toMatchObject({ stepUp: { method: 'recovery', credentialId: null } });

    // that recovery code is spent: it no longer signs in
    await page.getByRole('button', { name: /Log out/ }).first().click();
    await page.getByLabel('Username').waitFor(LONG);
    await passwordStep(page, s.approver.username);
    await second.waitFor(LONG);
    await second.getByTestId('mfa-code').fill(codes[0]!);
    await second.getByRole('button', { name: 'Confirm with code' }).click();
    await second.getByTestId('mfa-error').waitFor(LONG);
    await second.getByTestId('mfa-code').fill(codes[1]!);
    await second.getByRole('button', { name: 'Confirm with code' }).click();
    await page.getByTestId('who').waitFor(LONG);

    await context.close();
    expect(reportErrors([approver], { allowStatus: [400, 403] })).toEqual([]);
  }, 300_000);
});
