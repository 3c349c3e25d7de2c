/**
 * Grants after they exist: the kill switch and every other path that takes access away,
 * extensions (a fresh approval moves the end; without one the original end stands), and
 * restart safety (start-up reconciliation expires what passed and restores lost jobs, once).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handleJob, reconcile } from '../../server/core/reconcile.js';
import { jobId } from '../../server/core/workflow-ports.js';
import { expectError } from '../support/fixtures.js';
import type { Harness } from '../support/harness.js';
import {
  actionsOf, approve, as, AUDIT_CHAIN_LOCK, auditOf, earlyEndedEvents, endedEvents, grantFor, grantRow, HOUR, MIN, overlapAtCommit, person, requestAccess,
  requestBody, requestRow, runAt, world, type GrantJson, type World, isolatedHarness, plus, T0 } from '../support/workflow-fixtures.js';

const ctx = isolatedHarness();
let h: Harness;
beforeAll(() => {
  h = ctx.h;
});

const jobsOf = (id: string) => Object.fromEntries(h.scheduler.for(id).map((j) => [jobId(j), j.dueAt]));

async function expectRevoked(g: GrantJson, reason: RegExp) {
  expect(await grantRow(h, g.id)).toMatchObject({ status: 'revoked', end_reason: expect.stringMatching(reason) });
  expect(h.scheduler.for(g.id)).toEqual([]);
  expect(endedEvents(h, g.id)).toEqual([expect.objectContaining({ type: 'grant.ended', reason: 'revoked', message: expect.stringMatching(reason) })]);
  expect((await actionsOf(h, g.id)).filter((a) => a === 'grant.revoked')).toHaveLength(1);
}

describe('the kill switch: POST /api/grants/:id/revoke', () => {
  it('an approver of the department revokes: ended now, jobs gone, grant.ended published, audited with the reason', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { durationMinutes: 60 });
    expect(h.scheduler.for(g.id)).toHaveLength(3);
    h.clock.advance(10 * MIN);

    const res = await as(h, w.approvers[0]!).post(`/api/grants/${g.id}/revoke`, { reason: 'unexpected alarm on the ward' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: g.id, status: 'revoked', endedAt: plus(10 * MIN).toISOString(),
      endReason: 'unexpected alarm on the ward', revokedBy: w.approvers[0]!.user.id });
    await expectRevoked(g, /unexpected alarm on the ward/);
    const revoked = (await auditOf(h, g.id)).find((e) => e.action === 'grant.revoked')!;
    expect(revoked).toMatchObject({ actor_type: 'user', actor_id: w.approvers[0]!.user.id, details: expect.objectContaining({ reason: 'unexpected alarm on the ward' }) });
    expect(h.notifier.events).toContainEqual(expect.objectContaining({ type: 'grant.changed', grantId: g.id, status: 'revoked' }));

    // the end stays where it was put: a late expiry job changes nothing
    await handleJob(h.deps, { kind: 'grant.expire', grantId: g.id, dueAt: g.endsAt });
    await runAt(h, plus(2 * HOUR));
    expect((await grantRow(h, g.id)).status).toBe('revoked');
    expect((await actionsOf(h, g.id)).filter((a) => a.startsWith('grant.')).slice(-1)).toEqual(['grant.revoked']);
  });

  // Regression (issue 17, revocation storm): the cut was published only after the commit, and the commit
  // waits for the audit chain's lock behind every other audited change — 100 revocations in a second were
  // cut seconds later. Now the proxies hear it as soon as the grant is ended in the transaction.
  it('the cut is published before the revocation waits for the audit chain; again after the commit', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { durationMinutes: 60 });
    const holder = await h.pool.connect(); // another writer holding the audit chain's lock (audit-repo.ts)
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [AUDIT_CHAIN_LOCK]);
      let answered = false;
      const revoking = as(h, w.approvers[0]!).post(`/api/grants/${g.id}/revoke`, { reason: 'pump alarm' }).then((r) => {
        answered = true;
        return r;
      });
      for (let i = 0; i < 100 && earlyEndedEvents(h, g.id).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(earlyEndedEvents(h, g.id)).toEqual([{ type: 'grant.ended', grantIds: [g.id], reason: 'revoked', message: 'pump alarm', early: true }]);
      // not committed yet: the request waits for the lock, the grant reads as active, nothing else published
      expect(answered).toBe(false);
      expect((await grantRow(h, g.id)).status).toBe('active');
      expect(endedEvents(h, g.id)).toEqual([]);
      await holder.query('SELECT pg_advisory_unlock($1)', [AUDIT_CHAIN_LOCK]);
      expect((await revoking).status).toBe(200);
    } finally {
      holder.release();
    }
    await expectRevoked(g, /pump alarm/);
  });

  it('another department\'s approver → 404; the technician → 403; twice → 409; an admin may; a reason is required', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    const stranger = await person(h, ['approver'], { department: 'cardiology-other' });
    const revoke = (p: typeof w.tech, body: object = { reason: 'stop' }) => as(h, p).post(`/api/grants/${g.id}/revoke`, body);

    expectError(await revoke(stranger), 404, 'not_found');
    expect(expectError(await revoke(w.tech), 403, 'forbidden').message).toMatch(/own grant/);
    expectError(await revoke(await person(h, ['auditor'])), 404, 'not_found');
    expect(expectError(await revoke(w.approvers[0]!, {}), 400, 'invalid').message).toMatch(/reason/);
    expect((await grantRow(h, g.id)).status).toBe('active');
    expect(h.bus.published.filter((e) => e.type === 'grant.ended' && e.grantIds.includes(g.id))).toEqual([]);

    expect((await revoke(w.approvers[0]!)).status).toBe(200);
    expect(expectError(await revoke(w.approvers[0]!), 409, 'conflict').message).toMatch(/revoked/);
    expect(endedEvents(h, g.id)).toHaveLength(1);

    const g2 = await grantFor(h, w);
    expect((await as(h, w.admin).post(`/api/grants/${g2.id}/revoke`, { reason: 'security incident' })).status).toBe(200);
  });

  it('revoking a scheduled grant removes its activation job too; it never activates', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { startsAt: plus(3 * HOUR).toISOString() });
    expect(g.status).toBe('scheduled');
    expect(h.scheduler.for(g.id).map((j) => j.kind).sort()).toEqual(['grant.activate', 'grant.expire', 'grant.warn', 'grant.warn']);
    expect((await as(h, w.approvers[0]!).post(`/api/grants/${g.id}/revoke`, { reason: 'change freeze' })).status).toBe(200);
    await expectRevoked(g, /change freeze/);
    await handleJob(h.deps, { kind: 'grant.activate', grantId: g.id, dueAt: g.startsAt });
    await runAt(h, plus(3 * HOUR + MIN));
    expect((await grantRow(h, g.id)).status).toBe('revoked');
  });
});

describe('revocation everywhere', () => {
  const lifecycle = (w: World, state: string) => as(h, w.admin).post(`/api/devices/${w.device.id}/lifecycle`, { state, reason: `to ${state}` });

  it('suspending the device ends its grants at once', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    const other = await person(h, ['technician'], { vendorId: w.vendor.id });
    const g2 = (await approve(h, w.approvers[0]!, (await requestAccess(h, other, w.device.id)).id)).grant!;
    expect((await lifecycle(w, 'suspended')).status).toBe(200);
    await expectRevoked(g, /suspended/);
    await expectRevoked(g2, /suspended/);
  });

  it('retiring the device ends its grants, cancels its pending requests and destroys the credential', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    const other = await person(h, ['technician'], { vendorId: w.vendor.id });
    const pending = await requestAccess(h, other, w.device.id);
    expect(h.scheduler.for(pending.id)).toHaveLength(1);

    const res = await lifecycle(w, 'retired');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ lifecycleState: 'retired', hasCredential: false });
    await expectRevoked(g, /retired/);
    expect((await requestRow(h, pending.id)).status).toBe('cancelled');
    expect(h.scheduler.for(pending.id)).toEqual([]);
    expect((await auditOf(h, pending.id)).map((e) => [e.action, e.actor_id])).toEqual([
      ['request.created', other.user.id], ['request.cancelled', w.admin.user.id],
    ]);
    expect((await h.pool.query('SELECT 1 FROM device_credentials WHERE device_id = $1', [w.device.id])).rows).toHaveLength(0);
    expect(await actionsOf(h, w.device.id)).toContain('device.credential_destroyed');
  });

  it('disabling the technician ends their grants and cancels their pending requests', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    const second = await world(h, { approvers: 1 });
    await as(h, second.admin).patch(`/api/devices/${second.device.id}`, { vendorIds: [second.vendor.id, w.vendor.id] }).then((r) => expect(r.status).toBe(200));
    const pending = await requestAccess(h, w.tech, second.device.id);

    const res = await as(h, w.admin).patch(`/api/users/${w.tech.user.id}`, { disabled: true });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await expectRevoked(g, /user disabled/);
    expect((await requestRow(h, pending.id)).status).toBe('cancelled');
    expectError(await as(h, w.tech).get('/api/grants'), 401, 'unauthenticated');
  });

  // Regression: once audit appends waited for commit (d2bc591), an approval and a change taking access
  // away no longer queued behind each other on the audit chain's lock; each missed the other and an
  // active grant was left on a suspended device, or of a disabled technician. The approval now locks the
  // device, technician and vendor first (decisions.ts). Both orders: the change first, the approval first.
  describe('a final approval racing a change that takes access away', () => {
    const openGrants = async (requestId: string) =>
      (await h.pool.query(`SELECT id FROM grants WHERE request_id = $1 AND status IN ('scheduled', 'active')`, [requestId])).rows;

    it('the device is suspended first: the approval sees it and refuses', async () => {
      const w = await world(h, { approvers: 1 });
      const req = await requestAccess(h, w.tech, w.device.id);
      const [suspended, approved] = await overlapAtCommit(h,
        () => lifecycle(w, 'suspended'),
        () => as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, { comment: 'ok' }),
      );
      expect(suspended.status).toBe(200);
      expect(expectError(approved as never, 409, 'conflict').message).toMatch(/suspended/);
      expect(await openGrants(req.id)).toEqual([]);
    });

    it('the approval comes first: disabling the technician then ends the grant it made', async () => {
      const w = await world(h, { approvers: 1 });
      const req = await requestAccess(h, w.tech, w.device.id);
      const [approved, disabled] = await overlapAtCommit(h,
        () => as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, { comment: 'ok' }),
        () => as(h, w.admin).patch(`/api/users/${w.tech.user.id}`, { disabled: true }),
      );
      expect(approved.status).toBe(200);
      expect(disabled.status).toBe(200);
      const grant = (approved as unknown as { body: { grant: GrantJson } }).body.grant;
      expect(await openGrants(req.id)).toEqual([]);
      await expectRevoked(grant, /user disabled/);
    });
  });

  it('moving the vendor\'s contract end into the past ends its technicians\' grants and cancels their requests', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w);
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    const pending = await requestAccess(h, colleague, w.device.id);
    const bystander = await world(h, { approvers: 1 });
    const untouched = await grantFor(h, bystander);

    const yesterday = plus(-24 * HOUR).toISOString().slice(0, 10);
    expect((await as(h, w.admin).patch(`/api/vendors/${w.vendor.id}`, { contractEnd: yesterday })).status).toBe(200);
    await expectRevoked(g, /contract/);
    expect((await requestRow(h, pending.id)).status).toBe('cancelled');
    expect((await grantRow(h, untouched.id)).status).toBe('active');
  });

  it('a contract end moved earlier but still after a grant leaves it; a later grant past the new end is revoked', async () => {
    const w = await world(h, { approvers: 1 });
    const today = T0.toISOString().slice(0, 10);
    const now = await grantFor(h, w, { durationMinutes: 30 });
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    const tomorrow = (await approve(h, w.approvers[0]!, (await requestAccess(h, colleague, w.device.id, { startsAt: plus(24 * HOUR).toISOString() })).id)).grant!;
    expect((await as(h, w.admin).patch(`/api/vendors/${w.vendor.id}`, { contractEnd: today })).status).toBe(200);
    expect((await grantRow(h, now.id)).status).toBe('active');
    await expectRevoked(tomorrow, /contract/);
  });
});

describe('extensions need a fresh approval', () => {
  it('without approval the original end stands (and the extension request is cancelled with it)', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { durationMinutes: 30 });
    h.clock.advance(20 * MIN);
    const ext = await as(h, w.tech).post(`/api/grants/${g.id}/extend`, { minutes: 15, reason: 'firmware flash is slow' });
    expect(ext.status, JSON.stringify(ext.body)).toBe(201);
    expect(ext.body).toMatchObject({ kind: 'extension', status: 'pending', extendsGrantId: g.id, durationMinutes: 15, startsAt: g.endsAt });

    await runAt(h, g.endsAt);
    expect(await grantRow(h, g.id)).toMatchObject({ status: 'expired', ends_at: new Date(g.endsAt) });
    expect(endedEvents(h, g.id)).toEqual([expect.objectContaining({ reason: 'expired' })]);
    expect((await requestRow(h, ext.body.id)).status).toBe('cancelled');
    expectError(await as(h, w.approvers[0]!).post(`/api/access-requests/${ext.body.id}/approve`, {}), 409, 'conflict');
    expect((await grantRow(h, g.id)).status).toBe('expired');
  });

  it('with approval the end moves: expiry and warning jobs move, grant.extended is published and audited', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { durationMinutes: 30 });
    const oldEnd = new Date(g.endsAt);
    const newEnd = plus(15 * MIN, oldEnd);
    h.clock.advance(26 * MIN);
    await runAt(h, h.clock.now()); // the T-5 warning has been given
    const ext = await as(h, w.tech).post(`/api/grants/${g.id}/extend`, { minutes: 15, reason: 'firmware flash is slow' });
    expect(ext.status, JSON.stringify(ext.body)).toBe(201);

    const { grant, request } = await approve(h, w.approvers[0]!, ext.body.id);
    expect(request.status).toBe('approved');
    expect(grant).toMatchObject({ id: g.id, status: 'active', endsAt: newEnd.toISOString(), startsAt: g.startsAt });
    expect(jobsOf(g.id)).toEqual({
      [`grant-warn5-${g.id}`]: plus(-5 * MIN, newEnd).toISOString(),
      [`grant-warn1-${g.id}`]: plus(-1 * MIN, newEnd).toISOString(),
      [`grant-expire-${g.id}`]: newEnd.toISOString(),
    });
    expect(h.bus.published).toContainEqual({ type: 'grant.extended', grantId: g.id, endsAt: newEnd.toISOString() });
    const extended = (await auditOf(h, g.id)).filter((e) => e.action === 'grant.extended');
    expect(extended).toEqual([expect.objectContaining({ actor_id: w.approvers[0]!.user.id,
      details: expect.objectContaining({ from: oldEnd.toISOString(), to: newEnd.toISOString(), requestId: ext.body.id }) })]);
    expect(h.notifier.events).toContainEqual(expect.objectContaining({ type: 'grant.changed', grantId: g.id, status: 'extended', endsAt: newEnd.toISOString() }));

    await runAt(h, oldEnd);
    expect((await grantRow(h, g.id)).status).toBe('active');
    // a stale expiry job for the old end (already queued elsewhere) does not end it either
    await handleJob(h.deps, { kind: 'grant.expire', grantId: g.id, dueAt: oldEnd.toISOString() });
    expect((await grantRow(h, g.id)).status).toBe('active');
    await runAt(h, plus(-5 * MIN, newEnd));
    await runAt(h, plus(-1 * MIN, newEnd));
    await runAt(h, newEnd);
    expect((await grantRow(h, g.id)).status).toBe('expired');
    // warnings given again for the new end: 5 before the extension, then 5 and 1
    const warned = (await auditOf(h, g.id)).filter((e) => e.action === 'grant.warned').map((e) => e.details.minutesLeft);
    expect(warned).toEqual([5, 5, 1]);
  });

  it('refusals: someone else\'s grant (404), a scheduled grant (409), over the maximum (400), a second pending extension (409)', async () => {
    const w = await world(h, { approvers: 1, device: { policy: { maxSessionMinutes: 60 } } });
    const g = await grantFor(h, w);
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    const extend = (p: typeof w.tech, id: string, body: object = { minutes: 10, reason: 'more time' }) => as(h, p).post(`/api/grants/${id}/extend`, body);

    expectError(await extend(colleague, g.id), 404, 'not_found');
    expect(expectError(await extend(w.tech, g.id, { minutes: 61, reason: 'x' }), 400, 'invalid').message).toMatch(/maximum/);
    expect(expectError(await extend(w.tech, g.id, { minutes: 0, reason: 'x' }), 400, 'invalid').message).toMatch(/minutes/);
    expect(expectError(await extend(w.tech, g.id, { minutes: 10 }), 400, 'invalid').message).toMatch(/reason/);
    expect((await extend(w.tech, g.id)).status).toBe(201);
    expect(expectError(await extend(w.tech, g.id), 409, 'conflict').message).toMatch(/pending/);

    const scheduled = await grantFor(h, { ...w, tech: colleague }, { startsAt: plus(2 * HOUR).toISOString() });
    expect(expectError(await extend(colleague, scheduled.id), 409, 'conflict').message).toMatch(/scheduled/);
  });

  it('a grant whose end has passed (expiry job not run yet) cannot be extended', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { durationMinutes: 30 });
    h.scheduler.jobs.clear(); // the worker is down
    h.clock.set(plus(1000, new Date(g.endsAt)));
    const res = await as(h, w.tech).post(`/api/grants/${g.id}/extend`, { minutes: 10, reason: 'more time' });
    expectError(res, 409, 'conflict');
  });

  it('revoking a grant closes its pending extension request, so the technician may ask again later', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { durationMinutes: 60 });
    const ext = await as(h, w.tech).post(`/api/grants/${g.id}/extend`, { minutes: 15, reason: 'more time' });
    expect(ext.status).toBe(201);
    expect((await as(h, w.approvers[0]!).post(`/api/grants/${g.id}/revoke`, { reason: 'alarm' })).status).toBe(200);
    // the extension is moot: it must neither block a new request nor wait in the approvers' queue
    const again = await as(h, w.tech).post('/api/access-requests', requestBody(w.device.id));
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await requestRow(h, ext.body.id)).status).toBe('cancelled');
  });
});

describe('restart safety: reconcile()', () => {
  it('a grant whose end passed while nothing ran is expired and audited exactly once; a second pass changes nothing', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { durationMinutes: 30 });
    h.scheduler.jobs.clear(); // the worker died and its queue was lost
    h.clock.set(plus(HOUR));

    await reconcile(h.deps);
    expect(await grantRow(h, g.id)).toMatchObject({ status: 'expired' });
    const expiredOnce = async () => (await auditOf(h, g.id)).filter((e) => e.action === 'grant.expired');
    expect(await expiredOnce()).toEqual([expect.objectContaining({ actor_type: 'system', actor_id: 'scheduler' })]);
    expect(endedEvents(h, g.id)).toEqual([expect.objectContaining({ reason: 'expired' })]);

    const auditBefore = (await h.pool.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n;
    await reconcile(h.deps);
    expect(await expiredOnce()).toHaveLength(1);
    expect(endedEvents(h, g.id)).toHaveLength(1);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n).toBe(auditBefore);
    expect(h.scheduler.for(g.id)).toEqual([]);
  });

  it('restores the lost jobs of open grants and pending requests, without duplicates', async () => {
    const w = await world(h, { approvers: 1 });
    const active = await grantFor(h, w, { durationMinutes: 30 });
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    const scheduled = (await approve(h, w.approvers[0]!, (await requestAccess(h, colleague, w.device.id, { startsAt: plus(2 * HOUR).toISOString() })).id)).grant!;
    const third = await person(h, ['technician'], { vendorId: w.vendor.id });
    const pending = await requestAccess(h, third, w.device.id);
    const before = { active: jobsOf(active.id), scheduled: jobsOf(scheduled.id), pending: jobsOf(pending.id) };
    expect(Object.keys(before.scheduled)).toHaveLength(4);

    h.scheduler.jobs.clear();
    await reconcile(h.deps);
    expect({ active: jobsOf(active.id), scheduled: jobsOf(scheduled.id), pending: jobsOf(pending.id) }).toEqual(before);
    const size = h.scheduler.jobs.size;
    await reconcile(h.deps);
    expect(h.scheduler.jobs.size).toBe(size);
    expect((await grantRow(h, active.id)).status).toBe('active');
    expect((await grantRow(h, scheduled.id)).status).toBe('scheduled');
  });

  it('a scheduled grant whose start passed is activated (once) and keeps its expiry; a lapsed request is expired', async () => {
    const w = await world(h, { approvers: 1 });
    const g = await grantFor(h, w, { startsAt: plus(HOUR).toISOString(), durationMinutes: 60 });
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    const pending = await requestAccess(h, colleague, w.device.id);
    h.scheduler.jobs.clear();
    h.clock.set(plus(90 * MIN));
    await reconcile(h.deps);
    await reconcile(h.deps);
    expect((await grantRow(h, g.id)).status).toBe('active');
    expect((await actionsOf(h, g.id)).filter((a) => a === 'grant.activated')).toHaveLength(1);
    expect(jobsOf(g.id)).toMatchObject({ [`grant-expire-${g.id}`]: plus(2 * HOUR).toISOString() });
    expect((await requestRow(h, pending.id)).status).toBe('pending');

    h.clock.set(plus(25 * HOUR));
    h.scheduler.jobs.clear();
    await reconcile(h.deps);
    expect((await requestRow(h, pending.id)).status).toBe('expired');
    expect((await grantRow(h, g.id)).status).toBe('expired');
    expect((await actionsOf(h, pending.id)).filter((a) => a === 'request.expired')).toHaveLength(1);
  });
});
