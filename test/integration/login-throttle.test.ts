/**
 * Login throttling against the real PostgreSQL: concurrent guesses never get more than
 * LOGIN_MAX_FAILURES checked, a flood from one address does not lock the owner out elsewhere, and
 * throttled attempts answer 429 `throttled` with when to retry. Clients are told apart by the
 * X-Forwarded-For header, which the app trusts from loopback (a reverse proxy on the same host).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';
import { expectError } from '../support/fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  // the shipped default (the harness keeps 3 for the older tests); every test uses addresses of its own
  h.deps.policy.loginMaxFailures = 5;
  h.deps.policy.loginMaxFailuresPerAddress = 20;
  h.deps.policy.loginAccountLockSources = 3;
});
afterAll(() => h.close());

const MINUTE = 60_000;
let n = 0;
/** a fresh client address (TEST-NET-2 / benchmarking ranges, never routed) */
const address = () => `198.51.${(process.pid % 200) + 1}.${++n % 250}`;

const login = (username: string, password: string, from: string) =>
  h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username, password });

async function audit(action: string, username: string) {
  const { rows } = await h.pool.query(
    `SELECT details FROM audit_events WHERE action = $1 AND details->>'username' = $2 ORDER BY seq`, [action, username]);
  return rows.map((r) => r.details as Record<string, unknown>);
}

describe('concurrent guesses', () => {
  it('41 parallel guesses from one address: only 5 are checked, the rest and then the right password get 429', async () => {
    const u = await makeUser(h, ['auditor']);
    const from = address();
    const results = await Promise.all(Array.from({ length: 41 }, (_, i) => login(u.user.username, `wrong-guess-${i}`, from)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(36);
    for (const r of results.filter((x) => x.status === 429)) expect(r.body.error.code).toBe('throttled');

    const right = await login(u.user.username, u.password, from);
    expectError(right, 429, 'throttled');
    expect(right.body.token).toBeUndefined();
    // exactly the checked guesses are failures in the audit log; the refusals are aggregated
    expect(await audit('auth.login_failed', u.user.username)).toHaveLength(5);
    expect(await audit('auth.login_throttled', u.user.username)).toHaveLength(1);
  });
});

describe('a flood from one address', () => {
  it('does not lock the owner out from another address', async () => {
    const owner = await makeUser(h, ['admin']);
    const attacker = address();
    const results = [];
    for (let i = 0; i < 12; i++) results.push((await login(owner.user.username, `guess-${i}`, attacker)).status);
    expect(results.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(results.slice(5))).toEqual(new Set([429]));
    // the attacker's address stays locked out of the account, even with the right password
    expectError(await login(owner.user.username, owner.password, attacker), 429, 'throttled');

    const ok = await login(owner.user.username, owner.password, address()).expect(200);
    expect(ok.body.user.id).toBe(owner.user.id);
    expect(await audit('auth.account_locked', owner.user.username)).toHaveLength(0);
  });

  it('spraying many usernames throttles the address itself, not the accounts', async () => {
    const victim = await makeUser(h, ['auditor']);
    const sprayer = address();
    // LOGIN_MAX_FAILURES_PER_ADDRESS failures across as many names (most of them unknown) throttle the address
    h.deps.policy.loginMaxFailuresPerAddress = 8;
    onTestFinished(() => void (h.deps.policy.loginMaxFailuresPerAddress = 20));
    for (let i = 0; i < 7; i++) expectError(await login(unique('spray').toLowerCase(), 'password-guess', sprayer), 401);
    expectError(await login(victim.user.username, 'password-guess', sprayer), 401);
    const throttled = await login(unique('spray').toLowerCase(), 'password-guess', sprayer);
    expectError(throttled, 429, 'throttled');
    expect(Number(throttled.headers['retry-after'])).toBe(15 * 60);
    expectError(await login(victim.user.username, victim.password, sprayer), 429, 'throttled');

    await login(victim.user.username, victim.password, address()).expect(200);
    const { rows } = await h.pool.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'auth.address_throttled' AND subject_id = $1`, [sprayer]);
    expect(rows[0].n).toBe(1);
  });

  it('an unknown username locks like a real one (the lock tells nobody the name exists)', async () => {
    const from = address();
    const ghost = unique('ghost').toLowerCase();
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await login(ghost, `pw-${i}`, from)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });
});

describe('failures from several addresses', () => {
  it('lock the account for everyone once 3 addresses are locked, until the lock runs out', async () => {
    const u = await makeUser(h, ['auditor']);
    for (let a = 0; a < 3; a++) {
      const from = address();
      for (let i = 0; i < 5; i++) expectError(await login(u.user.username, `guess-${a}-${i}`, from), 401);
    }
    const [locked] = await audit('auth.account_locked', u.user.username);
    expect(locked).toMatchObject({ lockedSources: 3 });

    const refused = await login(u.user.username, u.password, address());
    const err = expectError(refused, 429, 'throttled');
    expect(err.details).toMatchObject({ retryAt: expect.any(String), retryAfterSeconds: 15 * 60 });

    h.clock.advance(15 * MINUTE + 1000);
    await login(u.user.username, u.password, address()).expect(200);
  });

  it('two locked addresses do not lock the account', async () => {
    const u = await makeUser(h, ['auditor']);
    for (let a = 0; a < 2; a++) {
      const from = address();
      for (let i = 0; i < 5; i++) expectError(await login(u.user.username, `guess-${a}-${i}`, from), 401);
    }
    await login(u.user.username, u.password, address()).expect(200);
  });
});

describe('changing the password under the throttle', () => {
  it('wrong current passwords count like failed logins: a stolen token cannot guess the password', async () => {
    const u = await makeUser(h, ['auditor']);
    const from = address();
    const change = (currentPassword: string) => h.http.post('/api/me/password').set(u.auth).set('X-Forwarded-For', from)
      .send({ currentPassword, newPassword: 'a brand new password 1' });
    for (let i = 0; i < 5; i++) expectError(await change(`not-it-${i}`), 400, 'invalid');
    expectError(await change(u.password), 429, 'throttled');
    expect(await audit('user.password_change_failed', u.user.username)).toHaveLength(5);
    // the token itself stays valid: a wrong guess does not log the user out
    await h.http.get('/api/me').set(u.auth).expect(200);
  });
});
