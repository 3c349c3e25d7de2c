/**
 * A host-key re-pin trusts a new device identity: like an approval it needs a fresh second factor
 * (§8.5) from an approver who has one, and the audit event names how it was proven.
 */
import { describe, expect, it } from 'vitest';
import { hostKeyFingerprint, recordHostKeyMismatch } from '../../server/core/host-key-changes.js';
import { expectError, sshKeygenPair } from '../support/fixtures.js';
import { makeUser } from '../support/harness.js';
import { enrolTotp } from '../support/mfa-helpers.js';
import { auditOf, isolatedHarness, world } from '../support/workflow-fixtures.js';

const ref = isolatedHarness();

describe('host-key re-pin step-up', () => {
  it('refuses a stale confirmation, accepts one with a code and records the method', async () => {
    const h = ref.h;
    const w = await world(h, { approvers: 0 });
    const device = (await h.deps.store.read.devices.byId(w.device.id))!;
    const presented = sshKeygenPair().publicKey;
    const fingerprint = hostKeyFingerprint(presented);
    await recordHostKeyMismatch(h.deps, device, { keyType: presented.split(' ')[0]!, fingerprint, publicKey: presented }, { kind: 'test', actorId: null });

    const approver = await makeUser(h, ['approver'], { department: device.policy.approverDepartment });
    const { app } = await enrolTotp(h, approver.auth);
    h.clock.advance(301_000);
    const url = `/api/devices/${device.id}/host-key/repin`;
    const refused = expectError(await h.http.post(url).set(approver.auth).send({ fingerprint }), 403, 'forbidden');
    expect(refused.details).toMatchObject({ stepUpRequired: true });
    expect((await h.deps.store.read.devices.byId(device.id))!.hostKey).toBe(device.hostKey);

    await h.http.post(url).set(approver.auth).send({ fingerprint, stepUp: { code: app.code() } }).expect(200);
    expect((await h.deps.store.read.devices.byId(device.id))!.hostKey).toBe(presented.trim());
    const repinned = (await auditOf(h, device.id)).filter((e) => e.action === 'device.host_key_repinned');
    expect(repinned).toHaveLength(1);
    expect(repinned[0]!.details).toMatchObject({ newFingerprint: fingerprint, stepUp: { method: 'totp', via: 'proof' } });
  });
});
