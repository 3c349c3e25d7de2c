/**
 * Login tokens end at once on logout, a password change or reset, disabling, and a role, vendor or
 * department change; a password someone else chose must be replaced before anything else; a
 * technician who loses the role or changes vendor loses their grants. Real PostgreSQL, the real app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFirstAdmin } from '../../server/bootstrap.js';
import { createTestDatabase } from '../support/databases.js';
import { createVendor, expectError } from '../support/fixtures.js';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';
import { as, endedEvents, grantFor, grantRow, world } from '../support/workflow-fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

let n = 0;
// logins from addresses of this file's own, so no other test's failures throttle them
const from = () => `203.0.113.${(n++ % 200) + 1}`;
const login = (username: string, password: string) =>
  h.http.post('/api/auth/login').set('X-Forwarded-For', from()).send({ username, password });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const me = (token: string) => h.http.get('/api/me').set(bearer(token));

function cookieOf(res: { headers: Record<string, unknown> }): string {
  const raw = res.headers['set-cookie'] as string[];
  return raw.find((c) => c.startsWith('portcullis_session='))!.split(';')[0]!;
}

async function auditCount(action: string, subjectId: string): Promise<number> {
  const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE action = $1 AND subject_id = $2', [action, subjectId]);
  return rows[0].n as number;
}

describe('logout', () => {
  it('ends every token of the user at once: this one, the cookie, and logins elsewhere', async () => {
    const u = await makeUser(h, ['auditor']);
    const here = await login(u.user.username, u.password).expect(200);
    const elsewhere = await login(u.user.username, u.password).expect(200);
    const cookie = cookieOf(here);
    await me(here.body.token).expect(200);

    await h.http.post('/api/auth/logout').set(bearer(here.body.token)).expect(204);
    expectError(await me(here.body.token), 401, 'unauthenticated');
    expectError(await me(elsewhere.body.token), 401, 'unauthenticated');
    expectError(await h.http.get('/api/me').set('Cookie', cookie), 401, 'unauthenticated');
    expect(await auditCount('auth.logout', u.user.id)).toBe(1);

    const again = await login(u.user.username, u.password).expect(200);
    await me(again.body.token).expect(200);
  });

  it('through the console: the cookie logout (with its CSRF header) ends the session too', async () => {
    const u = await makeUser(h, ['auditor']);
    const cookie = cookieOf(await login(u.user.username, u.password).expect(200));
    await h.http.post('/api/auth/logout').set('Cookie', cookie).set('X-Requested-With', 'portcullis').expect(204);
    expectError(await h.http.get('/api/me').set('Cookie', cookie), 401);
  });
});

describe('changing your own password', () => {
  it('ends the other tokens, returns a new one, and only the new password logs in', async () => {
    const u = await makeUser(h, ['auditor']);
    const first = (await login(u.user.username, u.password).expect(200)).body.token as string;
    const second = (await login(u.user.username, u.password).expect(200)).body.token as string;
    const newPassword = `new ${unique('password')}`;

    const res = await h.http.post('/api/me/password').set(bearer(first)).send({ currentPassword: u.password, newPassword }).expect(200);
    expect(res.body.user).toMatchObject({ id: u.user.id, passwordChangeRequired: false });
    expect(cookieOf(res)).toBe(`portcullis_session=${res.body.token}`);
    expectError(await me(first), 401);
    expectError(await me(second), 401);
    await me(res.body.token).expect(200);

    expectError(await login(u.user.username, u.password), 401);
    await login(u.user.username, newPassword).expect(200);
    const { rows } = await h.pool.query(`SELECT details FROM audit_events WHERE action = 'user.password_changed' AND subject_id = $1`, [u.user.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].details).toMatchObject({ by: 'self', wasRequired: false });
    expect(JSON.stringify(rows[0].details)).not.toContain(newPassword);
  });

  it('refuses a wrong current password (400, the session stays), the same password again, and a short one', async () => {
    const u = await makeUser(h, ['auditor']);
    const change = (body: object) => h.http.post('/api/me/password').set(u.auth).set('X-Forwarded-For', from()).send(body);
    expectError(await change({ currentPassword: 'not the password', newPassword: 'another long password' }), 400, 'invalid');
    expectError(await change({ currentPassword: u.password, newPassword: u.password }), 400, 'invalid');
    expect(expectError(await change({ currentPassword: u.password, newPassword: 'short' }), 400, 'invalid').message).toMatch(/newPassword.*12/);
    expectError(await change({ newPassword: 'another long password' }), 400, 'invalid');
    await h.http.get('/api/me').set(u.auth).expect(200);
  });
});

describe('an admin changing a user', () => {
  it('a password reset ends the user\'s tokens and must be replaced at their next login', async () => {
    const admin = await makeUser(h, ['admin']);
    const u = await makeUser(h, ['auditor']);
    await me(u.token).expect(200);
    await h.http.patch(`/api/users/${u.user.id}`).set(admin.auth).send({ password: 'set by the admin 1' }).expect(200);
    expectError(await me(u.token), 401);
    const res = await login(u.user.username, 'set by the admin 1').expect(200);
    expect(res.body.passwordChangeRequired).toBe(true);
  });

  it('disabling ends the tokens, and enabling again does not bring them back', async () => {
    const admin = await makeUser(h, ['admin']);
    const u = await makeUser(h, ['auditor']);
    await h.http.patch(`/api/users/${u.user.id}`).set(admin.auth).send({ disabled: true }).expect(200);
    expectError(await me(u.token), 401);
    await h.http.patch(`/api/users/${u.user.id}`).set(admin.auth).send({ disabled: false }).expect(200);
    expectError(await me(u.token), 401);
    await login(u.user.username, u.password).expect(200);
  });

  it.each([
    ['roles', () => ({ roles: ['auditor', 'admin'] })],
    ['department', () => ({ department: unique('dept') })],
  ])('a change of %s ends the tokens; a display-name change does not', async (_what, change) => {
    const admin = await makeUser(h, ['admin']);
    const u = await makeUser(h, ['auditor']);
    await h.http.patch(`/api/users/${u.user.id}`).set(admin.auth).send({ displayName: 'Renamed Person' }).expect(200);
    await me(u.token).expect(200);
    await h.http.patch(`/api/users/${u.user.id}`).set(admin.auth).send(change()).expect(200);
    expectError(await me(u.token), 401);
  });
});

describe('a technician who loses the role or changes vendor', () => {
  it.each([
    ['the technician role is removed', 'technician role removed', async () => ({ roles: ['auditor'] })],
    ['the vendor changes', 'vendor changed', async (admin: { Authorization: string }) => ({ vendorId: (await createVendor(h, admin)).id })],
  ])('when %s, their grants are revoked (live sessions cut) and their tokens end', async (_when, reason, change) => {
    const w = await world(h, { approvers: 1, device: { policy: { approvalsRequired: 1 } } });
    const grant = await grantFor(h, w);
    expect(grant.status).toBe('active');
    const techAuth = await w.tech.auth();
    const adminAuth = await w.admin.auth();

    await h.http.patch(`/api/users/${w.tech.user.id}`).set(adminAuth).send(await change(adminAuth)).expect(200);
    expect(await grantRow(h, grant.id)).toMatchObject({ status: 'revoked', end_reason: reason, revoked_by: w.admin.user.id });
    // the revocation every proxy acts on
    expect(endedEvents(h, grant.id)).toHaveLength(1);
    expect(await auditCount('grant.revoked', grant.id)).toBe(1);
    expectError(await h.http.get('/api/me').set(techAuth), 401);
  });

  it('a display-name change leaves the grant alone', async () => {
    const w = await world(h, { approvers: 1, device: { policy: { approvalsRequired: 1 } } });
    const grant = await grantFor(h, w);
    await as(h, w.admin).patch(`/api/users/${w.tech.user.id}`, { displayName: 'Tina T.' });
    expect((await grantRow(h, grant.id)).status).toBe('active');
  });
});

describe('a password someone else chose', () => {
  it('an admin-created user can only change it (and read themselves) until they do', async () => {
    const admin = await makeUser(h, ['admin']);
    const vendor = await createVendor(h, admin.auth);
    const username = unique('newtech').toLowerCase();
    await h.http.post('/api/users').set(admin.auth)
      .send({ username, displayName: 'New Tech', roles: ['technician'], vendorId: vendor.id, password: 'chosen by the admin' }).expect(201);

    const res = await login(username, 'chosen by the admin').expect(200);
    expect(res.body.passwordChangeRequired).toBe(true);
    expect(res.body.user.passwordChangeRequired).toBe(true);
    const token = res.body.token as string;
    const cookie = cookieOf(res);

    expect((await me(token).expect(200)).body.passwordChangeRequired).toBe(true);
    const refused = expectError(await h.http.get('/api/devices').set(bearer(token)), 403, 'forbidden');
    expect(refused.details).toEqual({ passwordChangeRequired: true });
    expectError(await h.http.get('/api/grants').set('Cookie', cookie), 403, 'forbidden');
    expectError(await h.http.post('/api/access-requests').set(bearer(token)).send({}), 403, 'forbidden');
    expectError(await h.http.get('/api/access-requests').set(bearer(token)), 403, 'forbidden');

    const changed = await h.http.post('/api/me/password').set(bearer(token))
      .send({ currentPassword: 'chosen by the admin', newPassword: 'my very own password' }).expect(200);
    expectError(await me(token), 401);
    await h.http.get('/api/devices').set(bearer(changed.body.token)).expect(200);
    const next = await login(username, 'my very own password').expect(200);
    expect(next.body.passwordChangeRequired).toBe(false);
  });

  it('the restricted token may log out', async () => {
    const admin = await makeUser(h, ['admin']);
    const username = unique('aud').toLowerCase();
    await h.http.post('/api/users').set(admin.auth).send({ username, displayName: 'A', roles: ['auditor'], password: 'chosen by the admin' }).expect(201);
    const token = (await login(username, 'chosen by the admin').expect(200)).body.token as string;
    await h.http.post('/api/auth/logout').set(bearer(token)).expect(204);
    expectError(await me(token), 401);
  });

  it('an admin setting their own password is not asked to change it again', async () => {
    const admin = await makeUser(h, ['admin']);
    await h.http.patch(`/api/users/${admin.user.id}`).set(admin.auth).send({ password: 'my own new admin password' }).expect(200);
    expect((await login(admin.user.username, 'my own new admin password').expect(200)).body.passwordChangeRequired).toBe(false);
  });

  it('two brokers starting together on an empty database create one admin, and neither fails', async () => {
    const db = await createTestDatabase();
    const fresh = await startHarness({ databaseUrl: db.url });
    try {
      const results = await Promise.all(Array.from({ length: 4 }, () => ensureFirstAdmin(fresh.deps, 'same for all')));
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      const { rows } = await fresh.pool.query("SELECT count(*)::int AS n FROM users WHERE username = 'admin'");
      expect(rows[0].n).toBe(1);
      const created = await fresh.pool.query("SELECT count(*)::int AS n FROM audit_events WHERE action = 'user.created'");
      expect(created.rows[0].n).toBe(1);
    } finally {
      await fresh.close();
      await db.drop();
    }
  });

  it('the generated first-admin password must be changed; ADMIN_PASSWORD need not be', async () => {
    const db = await createTestDatabase();
    const fresh = await startHarness({ databaseUrl: db.url });
    try {
      const generated = await ensureFirstAdmin(fresh.deps);
      expect(generated?.password).toBeTruthy();
      const first = await fresh.http.post('/api/auth/login').send({ username: 'admin', password: generated!.password }).expect(200);
      expect(first.body.passwordChangeRequired).toBe(true);
      expectError(await fresh.http.get('/api/users').set(bearer(first.body.token)), 403);

      await fresh.pool.query('DELETE FROM users');
      await ensureFirstAdmin(fresh.deps, 'operator chose this one');
      const chosen = await fresh.http.post('/api/auth/login').send({ username: 'admin', password: 'operator chose this one' }).expect(200);
      expect(chosen.body.passwordChangeRequired).toBe(false);
      await fresh.http.get('/api/users').set(bearer(chosen.body.token)).expect(200);
    } finally {
      await fresh.close();
      await db.drop();
    }
  });
});
