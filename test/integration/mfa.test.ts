/**
 * Second factors through the API (§8.5), on the real PostgreSQL with the fake clock: TOTP with real
 * codes (otpauth), recovery codes, passkeys from a software authenticator, the login's second step
 * under the throttle, enrol-only tokens (MFA_REQUIRED_ROLES) and factor removal with step-up.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeUser, startHarness, type Harness } from '../support/harness.js';
import { expectError } from '../support/fixtures.js';
import { enrolPasskey, enrolTotp, loginWithMfa, totpApp } from '../support/mfa-helpers.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

// each test logs in from an address of its own, so one test's throttle never refuses another's logins
let from = '';
let counter = 0;
beforeEach(() => {
  counter += 1;
  from = `198.19.${(process.pid % 250) + 1}.${counter}`;
});

async function audit(userId: string, action: string) {
  const { rows } = await h.pool.query(
    'SELECT details, actor_id FROM audit_events WHERE action = $1 AND (subject_id = $2 OR actor_id = $2) ORDER BY seq', [action, userId]);
  return rows as { details: Record<string, unknown>; actor_id: string | null }[];
}

const password = (u: { user: { username: string }; password: string }) => [u.user.username, u.password] as const;
const cookies = (res: { headers: Record<string, unknown> }) => [res.headers['set-cookie'] ?? []].flat() as string[];

describe('authenticator app (TOTP)', () => {
  it('is set up with a vaulted secret and a QR code, confirmed with a real code, and then needed at login', async () => {
    const u = await makeUser(h, ['auditor']);
    const started = await h.http.post('/api/me/mfa/totp').set(u.auth).send({}).expect(200);
    expect(started.body.otpauthUrl).toMatch(/^otpauth:\/\/totp\/.*secret=/);
    expect(started.body.otpauthUrl).toContain('algorithm=SHA1');
    expect(started.body.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // the secret is sealed: no column holds it in any encoding we could read
    const { rows } = await h.pool.query('SELECT * FROM mfa_totp WHERE user_id = $1', [u.user.id]);
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows[0]) + Buffer.concat([rows[0].secret_ciphertext, rows[0].secret_nonce]).toString('latin1');
    expect(stored).not.toContain(started.body.secret);
    expect(stored).not.toContain(Buffer.from(started.body.secret).toString('hex'));

    const app = totpApp(started.body.secret, h.clock);
    expectError(await h.http.post('/api/me/mfa/totp/confirm').set(u.auth).send({ code: app.code(5) }), 400, 'invalid');
    const status0 = await h.http.get('/api/me/mfa').set(u.auth).expect(200);
    expect(status0.body.totp).toEqual({ enrolled: false, confirmedAt: null });
    const confirmed = await h.http.post('/api/me/mfa/totp/confirm').set(u.auth).send({ code: app.code() }).expect(200);
    expect(confirmed.body.recoveryCodes).toHaveLength(10);
    expect(new Set(confirmed.body.recoveryCodes).size).toBe(10);
    expect((await audit(u.user.id, 'mfa.enrolled')).map((e) => e.details.method)).toEqual(['totp']);
    const status = await h.http.get('/api/me/mfa').set(u.auth).expect(200);
    expect(status.body).toMatchObject({ totp: { enrolled: true }, passkeys: [], recoveryCodesLeft: 10, required: false });

    // the password alone gives no session now
    const first = await h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username: u.user.username, password: u.password }).expect(200);
    expect(first.body).toMatchObject({ mfaRequired: true, methods: ['totp', 'recovery'] });
    expect(first.body.token).toBeUndefined();
    expect(cookies(first).some((c) => c.startsWith('portcullis_session='))).toBe(false);
    // the code that confirmed the app is spent
    expectError(await h.http.post('/api/auth/login/mfa').set('X-Forwarded-For', from).send({ mfaToken: first.body.mfaToken, code: app.code() }), 401, 'unauthenticated');
    h.clock.advance(30_000);
    const done = await h.http.post('/api/auth/login/mfa').set('X-Forwarded-For', from).send({ mfaToken: first.body.mfaToken, code: app.code() }).expect(200);
    expect(cookies(done).some((c) => c.startsWith('portcullis_session='))).toBe(true);
    await h.http.get('/api/me').set('Authorization', `Bearer ${done.body.token}`).expect(200);
    const logins = await audit(u.user.id, 'auth.login');
    expect(logins.at(-1)!.details.mfa).toEqual({ method: 'totp', credentialId: null });
    // the mfaToken was single-use
    h.clock.advance(30_000);
    expectError(await h.http.post('/api/auth/login/mfa').set('X-Forwarded-For', from).send({ mfaToken: first.body.mfaToken, code: app.code() }), 401);
  });

  it('refuses a replayed code, accepts the neighbouring steps (±1) and refuses two steps off', async () => {
    const u = await makeUser(h, ['auditor']);
    const { app } = await enrolTotp(h, u.auth);
    const code = app.code();
    await loginWithMfa(h, ...password(u), () => ({ code }), from).then((r) => expect(r.status).toBe(200));
    const replay = await loginWithMfa(h, ...password(u), () => ({ code }), from);
    expectError(replay, 401, 'unauthenticated');
    expect((await audit(u.user.id, 'auth.mfa_failed')).at(-1)!.details.reason).toBe('code already used');

    h.clock.advance(120_000); // four steps on: the last used step is far behind
    expectError(await loginWithMfa(h, ...password(u), () => ({ code: app.code(-2) }), from), 401);
    expect((await audit(u.user.id, 'auth.mfa_failed')).at(-1)!.details.reason).toBe('wrong code');
    expect((await loginWithMfa(h, ...password(u), () => ({ code: app.code(-1) }), from)).status).toBe(200);
    expect((await loginWithMfa(h, ...password(u), () => ({ code: app.code(+1) }), from)).status).toBe(200);
    // after step +1 was used, the current step is older: refused as used
    expectError(await loginWithMfa(h, ...password(u), () => ({ code: app.code() }), from), 401);
    expectError(await loginWithMfa(h, ...password(u), () => ({ code: app.code(+2) }), from), 401);
  });

  it('wrong codes count against the login throttle and are audited; then even the right code waits', async () => {
    const u = await makeUser(h, ['auditor']);
    const { app } = await enrolTotp(h, u.auth);
    const first = await h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username: u.user.username, password: u.password }).expect(200);
    const attempt = (code: string) => h.http.post('/api/auth/login/mfa').set('X-Forwarded-For', from).send({ mfaToken: first.body.mfaToken, code });
    const wrong = app.code(4);
    for (let i = 0; i < 3; i++) expectError(await attempt(wrong), 401, 'unauthenticated'); // the harness locks after 3
    const locked = expectError(await attempt(app.code()), 429, 'throttled');
    expect(locked.details).toMatchObject({ retryAt: expect.any(String) });
    const failures = await audit(u.user.id, 'auth.mfa_failed');
    expect(failures).toHaveLength(3);
    expect(failures[0]!.details).toMatchObject({ username: u.user.username, clientAddress: from, reason: 'wrong code' });
    expect(JSON.stringify(failures)).not.toContain(wrong);
    expect(await audit(u.user.id, 'auth.login_locked')).toHaveLength(1);
  });
});

describe('recovery codes', () => {
  it('each signs in once; a new set replaces the old one and needs a recent MFA proof', async () => {
    const u = await makeUser(h, ['auditor']);
    const { app, recoveryCodes } = await enrolTotp(h, u.auth);
    const [one, two] = recoveryCodes;
    const ok = await loginWithMfa(h, ...password(u), () => ({ recoveryCode: one!.toUpperCase() }), from);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expectError(await loginWithMfa(h, ...password(u), () => ({ recoveryCode: one }), from), 401);
    expect((await audit(u.user.id, 'mfa.recovery_code_used')).map((e) => e.details.recoveryCodesLeft)).toEqual([9]);
    const first = await h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username: u.user.username, password: u.password }).expect(200);
    expect(first.body.methods).toEqual(['totp', 'recovery']);

    // a token without a recent proof (minted directly) must give one
    const stale = expectError(await h.http.post('/api/me/mfa/recovery-codes').set(u.auth).send({}), 403, 'forbidden');
    expect(stale.details).toMatchObject({ stepUpRequired: true, methods: ['totp', 'recovery'] });
    const fresh = await h.http.post('/api/me/mfa/recovery-codes').set(u.auth).send({ stepUp: { code: app.code() } }).expect(200);
    expect(fresh.body.recoveryCodes).toHaveLength(10);
    expect(await audit(u.user.id, 'mfa.recovery_codes_regenerated')).toHaveLength(1);
    expectError(await loginWithMfa(h, ...password(u), () => ({ recoveryCode: two }), from), 401);
    expect((await loginWithMfa(h, ...password(u), () => ({ recoveryCode: fresh.body.recoveryCodes[0] }), from)).status).toBe(200);
  });
});

describe('passkeys (software authenticator)', () => {
  it('registers, signs in with the login challenge, and a fresh challenge replaces the first', async () => {
    const u = await makeUser(h, ['auditor']);
    const { authenticator, passkey, recoveryCodes } = await enrolPasskey(h, u.auth);
    expect(recoveryCodes).toHaveLength(10);
    expect((await audit(u.user.id, 'mfa.enrolled')).at(-1)!.details).toMatchObject({ method: 'webauthn', credentialId: passkey.id });
    const status = await h.http.get('/api/me/mfa').set(u.auth).expect(200);
    expect(status.body.passkeys).toEqual([expect.objectContaining({ id: passkey.id, name: 'test key', lastUsedAt: null })]);

    const first = await h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username: u.user.username, password: u.password }).expect(200);
    expect(first.body.methods).toEqual(['webauthn', 'recovery']);
    const stale = authenticator.get(first.body.webauthnOptions);
    const again = await h.http.post('/api/auth/login/webauthn/options').send({ mfaToken: first.body.mfaToken }).expect(200);
    expect(again.body.challenge).not.toBe(first.body.webauthnOptions.challenge);
    const mfa = (webauthn: unknown) => h.http.post('/api/auth/login/mfa').set('X-Forwarded-For', from).send({ mfaToken: first.body.mfaToken, webauthn });
    expectError(await mfa(stale), 401);
    // signed for another site: refused
    expectError(await mfa(authenticator.get(again.body, { origin: 'https://evil.example' })), 401);
    const done = await mfa(authenticator.get(again.body));
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect((await audit(u.user.id, 'auth.login')).at(-1)!.details.mfa).toEqual({ method: 'webauthn', credentialId: passkey.id });
    const reasons = (await audit(u.user.id, 'auth.mfa_failed')).map((e) => e.details.reason as string);
    expect(reasons).toHaveLength(2);
    expect(reasons[1]).toMatch(/origin/i);
  });

  it('a registration response is refused for another user\'s challenge', async () => {
    const a = await makeUser(h, ['auditor']);
    const b = await makeUser(h, ['auditor']);
    const options = await h.http.post('/api/me/webauthn/register/options').set(a.auth).send({}).expect(200);
    const response = new SoftAuthenticator('http://127.0.0.1', '127.0.0.1').create(options.body);
    expectError(await h.http.post('/api/me/webauthn/register/verify').set(b.auth).send({ response }), 400, 'invalid');
    await h.http.post('/api/me/webauthn/register/verify').set(a.auth).send({ response }).expect(200);
    // single-use: the same response again
    expectError(await h.http.post('/api/me/webauthn/register/verify').set(a.auth).send({ response }), 400, 'invalid');
  });
});

describe('removing a factor', () => {
  it('needs a recent proof; the last factor takes the recovery codes with it', async () => {
    const u = await makeUser(h, ['auditor']);
    const { app } = await enrolTotp(h, u.auth);
    const removed = expectError(await h.http.delete('/api/me/mfa/totp').set(u.auth).send({}), 403, 'forbidden');
    expect(removed.details).toMatchObject({ stepUpRequired: true });
    expectError(await h.http.delete('/api/me/mfa/totp').set(u.auth).send({ stepUp: { code: app.code(3) } }), 403);
    expect((await audit(u.user.id, 'auth.mfa_failed')).at(-1)!.details.reason).toBe('wrong code');
    await h.http.delete('/api/me/mfa/totp').set(u.auth).send({ stepUp: { code: app.code() } }).expect(204);
    expect((await audit(u.user.id, 'mfa.removed')).at(-1)!.details).toMatchObject({ method: 'totp', lastFactor: true });
    const status = await h.http.get('/api/me/mfa').set(u.auth).expect(200);
    expect(status.body).toMatchObject({ totp: null, recoveryCodesLeft: 0 });
    // a password alone signs in again
    const login = await h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username: u.user.username, password: u.password }).expect(200);
    expect(typeof login.body.token).toBe('string');
  });

  it('a session fresh from an MFA sign-in removes a passkey without another proof', async () => {
    const u = await makeUser(h, ['auditor']);
    const { authenticator, passkey } = await enrolPasskey(h, u.auth);
    // a token without an MFA proof: no passkey challenge is offered for this, a recovery code is
    const stale = expectError(await h.http.delete(`/api/me/webauthn/${passkey.id}`).set(u.auth).send({}), 403, 'forbidden');
    expect(stale.details).toEqual({ stepUpRequired: true, methods: ['recovery'] });
    const signedIn = await loginWithMfa(h, ...password(u), (first) => ({ webauthn: authenticator.get(first.webauthnOptions as never) }), from);
    expect(signedIn.status).toBe(200);
    const auth = { Authorization: `Bearer ${signedIn.body.token}` };
    expectError(await h.http.delete('/api/me/webauthn/not-a-passkey').set(auth).send({}), 404, 'not_found');
    await h.http.delete(`/api/me/webauthn/${passkey.id}`).set(auth).send({}).expect(204);
    expect((await audit(u.user.id, 'mfa.removed')).at(-1)!.details).toMatchObject({ method: 'webauthn', credentialId: passkey.id, stepUp: { method: 'webauthn', via: 'session' } });
  });
});

describe('MFA_REQUIRED_ROLES', () => {
  it('a user of such a role without a factor gets a token that only enrols one', async () => {
    h.deps.mfa.requiredRoles = ['approver'];
    try {
      const u = await makeUser(h, ['approver'], { department: 'cardiology' });
      const login = await h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username: u.user.username, password: u.password }).expect(200);
      expect(login.body.user.mfaEnrolmentRequired).toBe(true);
      const auth = { Authorization: `Bearer ${login.body.token}` };
      const me = await h.http.get('/api/me').set(auth).expect(200);
      expect(me.body.mfaEnrolmentRequired).toBe(true);
      const refused = expectError(await h.http.get('/api/access-requests').set(auth), 403, 'forbidden');
      expect(refused.details).toEqual({ mfaEnrolmentRequired: true });
      expectError(await h.http.get('/api/devices').set(auth), 403, 'forbidden');
      expect((await h.http.get('/api/me/mfa').set(auth).expect(200)).body.required).toBe(true);
      await enrolTotp(h, auth);
      await h.http.get('/api/access-requests').set(auth).expect(200);
      expect((await h.http.get('/api/me').set(auth).expect(200)).body.mfaEnrolmentRequired).toBe(false);
      // a role outside the list is not asked
      const auditor = await makeUser(h, ['auditor']);
      await h.http.get('/api/audit').set(auditor.auth).expect(200);
    } finally {
      h.deps.mfa.requiredRoles = [];
    }
  });
});
