/**
 * An SSO user whose role requires MFA: a sign-in the identity provider made multi-factor (its ID token's
 * amr names a second factor) needs no local factor; a password-only sign-in at the provider leaves the
 * session able to enrol a local factor and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/device-sshd.js';
import { CookieJar, followRedirects, startTestIdp, type TestAccount, type TestIdp } from '../support/oidc-provider.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let idp: TestIdp;
let broker: TestBroker;
let publicUrl: string;

beforeAll(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  idp = await startTestIdp({ redirectUri: `${publicUrl}/api/auth/oidc/callback` });
  broker = await startTestBroker({
    PORT: String(port), PUBLIC_URL: publicUrl, MFA_REQUIRED_ROLES: 'approver,admin',
    OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret,
    OIDC_ROLE_MAP: 'pc-approvers=approver', OIDC_DEPARTMENT_CLAIM: 'department',
  });
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  await idp?.close();
});

async function signIn(amr: string[]): Promise<string> {
  const id = randomBytes(4).toString('hex');
  const account: TestAccount = { sub: `mfa-${id}`, preferred_username: `mfa.${id}`, name: `Nurse ${id}`, groups: ['pc-approvers'], department: 'Radiology', amr };
  idp.signInAs(account);
  const jar = new CookieJar();
  await followRedirects(`${publicUrl}/api/auth/oidc/login`, jar, { stop: (loc) => loc.origin === publicUrl && !loc.pathname.startsWith('/api/') });
  const session = jar.get(publicUrl, 'portcullis_session');
  expect(session).toBeTruthy();
  return session!;
}

describe('MFA_REQUIRED_ROLES and SSO', () => {
  it('accepts a provider sign-in with a second factor without a local one', async () => {
    const token = await signIn(['pwd', 'otp']);
    const me = await broker.api.call('GET', '/api/me', token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ roles: ['approver'], mfaEnrolmentRequired: false });
    expect((await broker.api.call('GET', '/api/access-requests', token)).status).toBe(200);
  });

  it('lets a password-only provider sign-in do nothing but enrol a local factor', async () => {
    const token = await signIn(['pwd']);
    expect((await broker.api.call('GET', '/api/me', token)).body).toMatchObject({ mfaEnrolmentRequired: true });
    const list = await broker.api.call('GET', '/api/access-requests', token);
    expect(list.status).toBe(403);
    expect(list.body.error.details).toMatchObject({ mfaEnrolmentRequired: true });
    expect((await broker.api.call('GET', '/api/me/mfa', token)).status).toBe(200);
  });
});
