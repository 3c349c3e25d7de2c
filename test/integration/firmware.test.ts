/**
 * POST /api/grants/:id/firmware (§8.3, after the window): who may record the firmware a grant
 * installed, when, what is accepted, and the audit event naming the uploads that delivered it.
 */
import { describe, expect, it } from 'vitest';
import type { Transfer } from '../../server/core/types.js';
import { expectError } from '../support/fixtures.js';
import { unique } from '../support/harness.js';
import {
  as, auditOf, grantFor, HOUR, isolatedHarness, MIN, person, plus, runAt, T0, world, type GrantJson, type World,
} from '../support/workflow-fixtures.js';

const ref = isolatedHarness();
const fw = (g: GrantJson) => `/api/grants/${g.id}/firmware`;

/** A session of the grant with the given transfers, written straight to the store as the proxy would. */
async function sessionWith(w: World, g: GrantJson, files: Pick<Transfer, 'direction' | 'path' | 'outcome' | 'sha256' | 'declared'>[]) {
  const { h } = ref;
  const at = h.clock.now();
  return h.deps.store.transaction(async (tx) => {
    const s = await tx.sessions.insert({ grantId: g.id, technicianId: w.tech.user.id, deviceId: w.device.id, channel: 'shell', command: null,
      clientAddress: null, startedAt: at, proxyInstance: 'firmware-test' });
    const out: Transfer[] = [];
    for (const f of files) {
      out.push(await tx.transfers.insert({ sessionId: s.id, grantId: g.id, deviceId: w.device.id, technicianId: w.tech.user.id, bytes: 1024,
        startedAt: at, endedAt: at, reason: null, artifactName: null, ...f }));
    }
    return out;
  });
}

async function firmwareEvents(deviceId: string) {
  return (await auditOf(ref.h, deviceId)).filter((e) => e.action === 'device.firmware_updated');
}

describe('POST /api/grants/:id/firmware', () => {
  it('the technician records the new version; the baseline changes and the audit names the grant and the completed uploads', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    expect(g.status).toBe('active');
    const sha = (c: string) => c.repeat(64);
    const [image, , , download] = await sessionWith(w, g, [
      { direction: 'upload', path: '/opt/fw/pump-4.3.0.img', outcome: 'complete', sha256: sha('a'), declared: true },
      { direction: 'upload', path: '/opt/fw/half.img', outcome: 'partial', sha256: sha('b'), declared: false },
      { direction: 'upload', path: '/etc/passwd', outcome: 'refused', sha256: null, declared: false },
      { direction: 'download', path: '/var/log/pump.log', outcome: 'complete', sha256: sha('c'), declared: null },
    ]);
    const [calib] = await sessionWith(w, g, [
      { direction: 'upload', path: '/opt/fw/calibration.tbl', outcome: 'complete', sha256: sha('d'), declared: false },
    ]);

    const res = await as(h, w.tech).post(fw(g), { version: '  4.3.0 (build 17)  ', note: 'flashed and verified' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: w.device.id, firmwareBaseline: '4.3.0 (build 17)' });
    // the technician's view of the device hides the infrastructure behind the proxy
    expect(res.body).not.toHaveProperty('address');
    expect(res.body).not.toHaveProperty('hostKey');
    const device = await as(h, w.admin).get(`/api/devices/${w.device.id}`);
    expect(device.body.firmwareBaseline).toBe('4.3.0 (build 17)');

    const [event, ...more] = await firmwareEvents(w.device.id);
    expect(more).toHaveLength(0);
    expect(event).toMatchObject({ actor_type: 'user', actor_id: w.tech.user.id, subject_id: w.device.id });
    expect(event!.details).toEqual({
      grantId: g.id, device: w.device.name, previous: '4.2.1', version: '4.3.0 (build 17)', note: 'flashed and verified',
      transfers: [
        { id: image!.id, path: '/opt/fw/pump-4.3.0.img', sha256: sha('a'), declared: true },
        { id: calib!.id, path: '/opt/fw/calibration.tbl', sha256: sha('d'), declared: false },
      ],
    });
    expect(JSON.stringify(event!.details)).not.toContain(download!.id);
    const verify = await as(h, w.admin).get('/api/audit/verify');
    expect(verify.body.ok).toBe(true);
  });

  it('an approver of the department and an admin may record it (full device view); others may not', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);

    const byApprover = await as(h, w.approvers[0]!).post(fw(g), { version: '5.0' });
    expect(byApprover.status, JSON.stringify(byApprover.body)).toBe(200);
    expect(byApprover.body).toMatchObject({ firmwareBaseline: '5.0', address: '10.0.0.5' });
    const byAdmin = await as(h, w.admin).post(fw(g), { version: '5.0.1', note: 'hotfix' });
    expect(byAdmin.status, JSON.stringify(byAdmin.body)).toBe(200);
    expect((await firmwareEvents(w.device.id)).map((e) => [e.actor_id, e.details.previous, e.details.version, e.details.note]))
      .toEqual([[w.approvers[0]!.user.id, '4.2.1', '5.0', null], [w.admin.user.id, '5.0', '5.0.1', 'hotfix']]);

    // a technician of the same vendor who does not hold the grant, an approver of another
    // department: they do not see the grant at all
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    expectError(await as(h, colleague).post(fw(g), { version: '6' }), 404);
    const elsewhere = await person(h, ['approver'], { department: unique('dept') });
    expectError(await as(h, elsewhere).post(fw(g), { version: '6' }), 404);
    // an auditor reads grants but changes no trust record
    const auditor = await person(h, ['auditor']);
    expectError(await as(h, auditor).post(fw(g), { version: '6' }), 403);
    expect(await firmwareEvents(w.device.id)).toHaveLength(2);
    expect((await as(h, w.admin).get(`/api/devices/${w.device.id}`)).body.firmwareBaseline).toBe('5.0.1');
  });

  it('when: while active and up to 7 days after the end; never for a grant that was never active', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 1 });
    const later = await grantFor(h, w, { startsAt: plus(2 * HOUR).toISOString() });
    expect(later.status).toBe('scheduled');
    expectError(await as(h, w.tech).post(fw(later), { version: '4.3' }), 409);
    // revoked before its window: it never delivered anything
    expect((await as(h, w.approvers[0]!).post(`/api/grants/${later.id}/revoke`, { reason: 'not needed' })).status).toBe(200);
    expectError(await as(h, w.tech).post(fw(later), { version: '4.3' }), 409);

    const g = await grantFor(h, w);
    await runAt(h, plus(31 * MIN)); // the 30-minute window has ended
    const { rows } = await h.pool.query('SELECT status, ended_at FROM grants WHERE id = $1', [g.id]);
    expect(rows[0].status).toBe('expired');
    const endedAt = rows[0].ended_at as Date;
    h.clock.set(plus(7 * 24 * HOUR, endedAt));
    const ok = await as(h, w.tech).post(fw(g), { version: '4.3' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    h.clock.set(plus(7 * 24 * HOUR + MIN, endedAt));
    expectError(await as(h, w.tech).post(fw(g), { version: '4.4' }), 409);
    expect((await firmwareEvents(w.device.id)).map((e) => e.details.version)).toEqual(['4.3']);
    h.clock.set(T0);
  });

  it('validates the version and the note, and refuses a version that is already the baseline', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    for (const body of [
      {}, { version: '' }, { version: '   ' }, { version: 'x'.repeat(201) }, { version: '4.3\u0000' }, { version: '4.3\nrm -rf' },
      { version: '4.3\u202e' }, { version: 43 }, { version: '4.3', note: 'n'.repeat(1001) }, { version: '4.3', note: 'bell\u0007' },
      { version: '4.3', extra: true },
    ]) {
      expectError(await as(h, w.tech).post(fw(g), body), 400);
    }
    expectError(await as(h, w.tech).post(fw(g), { version: '4.2.1' }), 409);
    expect(await firmwareEvents(w.device.id)).toHaveLength(0);
    const ok = await as(h, w.tech).post(fw(g), { version: 'v'.repeat(200), note: `line one\nline two\t${'n'.repeat(970)}` });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expectError(await as(h, w.tech).post(`/api/grants/${crypto.randomUUID()}/firmware`, { version: '1' }), 404);
  });

  it('refuses a retired device (409) and leaves its record as it was', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    const retired = await as(h, w.admin).post(`/api/devices/${w.device.id}/lifecycle`, { state: 'retired', reason: 'end of life' });
    expect(retired.status, JSON.stringify(retired.body)).toBe(200);
    expectError(await as(h, w.tech).post(fw(g), { version: '4.3' }), 409);
    expectError(await as(h, w.admin).post(fw(g), { version: '4.3' }), 409);
    expect((await as(h, w.admin).get(`/api/devices/${w.device.id}`)).body.firmwareBaseline).toBe('4.2.1');
    expect(await firmwareEvents(w.device.id)).toHaveLength(0);
  });
});
