import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';
import { createDevice, createVendor, deployedDevice, deviceBody, expectError, newHostKey, type Auth } from '../support/fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const ids = (res: { body: { items: { id: string }[] } }) => res.body.items.map((i) => i.id);

describe('admin', () => {
  it('creates, lists and patches users', async () => {
    const admin = await makeUser(h, ['admin']);
    const vendor = await createVendor(h, admin.auth);
    const username = unique('tech').toLowerCase();
    const created = await h.http.post('/api/users').set(admin.auth)
      .send({ username, displayName: 'Tina Tech', roles: ['technician'], vendorId: vendor.id, password: 'correct horse battery' })
      .expect(201);
    expect(created.body).toMatchObject({ username, roles: ['technician'], vendorId: vendor.id, disabledAt: null });
    // no password and no hash; only the flag that the admin-chosen password must be replaced
    expect(JSON.stringify(created.body)).not.toMatch(/"password"|passwordHash|scrypt/i);
    expect(created.body.passwordChangeRequired).toBe(true);

    const list = await h.http.get('/api/users').query({ vendorId: vendor.id }).set(admin.auth).expect(200);
    expect(ids(list)).toEqual([created.body.id]);

    const patched = await h.http.patch(`/api/users/${created.body.id}`).set(admin.auth)
      .send({ displayName: 'Tina T.', roles: ['technician', 'auditor'] }).expect(200);
    expect(patched.body).toMatchObject({ displayName: 'Tina T.', roles: ['technician', 'auditor'] });
    const got = await h.http.get(`/api/users/${created.body.id}`).set(admin.auth).expect(200);
    expect(got.body.displayName).toBe('Tina T.');
  });

  it('creates and lists vendors', async () => {
    const admin = await makeUser(h, ['admin']);
    const v = await createVendor(h, admin.auth, { contractEnd: '2031-06-30' });
    const list = await h.http.get('/api/vendors').set(admin.auth).expect(200);
    expect(list.body.items.find((x: { id: string }) => x.id === v.id)).toMatchObject({ name: v.name, contractEnd: '2031-06-30' });
  });

  it('creates, reads, patches devices and moves them through the lifecycle', async () => {
    const admin = await makeUser(h, ['admin']);
    const d = await createDevice(h, admin.auth);
    expect(d.lifecycleState).toBe('staged');
    await h.http.get(`/api/devices/${d.id}`).set(admin.auth).expect(200);
    const list = await h.http.get('/api/devices').query({ department: d.department }).set(admin.auth).expect(200);
    expect(ids(list)).toEqual([d.id]);
    const patched = await h.http.patch(`/api/devices/${d.id}`).set(admin.auth)
      .send({ hostKey: newHostKey(), credential: { username: 'svc', password: 'device-secret-1' } }).expect(200);
    expect(patched.body).toMatchObject({ hasCredential: true });
    for (const state of ['deployed', 'suspended', 'deployed', 'retired']) {
      const r = await h.http.post(`/api/devices/${d.id}/lifecycle`).set(admin.auth).send({ state, reason: 'test' }).expect(200);
      expect(r.body.lifecycleState).toBe(state);
    }
  });

  it('cannot disable themselves (409), nor drop their own admin role', async () => {
    const admin = await makeUser(h, ['admin']);
    expectError(await h.http.patch(`/api/users/${admin.user.id}`).set(admin.auth).send({ disabled: true }), 409, 'conflict');
    expectError(await h.http.patch(`/api/users/${admin.user.id}`).set(admin.auth).send({ roles: ['auditor'] }), 409, 'conflict');
    await h.http.get('/api/me').set(admin.auth).expect(200);
    const { rows } = await h.pool.query('SELECT disabled_at, roles FROM users WHERE id = $1', [admin.user.id]);
    expect(rows[0]).toEqual({ disabled_at: null, roles: ['admin'] });
  });
});

describe('non-admins are refused every admin write (403)', () => {
  let admin: Awaited<ReturnType<typeof makeUser>>;
  let vendorId: string;
  let deviceId: string;
  let someUserId: string;
  const callers: Record<string, () => Promise<Auth>> = {};

  beforeAll(async () => {
    admin = await makeUser(h, ['admin']);
    vendorId = (await createVendor(h, admin.auth)).id;
    deviceId = (await createDevice(h, admin.auth, { vendorIds: [vendorId] })).id;
    someUserId = (await makeUser(h, ['auditor'])).user.id;
    callers.approver = async () => (await makeUser(h, ['approver'], { department: unique('dept') })).auth;
    callers.auditor = async () => (await makeUser(h, ['auditor'])).auth;
    callers.technician = async () => (await makeUser(h, ['technician'], { vendorId })).auth;
  });

  // valid bodies: the refusal must be about the role, not the input
  const writes = (): [string, string, unknown][] => [
    ['post', '/api/users', { username: unique('u').toLowerCase(), displayName: 'X', roles: ['admin'], password: 'long enough password' }],
    ['patch', `/api/users/${someUserId}`, { roles: ['admin'] }],
    ['post', '/api/vendors', { name: unique('V'), contractRef: 'C-1', contractEnd: '2099-01-01' }],
    ['patch', `/api/vendors/${vendorId}`, { contractEnd: '2099-01-02' }],
    ['post', '/api/devices', deviceBody()],
    ['patch', `/api/devices/${deviceId}`, { model: 'Hacked' }],
    ['post', `/api/devices/${deviceId}/lifecycle`, { state: 'retired', reason: 'x' }],
  ];

  for (const role of ['approver', 'auditor', 'technician']) {
    it(`${role}`, async () => {
      const auth = await callers[role]!();
      for (const [method, path, body] of writes()) {
        const res = await (h.http as unknown as Record<string, (p: string) => import('supertest').Test>)[method]!(path).set(auth).send(body as object);
        expectError(res, 403, 'forbidden');
      }
      for (const path of ['/api/users', `/api/users/${someUserId}`]) expectError(await h.http.get(path).set(auth), 403, 'forbidden');
      // nothing changed
      const d = await h.http.get(`/api/devices/${deviceId}`).set(admin.auth).expect(200);
      expect(d.body).toMatchObject({ lifecycleState: 'staged', model: 'Infusion 3000' });
      const { rows } = await h.pool.query('SELECT roles FROM users WHERE id = $1', [someUserId]);
      expect(rows[0].roles).toEqual(['auditor']);
    });
  }
});

describe('device visibility', () => {
  it('technicians see only devices their vendor services: list and GET by id (404 for others)', async () => {
    const admin = await makeUser(h, ['admin']);
    const mine = await createVendor(h, admin.auth);
    const other = await createVendor(h, admin.auth);
    const dMine = await createDevice(h, admin.auth, { vendorIds: [mine.id] });
    const dShared = await createDevice(h, admin.auth, { vendorIds: [mine.id, other.id] });
    const dOther = await createDevice(h, admin.auth, { vendorIds: [other.id] });
    const dNone = await createDevice(h, admin.auth);
    const tech = await makeUser(h, ['technician'], { vendorId: mine.id });

    const list = await h.http.get('/api/devices').set(tech.auth).expect(200);
    expect(ids(list).sort()).toEqual([dMine.id, dShared.id].sort());
    await h.http.get(`/api/devices/${dMine.id}`).set(tech.auth).expect(200);
    await h.http.get(`/api/devices/${dShared.id}`).set(tech.auth).expect(200);
    for (const d of [dOther, dNone]) {
      const res = await h.http.get(`/api/devices/${d.id}`).set(tech.auth);
      expectError(res, 404, 'not_found');
      expect(JSON.stringify(res.body)).not.toContain(d.name);
    }
    // a technician cannot widen the list by asking for another vendor
    const asked = await h.http.get('/api/devices').query({ vendorId: other.id }).set(tech.auth).expect(200);
    expect(ids(asked)).toEqual([dShared.id]);
  });

  it('approvers see only their department (as owner or as approver department)', async () => {
    const admin = await makeUser(h, ['admin']);
    const dept = unique('cardio');
    const owned = await createDevice(h, admin.auth, { department: dept });
    const approvedFor = await createDevice(h, admin.auth, { policy: { approverDepartment: dept } });
    const foreign = await createDevice(h, admin.auth);
    const approver = await makeUser(h, ['approver'], { department: dept });

    const list = await h.http.get('/api/devices').set(approver.auth).expect(200);
    expect(ids(list).sort()).toEqual([owned.id, approvedFor.id].sort());
    await h.http.get(`/api/devices/${owned.id}`).set(approver.auth).expect(200);
    expectError(await h.http.get(`/api/devices/${foreign.id}`).set(approver.auth), 404, 'not_found');
  });

  it('auditors read every device', async () => {
    const admin = await makeUser(h, ['admin']);
    const d = await deployedDevice(h, admin.auth);
    const auditor = await makeUser(h, ['auditor']);
    await h.http.get(`/api/devices/${d.id}`).set(auditor.auth).expect(200);
    const list = await h.http.get('/api/devices').query({ department: d.department }).set(auditor.auth).expect(200);
    expect(ids(list)).toEqual([d.id]);
  });
});

describe('audit log access', () => {
  it('auditors and admins read /api/audit and /api/audit/verify', async () => {
    for (const roles of [['auditor'], ['admin']] as const) {
      const u = await makeUser(h, [...roles]);
      const page = await h.http.get('/api/audit').query({ limit: 5 }).set(u.auth).expect(200);
      expect(Array.isArray(page.body.items)).toBe(true);
      const v = await h.http.get('/api/audit/verify').set(u.auth).expect(200);
      expect(typeof v.body.ok).toBe('boolean');
      expect(typeof v.body.count).toBe('number');
    }
  });

  it('technicians and approvers get 403', async () => {
    const admin = await makeUser(h, ['admin']);
    const vendor = await createVendor(h, admin.auth);
    const tech = await makeUser(h, ['technician'], { vendorId: vendor.id });
    const approver = await makeUser(h, ['approver'], { department: unique('dept') });
    for (const u of [tech, approver]) {
      expectError(await h.http.get('/api/audit').set(u.auth), 403, 'forbidden');
      expectError(await h.http.get('/api/audit/verify').set(u.auth), 403, 'forbidden');
    }
  });
});

describe('unauthenticated callers', () => {
  it.each([
    ['get', '/api/me'], ['get', '/api/users'], ['post', '/api/users'], ['get', '/api/vendors'], ['post', '/api/vendors'],
    ['get', '/api/devices'], ['post', '/api/devices'], ['get', '/api/audit'], ['get', '/api/audit/verify'],
  ])('%s %s → 401 with an error envelope', async (method, path) => {
    const res = await (h.http as unknown as Record<string, (p: string) => import('supertest').Test>)[method]!(path).send({});
    expectError(res, 401, 'unauthenticated');
  });

  it('a garbage or malformed bearer token → 401', async () => {
    expectError(await h.http.get('/api/me').set('Authorization', 'Bearer not-a-jwt'), 401, 'unauthenticated');
    expectError(await h.http.get('/api/me').set('Authorization', 'Basic YWRtaW46YWRtaW4='), 401, 'unauthenticated');
  });
});

describe('disabling a user', () => {
  it('refuses their login and ends their existing token; enabling lets them log in again', async () => {
    const admin = await makeUser(h, ['admin']);
    const auditor = await makeUser(h, ['auditor']);
    await h.http.get('/api/me').set(auditor.auth).expect(200);
    await h.http.post('/api/auth/login').send({ username: auditor.user.username, password: auditor.password }).expect(200);

    const res = await h.http.patch(`/api/users/${auditor.user.id}`).set(admin.auth).send({ disabled: true }).expect(200);
    expect(res.body.disabledAt).not.toBeNull();

    expectError(await h.http.get('/api/me').set(auditor.auth), 401, 'unauthenticated');
    const login = await h.http.post('/api/auth/login').send({ username: auditor.user.username, password: auditor.password });
    const err = expectError(login, 401, 'unauthenticated');
    expect(err.message).toBe('invalid username or password');
    expect(login.body.token).toBeUndefined();

    await h.http.patch(`/api/users/${auditor.user.id}`).set(admin.auth).send({ disabled: false }).expect(200);
    // the token ended with the disabling and stays ended; a new login works
    expectError(await h.http.get('/api/me').set(auditor.auth), 401, 'unauthenticated');
    await h.http.post('/api/auth/login').send({ username: auditor.user.username, password: auditor.password }).expect(200);

    const { rows } = await h.pool.query(
      `SELECT action FROM audit_events WHERE subject_id = $1 AND action IN ('user.disabled', 'user.enabled') ORDER BY seq`,
      [auditor.user.id],
    );
    expect(rows.map((r) => r.action)).toEqual(['user.disabled', 'user.enabled']);
  });

  it('a disabled admin loses admin powers at once', async () => {
    const a1 = await makeUser(h, ['admin']);
    const a2 = await makeUser(h, ['admin']);
    await h.http.patch(`/api/users/${a2.user.id}`).set(a1.auth).send({ disabled: true }).expect(200);
    expectError(await h.http.post('/api/vendors').set(a2.auth).send({ name: unique('V'), contractRef: 'c', contractEnd: '2099-01-01' }), 401);
  });
});
