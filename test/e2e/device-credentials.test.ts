/**
 * Device credentials without long-lived secrets (§8.4), against real OpenSSH sshds:
 * - certificate mode: an sshd with `TrustedUserCAKeys` and no authorized_keys; sessions through the
 *   proxy with the real ssh client; the device's own log names the connection; an expired certificate
 *   (and one of another CA) is refused by the device;
 * - rotated-key mode: a rotation after a grant ends (through the real BullMQ worker) leaves only the new
 *   key, the old one refused and the broker still in; a rotation cut short after any step finishes on
 *   the next run; a device that ignores the new key keeps the old one and the approvers are told.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { certificateKey } from '../../proxy/ssh2-cert-auth.js';
import { createDeviceShell } from '../../proxy/device-shell.js';
import type { CoreDeps, DeviceShell } from '../../server/core/ports.js';
import { handleJob } from '../../server/core/reconcile.js';
import { openDeviceCredential } from '../../server/core/sessions.js';
import type { Device, DeviceCredential } from '../../server/core/types.js';
import { createDeviceKeys } from '../../server/crypto/device-keys.js';
import { startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';
import {
  auditWhere, awaitAudit, certify, grantFor, newKey, presentCertificate, runSsh, sshArgs, uniq, useE2E, type DeviceJson, type E2E, type World,
} from '../support/ssh-e2e.js';
import { addUser } from '../support/test-broker.js';

const env = useE2E('single');
const sshds: DeviceSshd[] = [];
afterAll(async () => {
  for (const s of sshds) await s.stop();
});

async function sshd(opts: Parameters<typeof startDeviceSshd>[0]): Promise<DeviceSshd> {
  const s = await startDeviceSshd(opts);
  sshds.push(s);
  return s;
}

interface CredentialDeviceJson extends DeviceJson {
  credentialKind: string | null;
  credentialPublicKey: string | null;
  credentialIssuedAt: string | null;
  credentialRotatedAt: string | null;
  credentialRotationFailure: { at: string; reason: string } | null;
}

/**
 * A world whose device has `credential`; `install` runs between enrolment and deployment (the admin
 * puts the key the broker generated on the device) and returns the device's sshd.
 */
async function enroll(e: E2E, credential: Record<string, unknown>, device: DeviceSshd, install?: (d: CredentialDeviceJson) => Promise<void>): Promise<World> {
  const api = e.broker.api;
  const department = uniq('dept');
  const [admin, auditor] = await Promise.all([addUser(e.broker, ['admin']), addUser(e.broker, ['auditor'])]);
  const vendor = await api.ok('POST', '/api/vendors', admin.token, { name: uniq('Vendor'), contractRef: uniq('C'), contractEnd: '2099-01-01' });
  const created = await api.ok<CredentialDeviceJson>('POST', '/api/devices', admin.token, {
    name: uniq('dev').toLowerCase(), manufacturer: 'Acme Medical', model: 'Infusion 3000', firmwareBaseline: '4.2.1', department,
    clinicalPurpose: 'device credentials e2e', criticality: 'low', address: '127.0.0.1', sshPort: device.port,
    hostKey: device.hostKey, vendorIds: [vendor.id], credential, policy: { approvalsRequired: 1 },
  });
  await install?.(created);
  const deployed = await api.ok<DeviceJson>('POST', `/api/devices/${created.id}/lifecycle`, admin.token, { state: 'deployed', reason: 'e2e' });
  const [tech, approver] = await Promise.all([
    addUser(e.broker, ['technician'], { vendorId: vendor.id }),
    addUser(e.broker, ['approver'], { department: deployed.policy.approverDepartment }),
  ]);
  return { e, admin, auditor, vendor, device: deployed, tech, approver };
}

const deviceOf = (w: World) => w.e.broker.api.ok<CredentialDeviceJson>('GET', `/api/devices/${w.device.id}`, w.admin.token);
const storedDevice = async (w: World) => (await w.e.broker.deps.store.read.devices.byId(w.device.id)) as Device;

describe('certificate mode: a fresh device certificate per connection', () => {
  it('sessions work through the proxy, the device logs the connection, and nothing secret is stored', async () => {
    const { e } = env;
    const admin = await addUser(e.broker, ['admin']);
    const ca = await e.broker.api.ok('GET', '/api/device-ca', admin.token);
    expect(ca.sshdConfig).toBe('TrustedUserCAKeys /etc/ssh/portcullis_device_ca.pub');
    const device = await sshd({ trustedUserCa: ca.publicKey, verbose: true });
    // deploying runs the real connection test: already a certificate login
    const w = await enroll(e, { kind: 'certificate', username: device.username }, device);
    expect(device.log()).toContain(`Accepted certificate ID "device-test:${w.device.id}"`);

    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo', 'through-a-device-certificate']);
    expect(r.stdout, r.stderr).toContain('through-a-device-certificate');
    expect(r.code).toBe(0);

    const [started] = await awaitAudit(e, { action: 'session.started', detail: ['grantId', grant.id] });
    const deviceLogin = started!.details.deviceLogin as string;
    expect(deviceLogin).toMatch(new RegExp(`^portcullis:${grant.id}:[0-9a-f-]{36}$`));
    // the device's own auth log names the connection the session ran over
    expect(device.log()).toContain(`Accepted certificate ID "${deviceLogin}"`);
    const issued = await auditWhere(e, { subjectId: w.device.id, action: 'credential.issued', detail: ['keyId', deviceLogin] });
    expect(issued).toHaveLength(1);
    const validity = Date.parse(issued[0]!.details.validBefore) - Date.parse(issued[0]!.details.validAfter);
    expect(validity).toBeLessThanOrEqual(5.5 * 60_000);

    const { rows } = await e.broker.pool.query('SELECT kind, ciphertext, pending_ciphertext FROM device_credentials WHERE device_id = $1', [w.device.id]);
    expect(rows).toEqual([{ kind: 'certificate', ciphertext: null, pending_ciphertext: null }]);
    expect((await deviceOf(w)).credentialKind).toBe('certificate');
  });

  it('the device refuses an expired certificate and one of another CA; a current one gets in', async () => {
    const { e } = env;
    const caKeys = createDeviceKeys(e.broker.keys.sshDeviceCa);
    const device = await sshd({ trustedUserCa: caKeys.caPublicKeyLine });
    const now = Date.now();
    const issue = (keys: typeof caKeys, validAfter: number, validBefore: number) => keys.issueCertificate({
      username: device.username, keyId: uniq('cert-test'), validAfter: new Date(validAfter), validBefore: new Date(validBefore), extensions: ['permit-pty'],
    });
    const current = issue(caKeys, now - 30_000, now + 5 * 60_000);
    const expired = issue(caKeys, now - 20 * 60_000, now - 10 * 60_000);
    const otherCa = issue(createDeviceKeys(e.broker.keys.sshUserCa), now - 30_000, now + 5 * 60_000);
    expect(await presentCertificate(device.port, device.username, current.certificate, current.privateKey)).toBe('accepted');
    expect(await presentCertificate(device.port, device.username, expired.certificate, expired.privateKey)).toMatch(/authentication methods failed/);
    expect(await presentCertificate(device.port, device.username, otherCa.certificate, otherCa.privateKey)).toMatch(/authentication methods failed/);
    expect(certificateKey(current.privateKey, current.certificate).type).toBe('ssh-ed25519');
  });
});

describe('rotated-key mode: the broker rotates the key it generated', () => {
  const shell = createDeviceShell({ connectTimeoutMs: 5000 });
  const rotate = (deps: CoreDeps, deviceId: string, lastAttempt = false) =>
    handleJob(deps, { kind: 'credential.rotate', deviceId, dueAt: new Date().toISOString() }, { attempt: lastAttempt ? 6 : 1, lastAttempt });

  /** a key device on an sshd of its own user, with the broker's key installed and deployed */
  async function keyDevice(opts: { keysFile?: string } = {}): Promise<{ w: World; device: DeviceSshd; installed: string }> {
    const placeholder = createDeviceKeys(env.e.broker.keys.sshHostCa).newLoginKey('placeholder').publicKeyLine;
    const device = await sshd({ ownUser: { authorizedKey: placeholder, ...opts } });
    let installed = '';
    const w = await enroll(env.e, { kind: 'key', username: device.username }, device, async (d) => {
      expect(d.credentialKind).toBe('key');
      expect(d.credentialPublicKey).toMatch(/^ssh-ed25519 AAAA\S+ portcullis-/);
      installed = d.credentialPublicKey!;
      await device.writeKeys([installed], opts.keysFile);
    });
    return { w, device, installed };
  }

  const loginsWith = async (w: World, login: DeviceCredential) => (await shell.exec(await storedDevice(w), login, 'true')).kind;
  const brokerTest = (w: World) => w.e.broker.api.ok('POST', `/api/devices/${w.device.id}/test`, w.admin.token);

  it('after a grant ends, authorized_keys holds the new key only; the old key is refused, the broker still gets in', async () => {
    const { w, device, installed } = await keyDevice();
    const e = w.e;
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo', 'with-the-rotated-key']);
    expect(r.stdout, r.stderr).toContain('with-the-rotated-key');
    const old = await openDeviceCredential(e.broker.deps, w.device.id);

    // the end of the grant schedules the rotation on the real queue; the broker's worker runs it
    await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'work done' });
    const [rotated] = await awaitAudit(e, { subjectId: w.device.id, action: 'credential.rotated' }, 30_000);
    expect(rotated!.details.previousPublicKey).toBe(installed);

    const after = await deviceOf(w);
    expect(after.credentialPublicKey).not.toBe(installed);
    expect(after.credentialRotatedAt).not.toBeNull();
    expect(await device.readKeys()).toEqual([after.credentialPublicKey]);
    expect(await loginsWith(w, old)).toBe('login_refused');
    expect(await brokerTest(w)).toMatchObject({ ok: true });
  }, 60_000);

  it('a rotation cut short after adding the key, or after removing the old one, finishes on the next run', async () => {
    const { w, device } = await keyDevice();
    const deps = w.e.broker.deps;
    for (const crashAfter of ['printf', 'mv -f']) {
      const old = await openDeviceCredential(deps, w.device.id);
      // the worker dies right after the step's command ran on the device
      const dying: DeviceShell = {
        async exec(d, login, command) {
          const result = await shell.exec(d, login, command);
          if (command.includes(crashAfter)) throw new Error(`worker killed after ${crashAfter}`);
          return result;
        },
      };
      await expect(rotate({ ...deps, deviceShell: dying }, w.device.id)).rejects.toThrow(/worker killed/);
      const pending = (await deps.store.read.credentials.record(w.device.id))!.pending;
      expect(pending).not.toBeNull();
      expect((await device.readKeys()).some((l) => l === pending!.publicKey)).toBe(true);
      // no access lost meanwhile: the proxy offers the vaulted key and the sealed pending one
      expect(await brokerTest(w)).toMatchObject({ ok: true });

      await rotate(deps, w.device.id);
      const now = await deviceOf(w);
      expect(now.credentialPublicKey).toBe(pending!.publicKey);
      expect(await device.readKeys()).toEqual([pending!.publicKey]);
      expect(await loginsWith(w, old)).toBe('login_refused');
      expect(await brokerTest(w)).toMatchObject({ ok: true });
      expect((await deps.store.read.credentials.record(w.device.id))!.pending).toBeNull();
    }
  }, 60_000);

  it('a device that ignores the new key keeps the old one; the failure is audited, flagged and told to the approvers', async () => {
    // sshd reads ~/.ssh/authorized_keys2: what the rotation adds to ~/.ssh/authorized_keys never counts
    const { w, device, installed } = await keyDevice({ keysFile: '.ssh/authorized_keys2' });
    const e = w.e;
    await expect(rotate(e.broker.deps, w.device.id)).rejects.toThrow(/refused a login with the new key/);
    expect(await auditWhere(e, { subjectId: w.device.id, action: 'credential.rotation_failed' })).toHaveLength(0);
    await expect(rotate(e.broker.deps, w.device.id, true)).rejects.toThrow(/refused a login with the new key/);

    const [failed] = await auditWhere(e, { subjectId: w.device.id, action: 'credential.rotation_failed' });
    expect(failed!.details).toMatchObject({ attempts: 6, reason: expect.stringMatching(/refused a login with the new key/) });
    const flagged = await deviceOf(w);
    expect(flagged.credentialPublicKey).toBe(installed);
    expect(flagged.credentialRotationFailure?.reason).toMatch(/refused a login with the new key/);
    expect(await device.readKeys('.ssh/authorized_keys2')).toEqual([installed]);
    expect(await brokerTest(w)).toMatchObject({ ok: true });
    // the approvers hear of it (the log notifier: Slack is not configured here)
    expect(e.broker.logLines.join('')).toMatch(new RegExp(`DEVICE KEY ROTATION FAILED on ${w.device.name}.*${(await approverName(w))}`));
    const report = await e.broker.api.ok('GET', '/api/reports/credentials', w.auditor.token);
    expect(report.items.find((i: { deviceId: string }) => i.deviceId === w.device.id)).toMatchObject({ concern: 'rotation_failed' });
  }, 60_000);

  it('a device presenting another host key gets nothing: the rotation fails, and the key waits for an approver as a session\'s sighting does', async () => {
    const { w, device, installed } = await keyDevice();
    const e = w.e;
    const pinned = (await storedDevice(w)).hostKey;
    const presented = await device.replaceHostKey();
    await expect(rotate(e.broker.deps, w.device.id)).rejects.toThrow(/host key mismatch .*nothing was sent to it/);
    await expect(rotate(e.broker.deps, w.device.id)).rejects.toThrow(/host key mismatch/);

    // kept as the device's pending change, once, seen twice, for its approvers to compare and re-pin
    const status = await e.broker.api.ok('GET', `/api/devices/${w.device.id}/host-key`, w.approver.token);
    expect(status.pending).toMatchObject({ publicKey: presented, firstSeenBy: { kind: 'rotation' }, timesSeen: 2 });
    const changed = await auditWhere(e, { subjectId: w.device.id, action: 'device.host_key_changed' });
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ actorType: 'system', actorId: 'credential-rotation', details: { seenBy: { kind: 'rotation' }, publicKey: presented } });
    expect(e.broker.logLines.join('')).toMatch(new RegExp(`DEVICE HOST KEY CHANGED on ${w.device.name}.*seen by a credential rotation.*${await approverName(w)}`));
    // nothing changed: the pin, the vaulted key, the device's keys (the impostor got no new key)
    expect((await storedDevice(w)).hostKey).toBe(pinned);
    expect((await deviceOf(w)).credentialPublicKey).toBe(installed);
    expect(await device.readKeys()).toEqual([installed]);
  }, 60_000);

  const approverName = async (w: World) => (await w.e.broker.deps.store.read.users.byId(w.approver.id))!.displayName;
});
