/**
 * The device connection test (§8.8) against a real OpenSSH sshd: `staged → deployed` tests first and
 * refuses with the reason (the device stays staged); `POST /api/devices/:id/test` runs the same test
 * on demand; the last result is kept on the device (not shown to technicians) and audited.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDeviceTester } from '../../proxy/device-tester.js';
import { freePort, startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';
import { createDevice, createVendor, expectError, newHostKey, sshKeygenPair, type Auth } from '../support/fixtures.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let sshd: DeviceSshd;
let admin: Auth;
beforeAll(async () => {
  [h, sshd] = await Promise.all([startHarness(), startDeviceSshd()]);
  admin = (await makeUser(h, ['admin'])).auth;
});
afterAll(async () => {
  await h?.close();
  await sshd?.stop();
});
beforeEach(() => {
  h.deviceTester.reset();
  h.deviceTester.real = createDeviceTester({ connectTimeoutMs: 5000 });
});

/** A staged device on the test sshd; override what should be wrong. */
const stagedDevice = (overrides: Record<string, unknown> = {}) =>
  createDevice(h, admin, { address: '127.0.0.1', sshPort: sshd.port, hostKey: sshd.hostKey, credential: sshd.credential, ...overrides });
const deploy = (id: string) => h.http.post(`/api/devices/${id}/lifecycle`).set(admin).send({ state: 'deployed', reason: 'commissioned' });
const readDevice = async (id: string) => (await h.http.get(`/api/devices/${id}`).set(admin).expect(200)).body;
const testedEvents = async (id: string) =>
  (await h.pool.query(`SELECT details FROM audit_events WHERE subject_id = $1 AND action = 'device.tested' ORDER BY seq`, [id])).rows.map((r) => r.details);

describe('the connection test before deployment', () => {
  it('a device whose pin, credential and shell are right is tested and deployed', async () => {
    const d = await stagedDevice();
    const res = await deploy(d.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ lifecycleState: 'deployed', lastTest: { ok: true, reason: null } });
    expect(Math.abs(Date.parse(res.body.lastTest.at) - h.clock.now().getTime())).toBeLessThan(1000);
    expect(await testedEvents(d.id)).toEqual([expect.objectContaining({ name: d.name, ok: true, reason: null })]);
  });

  it('a wrong host key pin: 409 "host key mismatch", the device stays staged, the result is kept', async () => {
    const d = await stagedDevice({ hostKey: newHostKey() });
    const err = expectError(await deploy(d.id), 409, 'conflict');
    expect(err.message).toMatch(/^the device failed its connection test: host key mismatch: the device presented SHA256:\S+, the pinned key is SHA256:\S+$/);
    const after = await readDevice(d.id);
    expect(after.lifecycleState).toBe('staged');
    expect(after.lastTest).toMatchObject({ ok: false, reason: expect.stringMatching(/^host key mismatch/) });
    expect(await testedEvents(d.id)).toEqual([expect.objectContaining({ ok: false, reason: after.lastTest.reason })]);
    expect((await h.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE subject_id = $1 AND action = 'device.lifecycle_changed'`, [d.id])).rows[0].n).toBe(0);
  });

  it('a credential the device refuses: 409 with the reason, the device stays staged', async () => {
    const d = await stagedDevice({ credential: { username: sshd.credential.username, privateKey: sshKeygenPair().privateKey } });
    const err = expectError(await deploy(d.id), 409);
    expect(err.message).toContain(`the device refused the credential of "${sshd.credential.username}"`);
    expect((await readDevice(d.id)).lifecycleState).toBe('staged');
  });

  it('nothing listening at the address: 409 "connection refused"', async () => {
    const d = await stagedDevice({ sshPort: await freePort() });
    expect(expectError(await deploy(d.id), 409).message).toMatch(/connection refused at 127\.0\.0\.1:\d+$/);
  });

  it('resuming a suspended device does not test it again', async () => {
    const d = await stagedDevice();
    await deploy(d.id).expect(200);
    await h.http.post(`/api/devices/${d.id}/lifecycle`).set(admin).send({ state: 'suspended', reason: 'network work' }).expect(200);
    h.deviceTester.real = null;
    h.deviceTester.outcome = { ok: false, reason: 'would refuse' };
    await deploy(d.id).expect(200);
    expect(await testedEvents(d.id)).toHaveLength(1);
  });
});

describe('POST /api/devices/:id/test', () => {
  it('runs the same test on demand and keeps the last result; the device\'s state does not change', async () => {
    const d = await stagedDevice();
    const ok = await h.http.post(`/api/devices/${d.id}/test`).set(admin).expect(200);
    expect(ok.body).toMatchObject({ ok: true, reason: null });
    // the pin changes (a wrong one): the next test says so
    await h.http.patch(`/api/devices/${d.id}`).set(admin).send({ hostKey: newHostKey() }).expect(200);
    const bad = await h.http.post(`/api/devices/${d.id}/test`).set(admin).expect(200);
    expect(bad.body).toMatchObject({ ok: false, reason: expect.stringMatching(/^host key mismatch/) });
    const after = await readDevice(d.id);
    expect(after).toMatchObject({ lifecycleState: 'staged', lastTest: { ok: false, reason: bad.body.reason, at: bad.body.at } });
    expect((await testedEvents(d.id)).map((e) => e.ok)).toEqual([true, false]);
  });

  it('is for admins; technicians never see the last result (it names the address)', async () => {
    const vendor = await createVendor(h, admin);
    const d = await stagedDevice({ vendorIds: [vendor.id] });
    await h.http.post(`/api/devices/${d.id}/test`).set(admin).expect(200);
    const approver = await makeUser(h, ['approver'], { department: d.department });
    expectError(await h.http.post(`/api/devices/${d.id}/test`).set(approver.auth), 403);
    const tech = await makeUser(h, ['technician'], { vendorId: vendor.id });
    await deploy(d.id).expect(200);
    const seen = await h.http.get(`/api/devices/${d.id}`).set(tech.auth).expect(200);
    expect(seen.body).not.toHaveProperty('lastTest');
    expect(seen.body).not.toHaveProperty('address');
  });

  it('a device without a credential fails without a connection attempt', async () => {
    const d = await createDevice(h, admin, { address: '127.0.0.1', sshPort: sshd.port, hostKey: sshd.hostKey });
    const res = await h.http.post(`/api/devices/${d.id}/test`).set(admin).expect(200);
    expect(res.body).toMatchObject({ ok: false, reason: 'no vaulted credential' });
    expect(h.deviceTester.tested).not.toContain(d.name);
  });
});
