/**
 * Host key changes (§8.4), end to end against a real OpenSSH sshd whose host key is replaced (as a
 * re-imaged device's is): the technician's session is refused, the key the device presented is
 * recorded as a pending change (audited, approvers told), the approvers see it beside the pin, a
 * confirmation naming another key (or a key that changed again since) is refused, and once an approver
 * of the device confirms the re-pin, sessions work again; the re-pin is audited with both fingerprints.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKey, startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';
import { auditWhere, awaitAudit, certify, grantFor, makeWorld, newKey, runSsh, sshArgs, useE2E, type World } from '../support/ssh-e2e.js';
import { addUser } from '../support/test-broker.js';

const env = useE2E('single');
const sshds: DeviceSshd[] = [];
afterAll(async () => {
  for (const s of sshds) await s.stop();
});

/** the fingerprint as OpenSSH's own ssh-keygen prints it for the device's host key file */
const keygenFingerprint = (device: DeviceSshd) =>
  execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(device.dir, 'host_ed25519.pub')]).toString().split(/\s+/)[1]!;

interface HostKeyStatusJson {
  deviceId: string;
  pinned: { keyType: string; fingerprint: string; publicKey: string } | null;
  pending: { fingerprint: string; keyType: string; publicKey: string; pinnedFingerprint: string; firstSeenAt: string;
    firstSeenBy: Record<string, string>; timesSeen: number } | null;
  canRepin: boolean;
}

describe('a device presenting another host key: refused, shown to its approvers, re-pinned on their confirmation', () => {
  it('session refused → pending change visible → wrong or stale fingerprint refused → approver re-pins → session works', async () => {
    const { e } = env;
    const api = e.broker.api;
    const device = await startDeviceSshd();
    sshds.push(device);
    const w: World = await makeWorld(e, { sshd: device });
    const status = (token: string) => api.ok<HostKeyStatusJson>('GET', `/api/devices/${w.device.id}/host-key`, token);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const ssh = (word: string) => runSsh([...sshArgs(e, key, w.device.name), 'echo', word]);

    const before = await ssh('with-the-first-key');
    expect(before.stdout, before.stderr).toContain('with-the-first-key');
    const pinnedFingerprint = keygenFingerprint(device);
    expect((await status(w.approver.token)).pinned?.fingerprint).toBe(pinnedFingerprint);

    // the device is re-imaged: a new host key on the same address and port
    await device.replaceHostKey();
    const newFingerprint = keygenFingerprint(device);
    expect(newFingerprint).not.toBe(pinnedFingerprint);
    const refused = await ssh('with-an-unpinned-key');
    expect(refused.stdout).not.toContain('with-an-unpinned-key');
    expect(refused.code).not.toBe(0);

    // the presented key is pending, beside the pin, for the device's approver
    const seen = await status(w.approver.token);
    expect(seen.pinned?.fingerprint).toBe(pinnedFingerprint);
    expect(seen.pending).toMatchObject({
      fingerprint: newFingerprint, keyType: 'ssh-ed25519', publicKey: device.hostKey, pinnedFingerprint,
      firstSeenBy: { kind: 'session', grantId: grant.id, technicianId: w.tech.id },
    });
    expect(seen.canRepin).toBe(true);
    const listed = await api.ok<{ items: HostKeyStatusJson[] }>('GET', '/api/host-key-changes', w.approver.token);
    expect(listed.items.map((i) => i.deviceId)).toContain(w.device.id);
    const [changed] = await auditWhere(e, { subjectId: w.device.id, action: 'device.host_key_changed' });
    expect(changed!.details).toMatchObject({ fingerprint: newFingerprint, pinnedFingerprint, seenBy: { kind: 'session', grantId: grant.id } });
    // the approvers are told (the log notifier: Slack is not configured here)
    const approverName = (await e.broker.deps.store.read.users.byId(w.approver.id))!.displayName;
    expect(e.broker.logLines.join('')).toMatch(new RegExp(`DEVICE HOST KEY CHANGED on ${w.device.name}.*${newFingerprint.replace(/[+/]/g, '.')}.*${approverName}`));

    // neither the technician nor an approver of another department sees it or may confirm it
    const stranger = await addUser(e.broker, ['approver'], { department: 'another-department' });
    expect((await api.call('GET', `/api/devices/${w.device.id}/host-key`, w.tech.token)).status).toBe(403);
    expect((await api.call('POST', `/api/devices/${w.device.id}/host-key/repin`, stranger.token, { fingerprint: newFingerprint })).status).toBe(404);
    expect((await api.call('POST', `/api/devices/${w.device.id}/host-key/repin`, w.tech.token, { fingerprint: newFingerprint })).status).toBe(403);

    // a confirmation naming another key is refused; the pin stays
    const wrong = await api.call('POST', `/api/devices/${w.device.id}/host-key/repin`, w.approver.token, { fingerprint: pinnedFingerprint });
    expect(wrong.status).toBe(409);
    expect((await api.call('POST', `/api/devices/${w.device.id}/host-key/repin`, w.approver.token, { fingerprint: 'not-a-fingerprint' })).status).toBe(400);
    expect((await status(w.admin.token)).pinned?.fingerprint).toBe(pinnedFingerprint);

    // the key changes again before anyone confirmed: the connection test sees it, the first one is superseded
    await device.replaceHostKey();
    const latestFingerprint = keygenFingerprint(device);
    const test = await api.ok('POST', `/api/devices/${w.device.id}/test`, w.admin.token);
    expect(test).toMatchObject({ ok: false, reason: expect.stringMatching(/host key mismatch/) });
    const stale = await api.call('POST', `/api/devices/${w.device.id}/host-key/repin`, w.approver.token, { fingerprint: newFingerprint });
    expect(stale.status).toBe(409);
    expect(stale.body.error?.message ?? JSON.stringify(stale.body)).toMatch(/changed again/);
    expect((await status(w.approver.token)).pending).toMatchObject({ fingerprint: latestFingerprint, firstSeenBy: { kind: 'test', actorId: w.admin.id } });
    expect(await auditWhere(e, { subjectId: w.device.id, action: 'device.host_key_repinned' })).toHaveLength(0);

    // the device's approver compares and confirms: the pin is the new key, audited with both fingerprints
    const repinned = await api.ok<HostKeyStatusJson>('POST', `/api/devices/${w.device.id}/host-key/repin`, w.approver.token, { fingerprint: latestFingerprint });
    expect(repinned).toMatchObject({ pinned: { fingerprint: latestFingerprint, publicKey: device.hostKey }, pending: null });
    const [audit] = await awaitAudit(e, { subjectId: w.device.id, action: 'device.host_key_repinned' });
    expect(audit).toMatchObject({ actorType: 'user', actorId: w.approver.id, details: { oldFingerprint: pinnedFingerprint, newFingerprint: latestFingerprint } });
    expect((await api.ok<{ items: { deviceId: string }[] }>('GET', '/api/host-key-changes', w.approver.token)).items.map((i) => i.deviceId)).not.toContain(w.device.id);
    // confirming twice finds nothing to confirm
    expect((await api.call('POST', `/api/devices/${w.device.id}/host-key/repin`, w.approver.token, { fingerprint: latestFingerprint })).status).toBe(409);

    const after = await ssh('with-the-re-pinned-key');
    expect(after.stdout, after.stderr).toContain('with-the-re-pinned-key');
    expect(after.code).toBe(0);
  }, 90_000);

  it('a pin an admin changed by hand since makes the pending change moot: it is no longer shown, and confirming it is refused', async () => {
    const { e } = env;
    const api = e.broker.api;
    const stale = generateKey(e.dir, `stale-host-${Date.now()}`).publicKey.split(' ').slice(0, 2).join(' ');
    // deployed with the real key, then pinned to another one: the connection test sees the real key
    const w = await makeWorld(e, { hostKey: stale });
    expect(await api.ok('POST', `/api/devices/${w.device.id}/test`, w.admin.token)).toMatchObject({ ok: false });
    const pending = (await api.ok<HostKeyStatusJson>('GET', `/api/devices/${w.device.id}/host-key`, w.admin.token)).pending;
    expect(pending?.publicKey).toBe(e.sshd.hostKey);

    await api.ok('PATCH', `/api/devices/${w.device.id}`, w.admin.token, { hostKey: e.sshd.hostKey });
    expect((await api.ok<HostKeyStatusJson>('GET', `/api/devices/${w.device.id}/host-key`, w.admin.token)).pending).toBeNull();
    expect((await api.ok<{ items: HostKeyStatusJson[] }>('GET', '/api/host-key-changes', w.admin.token)).items.map((i) => i.deviceId)).not.toContain(w.device.id);
    const refused = await api.call('POST', `/api/devices/${w.device.id}/host-key/repin`, w.admin.token, { fingerprint: pending!.fingerprint });
    expect(refused.status).toBe(409);
    expect(await auditWhere(e, { subjectId: w.device.id, action: 'device.host_key_repinned' })).toHaveLength(0);
  }, 60_000);
});
