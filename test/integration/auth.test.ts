import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';
import { expectError } from '../support/fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const MINUTE = 60_000;

function sessionCookie(res: { headers: Record<string, unknown> }): { header: string; pair: string } {
  const raw = res.headers['set-cookie'] as string[] | string | undefined;
  const header = (Array.isArray(raw) ? raw : raw ? [raw] : []).find((c) => c.startsWith('portcullis_session='));
  expect(header, 'session cookie set').toBeDefined();
  return { header: header!, pair: header!.split(';')[0]! };
}

async function auditFor(username: string, action: string) {
  const { rows } = await h.pool.query(
    `SELECT seq, details FROM audit_events WHERE action = $1 AND details->>'username' = $2 ORDER BY seq`,
    [action, username],
  );
  return rows as { seq: number; details: Record<string, unknown> }[];
}

// every test logs in from an address of its own (through the loopback proxy header the app trusts), so
// the per-address throttle of one test never refuses another's logins
let from = '';
let addressCounter = 0;
beforeEach(() => {
  addressCounter += 1;
  from = `198.18.${(process.pid % 250) + 1}.${addressCounter}`;
});
const login = (username: string, password: string) => h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username, password });

describe('login', () => {
  it('returns a token and the user, and sets an httpOnly SameSite=Strict session cookie', async () => {
    const u = await makeUser(h, ['auditor']);
    const res = await login(u.user.username, u.password).expect(200);
    expect(typeof res.body.token).toBe('string');
    expect(res.body.user).toMatchObject({ id: u.user.id, username: u.user.username, roles: ['auditor'] });
    expect(JSON.stringify(res.body)).not.toMatch(/scrypt|passwordHash|failedLogins/);
    const { header, pair } = sessionCookie(res);
    expect(header).toMatch(/;\s*HttpOnly/i);
    expect(header).toMatch(/;\s*SameSite=Strict/i);
    expect(header).toMatch(/;\s*Path=\/(;|$)/);
    expect(pair).toBe(`portcullis_session=${res.body.token}`);

    const me = await h.http.get('/api/me').set('Authorization', `Bearer ${res.body.token}`).expect(200);
    expect(me.body.id).toBe(u.user.id);
    expect(await auditFor(u.user.username, 'auth.login')).toHaveLength(1);
  });

  it('accepts the username in any case and with surrounding spaces', async () => {
    const u = await makeUser(h, ['auditor']);
    await login(`  ${u.user.username.toUpperCase()} `, u.password).expect(200);
  });

  it('a wrong password and an unknown user get the same generic 401', async () => {
    const u = await makeUser(h, ['auditor']);
    const wrong = expectError(await login(u.user.username, 'not-the-password'), 401, 'unauthenticated');
    const unknown = expectError(await login(unique('nobody').toLowerCase(), 'whatever-password'), 401, 'unauthenticated');
    expect(wrong.message).toBe(unknown.message);
    expect(wrong.message).not.toMatch(/password is wrong|no such user|unknown/i);
  });

  it('bad login bodies are 400, not 401 or 500', async () => {
    expectError(await h.http.post('/api/auth/login').send({ username: 'x' }), 400, 'invalid');
    expectError(await h.http.post('/api/auth/login').send({ username: 'x', password: 'y', extra: 1 }), 400, 'invalid');
    expectError(await h.http.post('/api/auth/login').set('Content-Type', 'application/json').send('{"username":'), 400, 'invalid');
  });
});

describe('cookie authentication', () => {
  it('works for GET; a POST needs X-Requested-With: portcullis', async () => {
    const admin = await makeUser(h, ['admin']);
    const { pair } = sessionCookie(await login(admin.user.username, admin.password).expect(200));

    const me = await h.http.get('/api/me').set('Cookie', pair).expect(200);
    expect(me.body.id).toBe(admin.user.id);

    const vendor = () => ({ name: unique('CookieVendor'), contractRef: 'C-1', contractEnd: '2099-01-01' });
    const refused = vendor();
    expectError(await h.http.post('/api/vendors').set('Cookie', pair).send(refused), 403, 'forbidden');
    expectError(await h.http.post('/api/vendors').set('Cookie', pair).set('X-Requested-With', 'XMLHttpRequest').send(vendor()), 403);
    const { rows } = await h.pool.query('SELECT 1 FROM vendors WHERE name = $1', [refused.name]);
    expect(rows).toHaveLength(0);

    const ok = await h.http.post('/api/vendors').set('Cookie', pair).set('X-Requested-With', 'portcullis').send(vendor()).expect(201);
    expect(ok.body.id).toBeDefined();
  });

  it('a cookie POST from a foreign Origin is refused even with the header', async () => {
    const admin = await makeUser(h, ['admin']);
    const { pair } = sessionCookie(await login(admin.user.username, admin.password).expect(200));
    const res = await h.http.post('/api/vendors').set('Cookie', pair).set('X-Requested-With', 'portcullis')
      .set('Origin', 'https://evil.example').send({ name: unique('V'), contractRef: 'C', contractEnd: '2099-01-01' });
    expectError(res, 403, 'forbidden');
  });

  // browsers send the literal "Origin: null" from sandboxed frames and after cross-site redirects
  it.each(['null', 'not a url'])('a cookie POST with an unparseable Origin (%s) is refused 403, not a 500', async (origin) => {
    const admin = await makeUser(h, ['admin']);
    const { pair } = sessionCookie(await login(admin.user.username, admin.password).expect(200));
    const name = unique('V');
    const res = await h.http.post('/api/vendors').set('Cookie', pair).set('X-Requested-With', 'portcullis')
      .set('Origin', origin).send({ name, contractRef: 'C', contractEnd: '2099-01-01' });
    expectError(res, 403, 'forbidden');
    expect((await h.pool.query('SELECT 1 FROM vendors WHERE name = $1', [name])).rows).toHaveLength(0);
  });

  it('a cookie POST from our own origin is accepted', async () => {
    const admin = await makeUser(h, ['admin']);
    const { pair } = sessionCookie(await login(admin.user.username, admin.password).expect(200));
    await h.http.post('/api/vendors').set('Cookie', pair).set('X-Requested-With', 'portcullis')
      .set('Origin', 'http://127.0.0.1').send({ name: unique('V'), contractRef: 'C', contractEnd: '2099-01-01' }).expect(201);
  });

  it('logout without a session still clears the cookie', async () => {
    const res = await h.http.post('/api/auth/logout').expect(204);
    const { header } = sessionCookie(res);
    expect(header).toMatch(/^portcullis_session=;/);
    expect(header).toMatch(/Expires=Thu, 01 Jan 1970/);
  });
});

describe('lock-out', () => {
  it('locks after 3 failures from one address, refuses the right password there with 429 throttled, and lets it in after 15 minutes', async () => {
    const u = await makeUser(h, ['auditor']);
    for (let i = 0; i < 3; i++) expectError(await login(u.user.username, `wrong-${i}`), 401);

    const res = await login(u.user.username, u.password);
    const locked = expectError(res, 429, 'throttled');
    expect(locked.message).toMatch(/try again in 15 minutes/);
    expect(res.headers['retry-after']).toBe('900');

    h.clock.advance(14 * MINUTE);
    expectError(await login(u.user.username, u.password), 429, 'throttled');

    h.clock.advance(1 * MINUTE + 1000);
    const ok = await login(u.user.username, u.password).expect(200);
    expect(ok.body.token).toBeDefined();

    // every checked failure is audited, the lock once, refusals at most once a minute per address
    const failed = await auditFor(u.user.username, 'auth.login_failed');
    expect(failed.map((e) => e.details.reason)).toEqual(['wrong password', 'wrong password', 'wrong password']);
    expect(await auditFor(u.user.username, 'auth.login_locked')).toHaveLength(1);
    expect((await auditFor(u.user.username, 'auth.login_throttled')).map((e) => e.details.scope)).toEqual(['account_address', 'account_address']);
    // one address is not enough to lock the account for everyone
    expect(await auditFor(u.user.username, 'auth.account_locked')).toHaveLength(0);
    expect(await auditFor(u.user.username, 'auth.login')).toHaveLength(1);
  });

  it('two failures do not lock; a success resets the count', async () => {
    const u = await makeUser(h, ['auditor']);
    for (let i = 0; i < 2; i++) expectError(await login(u.user.username, 'wrong-password'), 401);
    await login(u.user.username, u.password).expect(200);
    for (let i = 0; i < 2; i++) expectError(await login(u.user.username, 'wrong-password'), 401);
    await login(u.user.username, u.password).expect(200);
    expect(await auditFor(u.user.username, 'auth.login_locked')).toHaveLength(0);
  });

  it('after a lock runs out, one more failure does not lock again at once', async () => {
    const u = await makeUser(h, ['auditor']);
    for (let i = 0; i < 3; i++) expectError(await login(u.user.username, 'wrong-password'), 401);
    h.clock.advance(16 * MINUTE);
    expectError(await login(u.user.username, 'wrong-password'), 401);
    await login(u.user.username, u.password).expect(200);
  });

  it('failed logins for unknown usernames are audited too', async () => {
    const name = unique('ghost').toLowerCase();
    expectError(await login(name, 'whatever-password'), 401);
    const failed = await auditFor(name, 'auth.login_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details.reason).toBe('unknown user');
    expect(JSON.stringify(failed[0]!.details)).not.toContain('whatever-password');
  });

  it('no password ever reaches the audit log or the operator log', async () => {
    const u = await makeUser(h, ['auditor']);
    const attempt = `tried-${unique('pw')}`;
    await login(u.user.username, attempt);
    await login(u.user.username, u.password).expect(200);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE details::text LIKE $1 OR details::text LIKE $2',
      [`%${attempt}%`, `%${u.password}%`]);
    expect(rows[0].n).toBe(0);
    expect(h.logLines.join('\n')).not.toContain(attempt);
    expect(h.logLines.join('\n')).not.toContain(u.password);
  });
});

describe('token expiry', () => {
  it('a bearer token and the cookie stop working after 60 minutes', async () => {
    const u = await makeUser(h, ['auditor']);
    const res = await login(u.user.username, u.password).expect(200);
    const { pair } = sessionCookie(res);
    // whole seconds (JWT exp): within a second of 60 minutes from now
    const ttl = new Date(res.body.expiresAt).getTime() - h.clock.now().getTime();
    expect(ttl).toBeGreaterThan(60 * MINUTE - 1000);
    expect(ttl).toBeLessThanOrEqual(60 * MINUTE);
    h.clock.advance(59 * MINUTE);
    await h.http.get('/api/me').set('Authorization', `Bearer ${res.body.token}`).expect(200);
    h.clock.advance(2 * MINUTE);
    expectError(await h.http.get('/api/me').set('Authorization', `Bearer ${res.body.token}`), 401, 'unauthenticated');
    expectError(await h.http.get('/api/me').set('Cookie', pair), 401, 'unauthenticated');
  });

  it('a token signed with another key is refused', async () => {
    const u = await makeUser(h, ['auditor']);
    const other = await startHarness();
    try {
      const { token } = await other.deps.tokens.issueSessionToken(u.user.id);
      await other.http.get('/api/me').set('Authorization', `Bearer ${token}`).expect(200);
      expectError(await h.http.get('/api/me').set('Authorization', `Bearer ${token}`), 401, 'unauthenticated');
    } finally {
      await other.close();
    }
  });
});
