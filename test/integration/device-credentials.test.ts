/**
 * Device credential kinds through the API (§8.4): the device CA is for admins only and is its own key;
 * `key` devices get a generated key whose public half is returned and whose secret never is;
 * `certificate` devices store nothing secret; the credentials report lists static, overdue and flagged
 * credentials; a grant's end and the max-age sweep schedule rotations of `key` devices only.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rotateDeviceCredential } from '../../server/core/credential-rotation.js';
import { openDeviceLogin } from '../../server/core/device-credentials.js';
import { createVault } from '../../server/crypto/vault.js';
import { scheduleDueRotations } from '../../server/core/credential-report.js';
import { jobId } from '../../server/core/workflow-ports.js';
import { publicKeyToSshLine } from '../../server/crypto/ssh-cert.js';
import { jobsFor } from '../../server/notify/slack-notifier.js';
import { createDevice, createVendor } from '../support/fixtures.js';
import { as, hostKey, isolatedHarness, person, world, grantFor } from '../support/workflow-fixtures.js';

const env = isolatedHarness();
const DAY = 86_400_000;

describe('device credentials', () => {
  it('GET /api/device-ca: the device CA, separate from the user and host CAs, for admins only', async () => {
    const { h } = env;
    const admin = await person(h, ['admin']);
    const res = await as(h, admin).get('/api/device-ca');
    expect(res.status).toBe(200);
    expect(res.body.publicKey).toBe(publicKeyToSshLine(h.keys.sshDeviceCa, 'portcullis-device-ca'));
    expect(res.body.publicKey.split(' ')[1]).not.toBe(publicKeyToSshLine(h.keys.sshUserCa).split(' ')[1]);
    expect(res.body.publicKey.split(' ')[1]).not.toBe(publicKeyToSshLine(h.keys.sshHostCa).split(' ')[1]);
    expect(res.body.sshdConfig).toBe('TrustedUserCAKeys /etc/ssh/portcullis_device_ca.pub');
    const vendor = await createVendor(h, await admin.auth());
    for (const other of [
      await person(h, ['technician'], { vendorId: vendor.id }), await person(h, ['approver'], { department: 'x' }), await person(h, ['auditor']),
    ]) {
      expect((await as(h, other).get('/api/device-ca')).status).toBe(403);
    }
  });

  it('a key device gets a generated key: the public half to install, the secret only in the vault', async () => {
    const { h } = env;
    const admin = await person(h, ['admin']);
    const d = await createDevice(h, await admin.auth(), { hostKey: hostKey(), credential: { kind: 'key', username: 'service' } });
    const body = d as unknown as Record<string, unknown>;
    expect(body.credentialKind).toBe('key');
    expect(body.credentialPublicKey).toMatch(new RegExp(`^ssh-ed25519 AAAA\\S+ portcullis-${d.name}-\\d{4}-\\d\\d-\\d\\d$`));
    expect(body.credentialIssuedAt).toEqual(expect.any(String));
    expect(JSON.stringify(body)).not.toMatch(/PRIVATE KEY/);
    const stored = await h.deps.store.read.credentials.get(d.id);
    expect(stored?.kind).toBe('key');

    const cert = await createDevice(h, await admin.auth(), { credential: { kind: 'certificate', username: 'service' } });
    expect((cert as unknown as Record<string, unknown>).credentialKind).toBe('certificate');
    expect(cert.hasCredential).toBe(true);
    expect(await h.deps.store.read.credentials.get(cert.id)).toBeNull();

    const bad = await as(h, admin).post('/api/devices', { name: 'x-bad', credential: { kind: 'token', username: 'service' } });
    expect(bad.status).toBe(400);
  });

  // Regression: a broker starting beside another on the same database (the test suite's brokers) swept
  // the other's device with a rotation pending into its own queue; its worker sealed a next secret with
  // its own vault key, stored it as the pending one and only then failed to open the current one — the
  // device's owner could no longer open the pending secret (POST /api/devices/:id/test → 500)
  it('a worker that cannot open the current credential writes no pending one', async () => {
    const { h } = env;
    const admin = await person(h, ['admin']);
    const d = await createDevice(h, await admin.auth(), { hostKey: hostKey(), credential: { kind: 'key', username: 'service' } });
    const strangerVault = createVault(randomBytes(32));
    await expect(rotateDeviceCredential({ ...h.deps, vault: strangerVault }, d.id)).rejects.toThrow(/authenticate/);
    const record = await h.deps.store.read.credentials.record(d.id);
    expect(record?.pending).toBeNull();
    expect(await openDeviceLogin(h.deps, d.id)).toMatchObject({ username: 'service', kind: 'private_key' });
  });

  it('the report lists static, overdue and flagged credentials, never certificate devices; admins and auditors only', async () => {
    const { h } = env;
    const admin = await person(h, ['admin']);
    const auditor = await person(h, ['auditor']);
    const auth = await admin.auth();
    const pw = await createDevice(h, auth, { credential: { username: 'service', password: 'static-secret' } });
    const fresh = await createDevice(h, auth, { credential: { kind: 'key', username: 'service' } });
    const old = await createDevice(h, auth, { credential: { kind: 'key', username: 'service' } });
    const cert = await createDevice(h, auth, { credential: { kind: 'certificate', username: 'service' } });
    await h.pool.query('UPDATE device_credentials SET issued_at = $2 WHERE device_id = $1', [old.id, new Date(h.clock.now().getTime() - 31 * DAY)]);

    const res = await as(h, auditor).get('/api/reports/credentials');
    expect(res.status).toBe(200);
    const concern = (id: string) => res.body.items.find((i: { deviceId: string }) => i.deviceId === id)?.concern;
    expect(concern(pw.id)).toBe('static');
    expect(concern(old.id)).toBe('overdue');
    expect(concern(fresh.id)).toBeUndefined();
    expect(concern(cert.id)).toBeUndefined();
    expect(res.body.maxAgeDays).toBe(30);
    const tech = await person(h, ['technician'], { vendorId: (await createVendor(h, auth)).id });
    expect((await as(h, tech).get('/api/reports/credentials')).status).toBe(403);

    // the sweep schedules the overdue key only; a second sweep adds nothing
    await scheduleDueRotations(h.deps);
    expect(h.scheduler.jobs.has(jobId({ kind: 'credential.rotate', deviceId: old.id }))).toBe(true);
    expect(h.scheduler.jobs.has(jobId({ kind: 'credential.rotate', deviceId: fresh.id }))).toBe(false);
    expect(h.scheduler.jobs.has(jobId({ kind: 'credential.rotate', deviceId: pw.id }))).toBe(false);
  });

  it('the end of a grant schedules a rotation of a key device, not of a password device', async () => {
    const { h } = env;
    for (const [credential, expected] of [[{ kind: 'key', username: 'service' }, true], [{ username: 'service', password: 'pw-static' }, false]] as const) {
      const w = await world(h, { approvers: 1, device: { credential } });
      const grant = await grantFor(h, w);
      const revoked = await as(h, w.approvers[0]!).post(`/api/grants/${grant.id}/revoke`, { reason: 'done' });
      expect(revoked.status).toBe(200);
      expect(h.scheduler.jobs.has(jobId({ kind: 'credential.rotate', deviceId: w.device.id }))).toBe(expected);
    }
  });

  it('a failed rotation is told to each eligible approver on Slack', () => {
    const jobs = jobsFor({
      type: 'credential.rotation_failed', reason: 'the device refused a login with the new key', attempts: 6, at: '2031-03-03T09:00:00.000Z',
      device: { id: '6a1f4c1e-0000-4000-8000-000000000001', name: 'pump-7', department: 'ICU', approverDepartment: 'ICU' },
      approvers: [{ id: 'a1', displayName: 'Ann', slackUserId: 'U123ABC' }, { id: 'a2', displayName: 'Bob', slackUserId: null }],
    });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.job).toMatchObject({ kind: 'tell', slackUserId: 'U123ABC', text: expect.stringContaining('pump-7') });
  });
});
