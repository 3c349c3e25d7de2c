/**
 * Single sign-on against a real OpenID Provider (oidc-provider) in this process: discovery, the code
 * flow with PKCE driven over HTTP with cookies and redirects, claim-to-role and department mapping,
 * updates on each sign-in, and the refusals — no mapped role, disabled, a local account of the same
 * name, a wrong state, a wrong nonce, a callback in another browser — each an HTML page, each audited.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../server/core/types.js';
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
    PORT: String(port), PUBLIC_URL: publicUrl,
    OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret,
    OIDC_ROLE_MAP: 'pc-approvers=approver,pc-auditors=auditor,pc-admins=admin,pc-admins=auditor',
    OIDC_DEPARTMENT_CLAIM: 'department', OIDC_DISPLAY_NAME: 'St. Test Hospital',
  });
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  await idp?.close();
});

const staff = (extra: Partial<TestAccount> = {}): TestAccount => {
  const id = randomBytes(4).toString('hex');
  return { sub: `staff-${id}`, preferred_username: `nurse.${id}`, name: `Nurse ${id}`, groups: ['pc-approvers', 'unrelated'], department: 'Radiology', ...extra };
};

/** One sign-in in a fresh browser (cookie jar), up to the console page the broker sends the browser to. */
async function signIn(account: TestAccount, opts: { rewrite?: (url: URL) => URL; jar?: CookieJar; stopAtCallback?: boolean } = {}) {
  idp.signInAs(account);
  const jar = opts.jar ?? new CookieJar();
  const hops = await followRedirects(`${publicUrl}/api/auth/oidc/login`, jar, {
    rewrite: opts.rewrite,
    stop: (loc) => loc.origin === publicUrl && (opts.stopAtCallback ? loc.pathname === '/api/auth/oidc/callback' : !loc.pathname.startsWith('/api/')),
  });
  return { hops, last: hops.at(-1)!, jar, session: jar.get(publicUrl, 'portcullis_session') };
}

const me = (token: string) => broker.api.call('GET', '/api/me', token);

async function auditFor(filter: (e: AuditEvent) => boolean): Promise<AuditEvent[]> {
  return (await broker.deps.store.read.audit.list({ limit: 5000 })).filter(filter);
}

describe('OIDC sign-in', () => {
  it('offers the provider on the login page and starts the code flow with PKCE, state and nonce', async () => {
    expect((await broker.api.ok('GET', '/api/auth/config'))).toEqual({ oidc: { enabled: true, displayName: 'St. Test Hospital' } });
    const res = await fetch(`${publicUrl}/api/auth/oidc/login`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    // the authorization endpoint came from the provider's discovery document
    expect(`${to.origin}${to.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({ client_id: idp.clientId, response_type: 'code', code_challenge_method: 'S256',
      redirect_uri: `${publicUrl}/api/auth/oidc/callback`, scope: 'openid profile email' });
    for (const p of ['state', 'nonce', 'code_challenge']) expect(to.searchParams.get(p)).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('portcullis_oidc='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\/api\/auth\/oidc/);
  });

  it('provisions a user with mapped roles and department on first sign-in, and updates them on the next', async () => {
    const account = staff({ amr: ['pwd', 'otp'] });
    const first = await signIn(account);
    expect(first.last.url.pathname).toBe('/api/auth/oidc/callback');
    expect(first.last.status).toBe(302);
    expect(first.last.location?.href).toBe(`${publicUrl}/`);
    expect(first.session).toBeDefined();
    // the provider's one-time code and the state never reach the request log
    const code = first.last.url.searchParams.get('code')!;
    expect(code.length).toBeGreaterThan(10);
    expect(broker.logLines.join('\n')).not.toContain(code);
    expect(broker.logLines.join('\n')).not.toContain(first.last.url.searchParams.get('state')!);
    const u1 = (await me(first.session!)).body;
    expect(u1).toMatchObject({ username: account.preferred_username, displayName: account.name, roles: ['approver'], department: 'Radiology', vendorId: null, sso: true });
    // the provider's amr named a second factor: the session carries an MFA proof by the provider
    expect((await broker.deps.tokens.verifySessionToken(first.session!)).mfa).toMatchObject({ method: 'oidc', credentialId: null });
    const login = (await auditFor((e) => e.action === 'auth.login' && e.subjectId === u1.id))[0]!;
    expect(login.details).toMatchObject({ method: 'oidc', issuer: idp.issuer, subject: account.sub, mfa: true });
    expect((await auditFor((e) => e.action === 'user.created' && e.subjectId === u1.id))[0]?.details).toMatchObject({ by: 'oidc', roles: ['approver'] });

    // the hospital moves them: new groups, new department, new name
    const moved = { ...account, groups: ['pc-admins'], department: 'Cardiology', name: 'Head Nurse', amr: ['pwd'] };
    const second = await signIn(moved);
    const u2 = (await me(second.session!)).body;
    expect(u2).toMatchObject({ id: u1.id, roles: ['admin', 'auditor'], department: 'Cardiology', displayName: 'Head Nurse' });
    expect((await broker.deps.tokens.verifySessionToken(second.session!)).mfa).toBeNull();
    // the role change ended the tokens issued under the old roles
    expect((await me(first.session!)).status).toBe(401);
    const updated = await auditFor((e) => e.action === 'user.updated' && e.subjectId === u1.id);
    expect(updated.at(-1)?.details).toMatchObject({ by: 'oidc', tokensEnded: true, roles: ['admin', 'auditor'] });

    // same roles again: no update, the earlier token keeps working
    const third = await signIn(moved);
    expect((await me(third.session!)).status).toBe(200);
    expect((await me(second.session!)).status).toBe(200);
  });

  it('refuses a user whose groups map to no role with a page, and audits it', async () => {
    const account = staff({ groups: ['cafeteria'] });
    const r = await signIn(account);
    expect(r.last.url.pathname).toBe('/api/auth/oidc/callback');
    expect(r.last.status).toBe(403);
    expect(r.last.body).toMatch(/^<!doctype html>/);
    expect(r.last.body).toContain('You have no access to Portcullis');
    expect(r.session).toBeUndefined();
    const { rows } = await broker.pool.query('SELECT count(*)::int AS n FROM users WHERE oidc_subject = $1', [account.sub]);
    expect(rows[0].n).toBe(0);
    const failed = await auditFor((e) => e.action === 'auth.login_failed' && e.details.subject === account.sub);
    expect(failed.map((e) => e.details.reason)).toEqual(['unmapped']);

    // someone who had a role and lost it at the provider: refused, and their earlier session ends
    const had = staff();
    const before = await signIn(had);
    expect((await me(before.session!)).status).toBe(200);
    const lost = await signIn({ ...had, groups: [] });
    expect(lost.last.status).toBe(403);
    expect((await me(before.session!)).status).toBe(401);
  });

  it('refuses a disabled user', async () => {
    const account = staff();
    const first = await signIn(account);
    const id = (await me(first.session!)).body.id as string;
    await broker.deps.store.transaction((tx) => tx.users.update(id, { disabled: true, endTokens: true }));
    const r = await signIn(account);
    expect(r.last.status).toBe(403);
    expect(r.last.body).toContain('Your account is disabled');
    expect(r.session).toBeUndefined();
    expect((await auditFor((e) => e.action === 'auth.login_failed' && e.subjectId === id)).map((e) => e.details.reason)).toEqual(['disabled']);
  });

  it('never takes over a local account with the same username', async () => {
    const username = `vendor.${randomBytes(4).toString('hex')}`;
    const local = await broker.deps.store.transaction(async (tx) => tx.users.insert({
      username, displayName: 'Local Vendor', roles: ['auditor'], vendorId: null, department: null, slackUserId: null,
      passwordHash: await broker.deps.passwords.hash('local-password-123'),
    }));
    const r = await signIn(staff({ preferred_username: username, groups: ['pc-admins'] }));
    expect(r.last.status).toBe(403);
    expect(r.last.body).toContain('This name is taken by another account');
    expect(r.session).toBeUndefined();
    const { rows } = await broker.pool.query('SELECT roles, oidc_subject FROM users WHERE id = $1', [local.id]);
    expect(rows[0]).toEqual({ roles: ['auditor'], oidc_subject: null });
    expect((await auditFor((e) => e.action === 'auth.login_failed' && e.details.username === username)).map((e) => e.details.reason)).toEqual(['username_taken']);
  });

  it('refuses a callback whose state is not the one this browser started with', async () => {
    const account = staff();
    const r = await signIn(account, {
      rewrite: (url) => {
        if (url.pathname !== '/api/auth/oidc/callback') return url;
        const u = new URL(url);
        u.searchParams.set('state', randomBytes(32).toString('base64url'));
        return u;
      },
    });
    expect(r.last.url.pathname).toBe('/api/auth/oidc/callback');
    expect(r.last.status).toBe(400);
    expect(r.last.body).toContain('does not belong to the sign-in started in this browser');
    expect(r.session).toBeUndefined();
    expect((await auditFor((e) => e.action === 'auth.login_failed' && e.details.reason === 'state_mismatch')).length).toBeGreaterThan(0);
    const { rows } = await broker.pool.query('SELECT count(*)::int AS n FROM users WHERE oidc_subject = $1', [account.sub]);
    expect(rows[0].n).toBe(0);
  });

  it('refuses an ID token issued for another nonce', async () => {
    const account = staff();
    // the provider is asked (and answers) with another nonce than the one the broker keeps for this browser
    const r = await signIn(account, {
      rewrite: (url) => {
        if (url.origin !== idp.issuer || url.pathname !== '/auth') return url;
        const u = new URL(url);
        u.searchParams.set('nonce', randomBytes(32).toString('base64url'));
        return u;
      },
    });
    expect(r.last.url.pathname).toBe('/api/auth/oidc/callback');
    expect(r.last.status).toBe(400);
    expect(r.last.body).toContain('nonce mismatch');
    expect(r.session).toBeUndefined();
    expect((await auditFor((e) => e.action === 'auth.login_failed' && e.details.reason === 'nonce_mismatch')).length).toBeGreaterThan(0);
  });

  it('refuses a callback opened in another browser than the one that started the sign-in', async () => {
    const started = await signIn(staff(), { stopAtCallback: true });
    const callback = started.last.location!;
    expect(callback.pathname).toBe('/api/auth/oidc/callback');
    // the victim's browser has no flow cookie: the attacker's code must not sign them in
    const victim = new CookieJar();
    const hops = await followRedirects(callback, victim);
    expect(hops.at(-1)!.status).toBe(400);
    expect(hops.at(-1)!.body).toContain('no sign-in was started in this browser');
    expect(victim.get(publicUrl, 'portcullis_session')).toBeUndefined();
  });
});

describe('MFA_REQUIRED_ROLES and SSO', () => {
  // the broker's settings object is read on every request: require MFA of approvers for these tests only
  const requiring = async (run: () => Promise<void>) => {
    broker.deps.mfa.requiredRoles = ['approver', 'admin'];
    try {
      await run();
    } finally {
      broker.deps.mfa.requiredRoles = [];
    }
  };

  it('accepts a provider sign-in with a second factor without a local one', () => requiring(async () => {
    const { session } = await signIn(staff({ amr: ['pwd', 'otp'] }));
    const res = await me(session!);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ roles: ['approver'], mfaEnrolmentRequired: false });
    expect((await broker.api.call('GET', '/api/access-requests', session!)).status).toBe(200);
  }));

  it('lets a password-only provider sign-in do nothing but enrol a local factor', () => requiring(async () => {
    const { session } = await signIn(staff({ amr: ['pwd'] }));
    expect((await me(session!)).body).toMatchObject({ mfaEnrolmentRequired: true });
    const list = await broker.api.call('GET', '/api/access-requests', session!);
    expect(list.status).toBe(403);
    expect(list.body.error.details).toMatchObject({ mfaEnrolmentRequired: true });
    expect((await broker.api.call('GET', '/api/me/mfa', session!)).status).toBe(200);
  }));
});
