/**
 * Optional password rotation (§8.4) against a real OpenSSH sshd with password authentication and a
 * real `chpasswd`: the device's login is a dedicated user the test creates (uid 0, since this sandbox
 * has no sudo and chpasswd needs root — as on devices whose service login is root).
 * - after a grant ends, the real worker rotates the password: the old one is refused, the broker gets
 *   in with the new one, and the new password never appears on a command line, in the audit or the log;
 * - a rotation cut short after the device changed its password finishes on the next run, with no
 *   access lost meanwhile;
 * - a device whose command fails keeps its password, and the failure is audited, flagged and told;
 * - the credentials report flags a static password without a rotation command.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createDeviceShell } from '../../proxy/device-shell.js';
import type { CoreDeps, DeviceShell } from '../../server/core/ports.js';
import { handleJob } from '../../server/core/reconcile.js';
import { openDeviceCredential } from '../../server/core/sessions.js';
import type { Device, DeviceCredential } from '../../server/core/types.js';
import { startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';
import { auditWhere, awaitAudit, certify, grantFor, makeWorld, newKey, runSsh, sshArgs, uniq, useE2E, type World } from '../support/ssh-e2e.js';

const env = useE2E('single');
const sshds: DeviceSshd[] = [];
afterAll(async () => {
  for (const s of sshds) await s.stop();
});

const shell = createDeviceShell({ connectTimeoutMs: 5000 });
const rotate = (deps: CoreDeps, deviceId: string, lastAttempt = false) =>
  handleJob(deps, { kind: 'credential.rotate', deviceId, dueAt: new Date().toISOString() }, { attempt: lastAttempt ? 6 : 1, lastAttempt });

/** a deployed password device on an sshd of its own, rotated with `command` (none: a static password) */
async function passwordDevice(command: string | null): Promise<{ w: World; device: DeviceSshd; initial: string }> {
  const initial = `Initial-${uniq('pw')}`;
  const device = await startDeviceSshd({ passwordUser: { password: initial } });
  sshds.push(device);
  const credential = { username: device.username, password: initial, ...(command ? { passwordRotation: { command } } : {}) };
  const w = await makeWorld(env.e, { sshd: device, credential });
  return { w, device, initial };
}

const storedDevice = async (w: World) => (await w.e.broker.deps.store.read.devices.byId(w.device.id)) as Device;
const passwordLogin = (w: World, device: DeviceSshd, secret: string): DeviceCredential => ({ username: device.username, kind: 'password', secret });
const loginsWith = async (w: World, login: DeviceCredential) => (await shell.exec(await storedDevice(w), login, 'true')).kind;
const brokerTest = (w: World) => w.e.broker.api.ok('POST', `/api/devices/${w.device.id}/test`, w.admin.token);
const vaulted = async (w: World) => (await openDeviceCredential(w.e.broker.deps, w.device.id)).secret;

describe('password rotation with the device\'s own chpasswd', () => {
  it('after a grant ends the password changes: the old one is refused, the broker gets in, the secret is nowhere in sight', async () => {
    const { w, device, initial } = await passwordDevice('chpasswd');
    const e = w.e;
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo', 'with-the-first-password']);
    expect(r.stdout, r.stderr).toContain('with-the-first-password');

    await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'work done' });
    const [rotated] = await awaitAudit(e, { subjectId: w.device.id, action: 'credential.rotated' }, 30_000);
    expect(rotated!.details).toMatchObject({ kind: 'password', command: 'chpasswd', username: device.username });

    const next = await vaulted(w);
    expect(next).not.toBe(initial);
    expect(await loginsWith(w, passwordLogin(w, device, initial))).toBe('login_refused');
    expect(await loginsWith(w, passwordLogin(w, device, next))).toBe('ran');
    expect(await brokerTest(w)).toMatchObject({ ok: true });
    const after = await e.broker.api.ok('GET', `/api/devices/${w.device.id}`, w.admin.token);
    expect(after.credentialKind).toBe('password');
    expect(after.credentialRotatedAt).not.toBeNull();
    // a second session works with the rotated password
    const again = await grantFor(w);
    await certify(w, again, key);
    const r2 = await runSsh([...sshArgs(e, key, w.device.name), 'echo', 'with-the-rotated-password']);
    expect(r2.stdout, r2.stderr).toContain('with-the-rotated-password');

    const audit = JSON.stringify(await auditWhere(e, { subjectId: w.device.id }));
    expect(audit).not.toContain(next);
    expect(audit).not.toContain(initial);
    expect(e.broker.logLines.join('')).not.toContain(next);
  }, 90_000);

  it('the new password travels on stdin, never on the command line', async () => {
    const { w, device } = await passwordDevice('chpasswd');
    const seen: { command: string; stdin?: string }[] = [];
    const watching: DeviceShell = {
      exec(d, login, command, stdin) {
        seen.push({ command, stdin });
        return shell.exec(d, login, command, stdin);
      },
    };
    await rotate({ ...w.e.broker.deps, deviceShell: watching }, w.device.id);
    const next = await vaulted(w);
    expect(seen.find((s) => s.command === 'chpasswd')?.stdin).toBe(`${device.username}:${next}\n`);
    expect(seen.every((s) => !s.command.includes(next))).toBe(true);
  }, 60_000);

  it('a rotation cut short after the device changed its password finishes on the next run, without losing access', async () => {
    const { w, device, initial } = await passwordDevice('chpasswd');
    const deps = w.e.broker.deps;
    const dying: DeviceShell = {
      async exec(d, login, command, stdin) {
        const result = await shell.exec(d, login, command, stdin);
        if (command === 'chpasswd') throw new Error('worker killed after chpasswd');
        return result;
      },
    };
    await expect(rotate({ ...deps, deviceShell: dying }, w.device.id)).rejects.toThrow(/worker killed/);
    const record = (await deps.store.read.credentials.record(w.device.id))!;
    expect(record.pending).not.toBeNull();
    expect(await vaulted(w)).toBe(initial);
    // the device already holds only the next password; the proxy offers the sealed pending one too
    expect(await loginsWith(w, passwordLogin(w, device, initial))).toBe('login_refused');
    expect(await brokerTest(w)).toMatchObject({ ok: true });

    await rotate(deps, w.device.id);
    expect((await deps.store.read.credentials.record(w.device.id))!.pending).toBeNull();
    const next = await vaulted(w);
    expect(next).not.toBe(initial);
    expect(await loginsWith(w, passwordLogin(w, device, next))).toBe('ran');
    expect(await brokerTest(w)).toMatchObject({ ok: true });
  }, 60_000);

  it('a device whose command fails keeps its password; the failure is audited, flagged and told', async () => {
    // a command that cannot change anything: the device refuses (as a read-only shadow file would)
    const { w, device, initial } = await passwordDevice('chpasswd --root /nonexistent');
    const e = w.e;
    await expect(rotate(e.broker.deps, w.device.id)).rejects.toThrow(/password change command failed/);
    await expect(rotate(e.broker.deps, w.device.id, true)).rejects.toThrow(/password change command failed/);
    const [failed] = await auditWhere(e, { subjectId: w.device.id, action: 'credential.rotation_failed' });
    expect(failed!.details).toMatchObject({ attempts: 6 });
    expect(await vaulted(w)).toBe(initial);
    expect(await loginsWith(w, passwordLogin(w, device, initial))).toBe('ran');
    const flagged = await e.broker.api.ok('GET', `/api/devices/${w.device.id}`, w.admin.token);
    expect(flagged.credentialRotationFailure?.reason).toMatch(/password change command failed/);
    expect(e.broker.logLines.join('')).toMatch(new RegExp(`DEVICE KEY ROTATION FAILED on ${w.device.name}`));
    const report = await e.broker.api.ok('GET', '/api/reports/credentials', w.auditor.token);
    expect(report.items.find((i: { deviceId: string }) => i.deviceId === w.device.id)).toMatchObject({ concern: 'rotation_failed', passwordRotation: true });
  }, 60_000);

  it('the report flags a static password without a rotation command, and not one with it', async () => {
    const [plain, rotated] = await Promise.all([passwordDevice(null), passwordDevice('chpasswd')]);
    const report = await env.e.broker.api.ok('GET', '/api/reports/credentials', plain.w.auditor.token);
    const item = report.items.find((i: { deviceId: string }) => i.deviceId === plain.w.device.id);
    expect(item).toMatchObject({ concern: 'static', credentialKind: 'password', passwordRotation: false, detail: expect.stringMatching(/no password rotation/) });
    expect(report.items.find((i: { deviceId: string }) => i.deviceId === rotated.w.device.id)).toBeUndefined();
    // a rotation command belongs to a password only
    const bad = await env.e.broker.api.call('PATCH', `/api/devices/${plain.w.device.id}`, plain.w.admin.token, {
      credential: { username: plain.device.username, privateKey: plain.device.credential.privateKey, passwordRotation: { command: 'chpasswd' } },
    });
    expect(bad.status).toBe(400);
  }, 60_000);
});
