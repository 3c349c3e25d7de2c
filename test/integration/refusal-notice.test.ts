/**
 * What a refused technician is told in the SSH banner (grantRefusalNotice), on the real store with a
 * fake clock: revoked (when, by whom, why), ended, not started; nothing for a usable grant, another
 * device's name or a serial that was not issued for the grant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantRefusalNotice } from '../../server/core/sessions.js';
import { startHarness, type Harness } from '../support/harness.js';
import { HOUR, MIN, as, grantFor, plus, runAt, world, type World } from '../support/workflow-fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const T = new Date('2031-04-04T08:00:00Z');

/** a serial issued for the grant, as a certificate would have */
async function serialFor(grantId: string, at = T): Promise<number> {
  const issue = await h.deps.store.transaction((tx) => tx.credentialIssues.insert({
    grantId, kind: 'ssh_certificate', keyFingerprint: 'SHA256:test', tokenId: null, validAfter: at, validBefore: plus(HOUR, at), issuedAt: at,
  }));
  return issue.serial;
}

const notice = (w: World, grantId: string, serial: number, principal = w.device.name) =>
  grantRefusalNotice(h.deps, { grantId, principal, serial });

describe('the refusal banner text', () => {
  it('revoked: when, by whom and why; ended: when; nothing while the grant is usable', async () => {
    h.clock.set(T);
    const w = await world(h, { approvers: 1 });
    const grant = await grantFor(h, w, { durationMinutes: 60 });
    const serial = await serialFor(grant.id);
    expect(await notice(w, grant.id, serial)).toBeNull();
    h.clock.set(plus(14 * MIN + 30_000, T));
    await as(h, w.approvers[0]!).post(`/api/grants/${grant.id}/revoke`, { reason: 'firmware recall' }).then((r) => expect(r.status).toBe(200));
    expect(await notice(w, grant.id, serial))
      .toBe(`Access to ${w.device.name} was revoked at 2031-04-04 08:14 UTC by ${w.approvers[0]!.user.displayName}: firmware recall`);
    // the wrong device name or a serial of another grant: nothing
    expect(await notice(w, grant.id, serial, 'another-device')).toBeNull();
    const other = await world(h, { approvers: 1 });
    const otherGrant = await grantFor(h, other);
    expect(await notice(w, grant.id, await serialFor(otherGrant.id))).toBeNull();
    expect(await notice(w, 'not-a-grant', serial)).toBeNull();
  });

  it('ended: says when, also before the expiry job has run', async () => {
    h.clock.set(T);
    const w = await world(h, { approvers: 1 });
    const grant = await grantFor(h, w, { durationMinutes: 30 });
    const serial = await serialFor(grant.id);
    h.clock.set(plus(31 * MIN, T));
    const text = `Access to ${w.device.name} ended at 2031-04-04 08:30 UTC. Ask for a new grant to connect again.`;
    expect(await notice(w, grant.id, serial)).toBe(text);
    await runAt(h, plus(32 * MIN, T));
    expect((await h.pool.query('SELECT status FROM grants WHERE id = $1', [grant.id])).rows[0].status).toBe('expired');
    expect(await notice(w, grant.id, serial)).toBe(text);
  });

  it('not started: says when it starts', async () => {
    h.clock.set(T);
    const w = await world(h, { approvers: 1 });
    const grant = await grantFor(h, w, { startsAt: plus(2 * HOUR, T).toISOString(), durationMinutes: 30 });
    expect(grant.status).toBe('scheduled');
    expect(await notice(w, grant.id, await serialFor(grant.id))).toBe(`Access to ${w.device.name} starts at 2031-04-04 10:00 UTC.`);
  });
});
