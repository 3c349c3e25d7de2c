import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialAad } from '../../server/core/devices.js';
import { createTestDatabase } from '../support/databases.js';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';
import {
  countRows, createDevice, createVendor, deployedDevice, deviceBody, expectError, newHostKey, sshKeygenPair, type Auth,
} from '../support/fixtures.js';

// its own database: "nothing written" is proven by counting rows, which other files would disturb
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let h: Harness;
let admin: Auth;
beforeAll(async () => {
  db = await createTestDatabase();
  h = await startHarness({ databaseUrl: db.url });
  admin = (await makeUser(h, ['admin'])).auth;
});
afterAll(async () => {
  await h?.close();
  await db?.drop();
});

const move = (id: string, state: string) => h.http.post(`/api/devices/${id}/lifecycle`).set(admin).send({ state, reason: `to ${state}` });
const stateOf = async (id: string) => (await h.pool.query('SELECT lifecycle_state FROM devices WHERE id = $1', [id])).rows[0].lifecycle_state;
const auditCount = async () => (await countRows(h.pool, ['audit_events'])).audit_events;

describe('lifecycle over the API', () => {
  it('staged → deployed needs a pinned host key and a vaulted credential (409 otherwise)', async () => {
    const bare = await createDevice(h, admin);
    const before = await auditCount();
    expectError(await move(bare.id, 'deployed'), 409, 'conflict');
    await h.http.patch(`/api/devices/${bare.id}`).set(admin).send({ hostKey: newHostKey() }).expect(200);
    expectError(await move(bare.id, 'deployed'), 409, 'conflict');
    expect(await stateOf(bare.id)).toBe('staged');

    const noKey = await createDevice(h, admin, { credential: { username: 'svc', password: 'pw-123456' } });
    expectError(await move(noKey.id, 'deployed'), 409, 'conflict');
    expect(await stateOf(noKey.id)).toBe('staged');

    await h.http.patch(`/api/devices/${bare.id}`).set(admin).send({ credential: { username: 'svc', password: 'pw-123456' } }).expect(200);
    const ok = await move(bare.id, 'deployed').expect(200);
    expect(ok.body.lifecycleState).toBe('deployed');
    const { rows } = await h.pool.query(
      `SELECT action, details FROM audit_events WHERE subject_id = $1 AND seq > $2 AND action = 'device.lifecycle_changed'`, [bare.id, before]);
    expect(rows).toEqual([{ action: 'device.lifecycle_changed', details: { name: bare.name, from: 'staged', to: 'deployed', reason: 'to deployed' } }]);
  });

  it('deployed → staged is 409; suspended ⇄ deployed works', async () => {
    const d = await deployedDevice(h, admin);
    for (const to of ['staged', 'deployed']) expectError(await move(d.id, to), 409, 'conflict');
    expect((await move(d.id, 'suspended').expect(200)).body.lifecycleState).toBe('suspended');
    expectError(await move(d.id, 'suspended'), 409);
    expectError(await move(d.id, 'staged'), 409);
    expect((await move(d.id, 'deployed').expect(200)).body.lifecycleState).toBe('deployed');
  });

  it('a suspended device that lost its host key cannot come back until it is pinned again', async () => {
    const d = await deployedDevice(h, admin);
    // refused (400 today; 409 would match "conflict with state" as well) and the key stays pinned
    const refused = await h.http.patch(`/api/devices/${d.id}`).set(admin).send({ hostKey: null });
    expect([400, 409]).toContain(refused.status);
    expect((await h.http.get(`/api/devices/${d.id}`).set(admin).expect(200)).body.hostKey).toBe(d.hostKey);
    await move(d.id, 'suspended').expect(200);
    await h.http.patch(`/api/devices/${d.id}`).set(admin).send({ hostKey: null }).expect(200);
    expectError(await move(d.id, 'deployed'), 409, 'conflict');
    await h.http.patch(`/api/devices/${d.id}`).set(admin).send({ hostKey: newHostKey() }).expect(200);
    await move(d.id, 'deployed').expect(200);
  });

  it('retire destroys the vaulted credential; the record stays readable; nothing leaves retired', async () => {
    const d = await deployedDevice(h, admin);
    const retired = await move(d.id, 'retired').expect(200);
    expect(retired.body).toMatchObject({ lifecycleState: 'retired', hasCredential: false });
    expect(retired.body.retiredAt).not.toBeNull();
    const { rows } = await h.pool.query('SELECT 1 FROM device_credentials WHERE device_id = $1', [d.id]);
    expect(rows).toHaveLength(0);

    const read = await h.http.get(`/api/devices/${d.id}`).set(admin).expect(200);
    expect(read.body).toMatchObject({ id: d.id, name: d.name, lifecycleState: 'retired', hasCredential: false });

    const n = await auditCount();
    for (const to of ['staged', 'deployed', 'suspended', 'retired']) expectError(await move(d.id, to), 409, 'conflict');
    expectError(await h.http.patch(`/api/devices/${d.id}`).set(admin).send({ model: 'revived' }), 409, 'conflict');
    expectError(await h.http.patch(`/api/devices/${d.id}`).set(admin).send({ credential: { username: 'x', password: 'y' } }), 409);
    expect(await auditCount()).toBe(n);
    expect((await h.pool.query('SELECT 1 FROM device_credentials WHERE device_id = $1', [d.id])).rows).toHaveLength(0);

    const actions = (await h.pool.query('SELECT action FROM audit_events WHERE subject_id = $1 ORDER BY seq', [d.id])).rows.map((r) => r.action);
    expect(actions.slice(-2)).toEqual(['device.retired', 'device.credential_destroyed']);
  });

  it('a staged device can be retired straight away', async () => {
    const d = await createDevice(h, admin);
    expect((await move(d.id, 'retired').expect(200)).body.lifecycleState).toBe('retired');
  });

  it('unknown device → 404; malformed id → 400; bad state or missing reason → 400', async () => {
    expectError(await move('00000000-0000-4000-8000-000000000000', 'deployed'), 404, 'not_found');
    expectError(await move('not-a-uuid', 'deployed'), 400, 'invalid');
    const d = await createDevice(h, admin);
    expect(expectError(await move(d.id, 'exploded'), 400).message).toMatch(/state/);
    expect(expectError(await h.http.post(`/api/devices/${d.id}/lifecycle`).set(admin).send({ state: 'retired' }), 400).message).toMatch(/reason/);
    expect(await stateOf(d.id)).toBe('staged');
  });
});

describe('bad input writes nothing', () => {
  const TABLES = ['devices', 'vendors', 'users', 'audit_events', 'device_credentials', 'vendor_devices'];
  const missingVendor = '00000000-0000-4000-8000-00000000abcd';

  const cases: [string, string, string, () => Record<string, unknown>, RegExp][] = [
    ['device without name', 'post', '/api/devices', () => { const b = deviceBody(); delete b.name; return b; }, /name/],
    ['device with a bad name', 'post', '/api/devices', () => deviceBody({ name: 'Bad Name!' }), /name/],
    ['device with unknown criticality', 'post', '/api/devices', () => deviceBody({ criticality: 'extreme' }), /criticality/],
    ['device with a bad address', 'post', '/api/devices', () => deviceBody({ address: 'http://x/y z' }), /address/],
    ['device with sshPort 70000', 'post', '/api/devices', () => deviceBody({ sshPort: 70000 }), /sshPort/],
    ['device with an unreadable host key', 'post', '/api/devices', () => deviceBody({ hostKey: 'ssh-ed25519 AAAAnotakey' }), /hostKey/],
    ['device with an empty credential', 'post', '/api/devices', () => deviceBody({ credential: { username: 'svc' } }), /credential/],
    ['device with a non-key privateKey', 'post', '/api/devices', () => deviceBody({ credential: { username: 'svc', privateKey: 'nope' } }), /credential|privateKey/],
    ['device with a malformed vendor id', 'post', '/api/devices', () => deviceBody({ vendorIds: ['nope'] }), /vendorIds/],
    ['device with a missing vendor', 'post', '/api/devices', () => deviceBody({ vendorIds: [missingVendor], credential: { username: 'svc', password: 'p' } }), /vendorIds/],
    ['device with 3 approvals', 'post', '/api/devices', () => deviceBody({ policy: { approvalsRequired: 3 } }), /approvalsRequired/],
    ['device with a bad time zone', 'post', '/api/devices', () => deviceBody({ policy: { maintenanceWindow: { days: [1], start: '08:00', end: '17:00', timezone: 'Mars/Base' } } }), /timezone/],
    ['device with an unknown field', 'post', '/api/devices', () => deviceBody({ color: 'red' }), /color|unrecognized|unknown/i],
    ['device with an unknown policy field', 'post', '/api/devices', () => deviceBody({ policy: { allowEverything: true } }), /allowEverything|unrecognized/i],
    ['device with an unknown credential field', 'post', '/api/devices', () => deviceBody({ credential: { username: 'svc', password: 'p', sudo: true } }), /credential/],
    ['vendor without a name', 'post', '/api/vendors', () => ({ contractRef: 'C', contractEnd: '2099-01-01' }), /name/],
    ['vendor with an impossible date', 'post', '/api/vendors', () => ({ name: unique('V'), contractRef: 'C', contractEnd: '2099-13-45' }), /contractEnd/],
    ['vendor with 30 February', 'post', '/api/vendors', () => ({ name: unique('V'), contractRef: 'C', contractEnd: '2099-02-30' }), /contractEnd/],
    ['vendor with an unknown field', 'post', '/api/vendors', () => ({ name: unique('V'), contractRef: 'C', contractEnd: '2099-01-01', tier: 'gold' }), /tier|unrecognized/i],
    ['user with a short password', 'post', '/api/users', () => ({ username: unique('u').toLowerCase(), displayName: 'U', roles: ['auditor'], password: 'short' }), /password/],
    ['user with a bad role', 'post', '/api/users', () => ({ username: unique('u').toLowerCase(), displayName: 'U', roles: ['root'], password: 'long enough password' }), /roles/],
    ['technician without vendor', 'post', '/api/users', () => ({ username: unique('u').toLowerCase(), displayName: 'U', roles: ['technician'], password: 'long enough password' }), /vendor/],
    ['technician with a missing vendor', 'post', '/api/users', () => ({ username: unique('u').toLowerCase(), displayName: 'U', roles: ['technician'], vendorId: missingVendor, password: 'long enough password' }), /vendorId/],
    ['approver without department', 'post', '/api/users', () => ({ username: unique('u').toLowerCase(), displayName: 'U', roles: ['approver'], password: 'long enough password' }), /department/],
    ['user with an unknown field', 'post', '/api/users', () => ({ username: unique('u').toLowerCase(), displayName: 'U', roles: ['auditor'], password: 'long enough password', isRoot: true }), /isRoot|unrecognized/i],
  ];

  it.each(cases)('%s → 400 naming the field', async (_name, method, path, body, field) => {
    const before = await countRows(h.pool, TABLES);
    const res = await (h.http as unknown as Record<string, (p: string) => import('supertest').Test>)[method]!(path).set(admin).send(body());
    const err = expectError(res, 400, 'invalid');
    expect(err.message).toMatch(field);
    expect(await countRows(h.pool, TABLES)).toEqual(before);
  });

  it('PATCH with bad or unknown fields → 400 and the device is unchanged', async () => {
    const d = await createDevice(h, admin);
    const before = await countRows(h.pool, TABLES);
    for (const [body, field] of [
      [{}, /nothing to change/], [{ name: 'renamed' }, /name|unrecognized/i], [{ sshPort: 0 }, /sshPort/],
      [{ policy: { maxSessionMinutes: 0 } }, /maxSessionMinutes/], [{ criticality: 'meh' }, /criticality/],
    ] as const) {
      const err = expectError(await h.http.patch(`/api/devices/${d.id}`).set(admin).send(body), 400, 'invalid');
      expect(err.message).toMatch(field);
    }
    expect(await countRows(h.pool, TABLES)).toEqual(before);
    const now = await h.http.get(`/api/devices/${d.id}`).set(admin).expect(200);
    expect(now.body).toEqual(d);
  });

  it('a duplicate device name → 409 (names are case-insensitive) and nothing written', async () => {
    const d = await createDevice(h, admin);
    const before = await countRows(h.pool, TABLES);
    expectError(await h.http.post('/api/devices').set(admin).send(deviceBody({ name: d.name })), 409, 'conflict');
    expectError(await h.http.post('/api/devices').set(admin).send(deviceBody({ name: d.name.toUpperCase(), credential: { username: 'u', password: 'p' } })), 409);
    expect(await countRows(h.pool, TABLES)).toEqual(before);
  });

  it('a duplicate vendor name → 409', async () => {
    const v = await createVendor(h, admin);
    expectError(await h.http.post('/api/vendors').set(admin).send({ name: v.name.toUpperCase(), contractRef: 'x', contractEnd: '2099-01-01' }), 409, 'conflict');
  });
});

describe('device policy defaults', () => {
  it.each([['critical', 2], ['high', 1], ['medium', 1], ['low', 1]])('%s devices need %i approval(s) by default', async (criticality, n) => {
    const d = await createDevice(h, admin, { criticality });
    expect(d.policy).toMatchObject({ approvalsRequired: n, approverDepartment: d.department, allowExec: true, allowPortForwarding: false, allowSftp: false });
  });

  it('an explicit policy wins over the defaults', async () => {
    const d = await createDevice(h, admin, { criticality: 'critical', policy: { approverDepartment: 'biomed', allowSftp: true } });
    expect(d.policy).toMatchObject({ approvalsRequired: 2, approverDepartment: 'biomed', allowSftp: true });
  });
});

describe('device credentials stay secret', () => {
  it('never appear in responses, logs or audit details; the database holds only ciphertext', async () => {
    const vendor = await createVendor(h, admin);
    const key = sshKeygenPair();
    const password = `Pw-${unique('s3cret')}`;
    const password2 = `Pw-${unique('r0tated')}`;
    const keyLines = key.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    const secrets = [password, password2, ...keyLines];
    const leaks = (text: string) => secrets.filter((s) => text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1)));

    const responses: unknown[] = [];
    const a = await h.http.post('/api/devices').set(admin)
      .send(deviceBody({ vendorIds: [vendor.id], hostKey: newHostKey(), credential: { username: 'service', privateKey: key.privateKey } })).expect(201);
    const b = await h.http.post('/api/devices').set(admin)
      .send(deviceBody({ vendorIds: [vendor.id], hostKey: newHostKey(), credential: { username: 'service', password } })).expect(201);
    responses.push(a.body, b.body);
    expect(a.body.hasCredential).toBe(true);
    responses.push((await h.http.patch(`/api/devices/${b.body.id}`).set(admin).send({ credential: { username: 'service', password: password2 } }).expect(200)).body);
    responses.push((await h.http.get(`/api/devices/${a.body.id}`).set(admin).expect(200)).body);
    responses.push((await h.http.get('/api/devices').set(admin).expect(200)).body);
    responses.push((await move(a.body.id, 'deployed').expect(200)).body);
    const tech = await makeUser(h, ['technician'], { vendorId: vendor.id });
    responses.push((await h.http.get('/api/devices').set(tech.auth).expect(200)).body);
    responses.push((await h.http.get('/api/audit').query({ subjectId: a.body.id }).set(admin).expect(200)).body);
    responses.push((await h.http.get('/api/audit').query({ subjectId: b.body.id }).set(admin).expect(200)).body);

    expect(leaks(JSON.stringify(responses))).toEqual([]);
    expect(leaks(h.logLines.join('\n'))).toEqual([]);
    const audit = await h.pool.query('SELECT details::text AS d FROM audit_events WHERE subject_id = ANY ($1)', [[a.body.id, b.body.id]]);
    expect(audit.rows.length).toBeGreaterThanOrEqual(5);
    expect(leaks(audit.rows.map((r) => r.d).join('\n'))).toEqual([]);
    const rotated = await h.pool.query(`SELECT 1 FROM audit_events WHERE subject_id = $1 AND action = 'device.credential_rotated'`, [b.body.id]);
    expect(rotated.rows).toHaveLength(1);

    // only ciphertext in the table, and it opens back to the secret with the vault key
    const rows = (await h.pool.query('SELECT * FROM device_credentials WHERE device_id = ANY ($1)', [[a.body.id, b.body.id]])).rows;
    expect(rows).toHaveLength(2);
    const dump = Buffer.concat(rows.flatMap((r) => [r.nonce, r.ciphertext, r.auth_tag]));
    for (const s of [password, password2, key.privateKey, ...keyLines]) expect(dump.includes(Buffer.from(s))).toBe(false);
    const rowA = rows.find((r) => r.device_id === a.body.id)!;
    const rowB = rows.find((r) => r.device_id === b.body.id)!;
    const sealed = (r: typeof rowA) => ({ nonce: r.nonce, ciphertext: r.ciphertext, authTag: r.auth_tag });
    expect(rowA.kind).toBe('private_key');
    expect(h.deps.vault.open(sealed(rowA), credentialAad(a.body.id, 'service'))).toBe(key.privateKey);
    expect(h.deps.vault.open(sealed(rowB), credentialAad(b.body.id, 'service'))).toBe(password2);
  });

  it('a sealed credential copied onto another device does not open there', async () => {
    const a = await createDevice(h, admin, { credential: { username: 'service', password: `A-${unique('pw')}` } });
    const b = await createDevice(h, admin, { credential: { username: 'service', password: `B-${unique('pw')}` } });
    await h.pool.query(
      `UPDATE device_credentials AS t SET nonce = s.nonce, ciphertext = s.ciphertext, auth_tag = s.auth_tag, username = s.username
         FROM device_credentials s WHERE s.device_id = $1 AND t.device_id = $2`, [a.id, b.id]);
    const copied = await h.deps.store.read.credentials.get(b.id);
    expect(copied).not.toBeNull();
    expect(() => h.deps.vault.open(copied!.sealed, credentialAad(b.id, copied!.username))).toThrow();
    // the same bytes still open for their real owner: the refusal is the binding, not corruption
    expect(h.deps.vault.open(copied!.sealed, credentialAad(a.id, copied!.username))).toMatch(/^A-/);
  });
});
