/**
 * The access workflow over the HTTP API: request → decisions → grant → scheduled jobs, driven by
 * the fake clock and the fake scheduler (no sleeps). Refusals: workflow-refusals.test.ts;
 * revocation, extension and restart safety: workflow-grants.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handleJob } from '../../server/core/reconcile.js';
import { jobId } from '../../server/core/workflow-ports.js';
import { expectError } from '../support/fixtures.js';
import type { Harness } from '../support/harness.js';
import {
  actionsOf, approve, as, auditOf, endedEvents, grantFor, HOUR, MIN, person, requestAccess, requestBody, requestRow,
  runAt, runDue, world, type GrantJson, isolatedHarness, plus,
} from '../support/workflow-fixtures.js';

// pg warns (once per process) when a second query is sent on a client that is still busy: inside a
// transaction that is two queries racing on one connection, which pg@9 turns into an error
const concurrentQueryWarnings: string[] = [];
process.on('warning', (w) => {
  if (/already executing a query/.test(w.message)) concurrentQueryWarnings.push(w.stack ?? w.message);
});

const ctx = isolatedHarness();
let h: Harness;
beforeAll(() => {
  h = ctx.h;
});

const grantsOfRequest = async (requestId: string) =>
  (await h.pool.query('SELECT id, status FROM grants WHERE request_id = $1', [requestId])).rows as { id: string; status: string }[];

describe('request → approval → grant', () => {
  it('without startsAt the grant is active at once, from the approval, with its warnings and expiry queued', async () => {
    const w = await world(h, { approvers: 1 });
    const req = await requestAccess(h, w.tech, w.device.id, { durationMinutes: 30 });
    expect(req).toMatchObject({ status: 'pending', startsOnApproval: true, kind: 'access' });
    expect(h.scheduler.for(req.id).map((j) => j.kind)).toEqual(['request.expire']);

    h.clock.advance(10 * MIN);
    const approvedAt = h.clock.now();
    const { request, grant } = await approve(h, w.approvers[0]!, req.id);
    expect(request.status).toBe('approved');
    expect(grant).toMatchObject({ status: 'active', requestId: req.id, technicianId: w.tech.user.id, deviceId: w.device.id });
    expect(new Date(grant!.startsAt)).toEqual(approvedAt);
    expect(new Date(grant!.endsAt)).toEqual(plus(30 * MIN, approvedAt));

    expect(h.scheduler.for(req.id)).toEqual([]); // the request's TTL job is gone
    const jobs = Object.fromEntries(h.scheduler.for(grant!.id).map((j) => [jobId(j), j.dueAt]));
    expect(jobs).toEqual({
      [`grant-warn5-${grant!.id}`]: plus(25 * MIN, approvedAt).toISOString(),
      [`grant-warn1-${grant!.id}`]: plus(29 * MIN, approvedAt).toISOString(),
      [`grant-expire-${grant!.id}`]: plus(30 * MIN, approvedAt).toISOString(),
    });
    expect(await actionsOf(h, req.id, grant!.id)).toEqual([
      'request.created', 'request.approved_by', 'grant.scheduled', 'grant.activated', 'request.approved',
    ]);
  });

  it('with a future startsAt: scheduled, activated at start, warned at T-5 and T-1 once each, expired at the end', async () => {
    const w = await world(h, { approvers: 1 });
    const [tech, approver] = [w.tech.user.id, w.approvers[0]!.user.id];
    const start = plus(2 * HOUR);
    const end = plus(30 * MIN, start);
    const req = await requestAccess(h, w.tech, w.device.id, { startsAt: start.toISOString(), durationMinutes: 30 });
    expect(req).toMatchObject({ startsOnApproval: false, startsAt: start.toISOString() });

    h.clock.advance(10 * MIN);
    const { grant } = await approve(h, w.approvers[0]!, req.id);
    expect(grant).toMatchObject({ status: 'scheduled', startsAt: start.toISOString(), endsAt: end.toISOString() });
    const g = grant!.id;
    expect(h.scheduler.for(g).find((j) => j.kind === 'grant.activate')?.dueAt).toBe(start.toISOString());

    expect(await runAt(h, plus(-1000, start))).toEqual([]); // nothing before its time
    await runAt(h, start);
    expect((await as(h, w.tech).get(`/api/grants/${g}`)).body.status).toBe('active');

    await runAt(h, plus(-5 * MIN, end));
    // a repeated warning job (a retry, a duplicate delivery) is not audited twice
    await handleJob(h.deps, { kind: 'grant.warn', grantId: g, minutesLeft: 5, dueAt: plus(-5 * MIN, end).toISOString() });
    await runAt(h, plus(-1 * MIN, end));
    await handleJob(h.deps, { kind: 'grant.warn', grantId: g, minutesLeft: 1, dueAt: plus(-1 * MIN, end).toISOString() });
    expect((await as(h, w.tech).get(`/api/grants/${g}`)).body.status).toBe('active');
    expect(endedEvents(h, g)).toEqual([]);

    await runAt(h, end);
    const after = (await as(h, w.tech).get(`/api/grants/${g}`)).body;
    expect(after).toMatchObject({ status: 'expired', endedAt: end.toISOString() });
    expect(endedEvents(h, g)).toEqual([expect.objectContaining({ type: 'grant.ended', grantIds: [g], reason: 'expired' })]);
    expect(h.scheduler.for(g)).toEqual([]);

    const trail = (await auditOf(h, req.id, g)).map((e) => [e.action, e.actor_type, e.actor_id]);
    expect(trail).toEqual([
      ['request.created', 'user', tech],
      ['request.approved_by', 'user', approver],
      ['grant.scheduled', 'user', approver],
      ['request.approved', 'user', approver],
      ['grant.activated', 'system', 'scheduler'],
      ['grant.warned', 'system', 'scheduler'],
      ['grant.warned', 'system', 'scheduler'],
      ['grant.expired', 'system', 'scheduler'],
    ]);
    const warned = (await auditOf(h, g)).filter((e) => e.action === 'grant.warned').map((e) => e.details.minutesLeft);
    expect(warned).toEqual([5, 1]);
  });

  it('the clock starts at the window start: a "now" request approved 3 hours later gets its full duration', async () => {
    const w = await world(h, { approvers: 1 });
    const req = await requestAccess(h, w.tech, w.device.id, { durationMinutes: 45 });
    h.clock.advance(3 * HOUR);
    const { grant } = await approve(h, w.approvers[0]!, req.id);
    expect(grant).toMatchObject({ status: 'active', startsAt: plus(3 * HOUR).toISOString(), endsAt: plus(3 * HOUR + 45 * MIN).toISOString() });
  });

  it('a scheduled request approved after its start gets what is left of its window, active at once', async () => {
    const w = await world(h, { approvers: 1 });
    const start = plus(HOUR);
    const req = await requestAccess(h, w.tech, w.device.id, { startsAt: start.toISOString(), durationMinutes: 60 });
    h.clock.set(plus(20 * MIN, start));
    const { grant } = await approve(h, w.approvers[0]!, req.id);
    expect(grant).toMatchObject({ status: 'active', startsAt: plus(20 * MIN, start).toISOString(), endsAt: plus(60 * MIN, start).toISOString() });
  });
});

describe('N distinct approvals; one deny ends the request', () => {
  it('a critical device needs two distinct approvers', async () => {
    const w = await world(h, { approvers: 2, device: { criticality: 'critical' } });
    expect(w.device.policy.approvalsRequired).toBe(2);
    const [a1, a2] = w.approvers as [typeof w.tech, typeof w.tech];
    const req = await requestAccess(h, w.tech, w.device.id);

    const first = await approve(h, a1, req.id);
    expect(first.request.status).toBe('pending');
    expect(first.grant).toBeNull();
    const decided = h.notifier.events.filter((e) => e.type === 'request.decided' && e.request.requestId === req.id);
    expect(decided).toEqual([expect.objectContaining({ outcome: 'pending', request: expect.objectContaining({ approvalsSoFar: 1, approvalsRequired: 2 }) })]);
    expect(await grantsOfRequest(req.id)).toEqual([]);

    const again = expectError(await as(h, a1).post(`/api/access-requests/${req.id}/approve`, {}), 409, 'conflict');
    expect(again.message).toMatch(/already decided/);

    const second = await approve(h, a2, req.id);
    expect(second.request.status).toBe('approved');
    expect(second.grant).toMatchObject({ status: 'active' });
    const view = (await as(h, w.tech).get(`/api/access-requests/${req.id}`)).body;
    expect(view.decisions.map((d: { approverId: string }) => d.approverId)).toEqual([a1.user.id, a2.user.id]);
    expect(view.grant?.id).toBe(second.grant!.id);
  });

  it('one deny ends the request: denied, no grant, later approvals are 409', async () => {
    const w = await world(h, { approvers: 3, device: { criticality: 'critical' } });
    const [a1, a2, a3] = w.approvers as [typeof w.tech, typeof w.tech, typeof w.tech];
    const req = await requestAccess(h, w.tech, w.device.id);
    await approve(h, a1, req.id);
    const deny = await as(h, a2).post(`/api/access-requests/${req.id}/deny`, { comment: 'not during the night shift' });
    expect(deny.status, JSON.stringify(deny.body)).toBe(200);
    expect(deny.body).toMatchObject({ request: { status: 'denied' }, grant: null, decision: { decision: 'deny', comment: 'not during the night shift' } });

    const late = expectError(await as(h, a3).post(`/api/access-requests/${req.id}/approve`, {}), 409, 'conflict');
    expect(late.message).toMatch(/denied/);
    expect(await grantsOfRequest(req.id)).toEqual([]);
    expect((await requestRow(h, req.id)).status).toBe('denied');
    expect(await actionsOf(h, req.id)).toEqual(['request.created', 'request.approved_by', 'request.denied_by', 'request.denied']);
    // the technician may ask again
    await requestAccess(h, w.tech, w.device.id);
  });
});

describe('separation of duties', () => {
  it('nobody approves their own request; other departments, auditors and technicians cannot decide', async () => {
    const w = await world(h, { approvers: 1 });
    // technician of the vendor and approver of the device's department at once
    const both = await person(h, ['technician', 'approver'], { vendorId: w.vendor.id, department: w.device.policy.approverDepartment });
    const req = await requestAccess(h, both, w.device.id);

    const own = expectError(await as(h, both).post(`/api/access-requests/${req.id}/approve`, {}), 403, 'forbidden');
    expect(own.message).toMatch(/own request/);
    expectError(await as(h, both).post(`/api/access-requests/${req.id}/deny`, {}), 403, 'forbidden');

    const elsewhere = await person(h, ['approver'], { department: 'radiology-other' });
    expect(expectError(await as(h, elsewhere).post(`/api/access-requests/${req.id}/approve`, {}), 403, 'forbidden').message).toMatch(/department/);
    const auditor = await person(h, ['auditor']);
    expect(expectError(await as(h, auditor).post(`/api/access-requests/${req.id}/approve`, {}), 403, 'forbidden').message).toMatch(/approver/);
    expectError(await as(h, w.tech).post(`/api/access-requests/${req.id}/approve`, {}), 403, 'forbidden');

    expect((await h.pool.query('SELECT count(*)::int AS n FROM decisions WHERE request_id = $1', [req.id])).rows[0].n).toBe(0);
    expect((await requestRow(h, req.id)).status).toBe('pending');
    // a colleague can
    expect((await approve(h, w.approvers[0]!, req.id)).grant).not.toBeNull();
  });
});

describe('races (conditional writes under concurrency)', () => {
  const ROUNDS = 5;

  it('two approvers at once on a 1-approval device: exactly one grant, one 200 and one 409', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const w = await world(h, { approvers: 2 });
      const req = await requestAccess(h, w.tech, w.device.id);
      const results = await Promise.all(w.approvers.map((a) => as(h, a).post(`/api/access-requests/${req.id}/approve`, {})));
      expect(results.map((r) => r.status).sort(), JSON.stringify(results.map((r) => r.body))).toEqual([200, 409]);
      expect(await grantsOfRequest(req.id)).toHaveLength(1);
      expect((await requestRow(h, req.id)).status).toBe('approved');
      expect((await actionsOf(h, req.id)).filter((a) => a === 'request.approved')).toHaveLength(1);
    }
  });

  it('two approvers at once on a 2-approval device: both count, exactly one grant', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const w = await world(h, { approvers: 2, device: { criticality: 'critical' } });
      const req = await requestAccess(h, w.tech, w.device.id);
      const results = await Promise.all(w.approvers.map((a) => as(h, a).post(`/api/access-requests/${req.id}/approve`, {})));
      expect(results.map((r) => r.status), JSON.stringify(results.map((r) => r.body))).toEqual([200, 200]);
      expect(results.filter((r) => r.body.grant !== null)).toHaveLength(1);
      expect(await grantsOfRequest(req.id)).toHaveLength(1);
      expect((await requestRow(h, req.id)).status).toBe('approved');
    }
  });

  it('the same technician asking twice at once: one request, one 409', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const w = await world(h, { approvers: 1 });
      const results = await Promise.all([1, 2].map(() => as(h, w.tech).post('/api/access-requests', requestBody(w.device.id))));
      expect(results.map((r) => r.status).sort(), JSON.stringify(results.map((r) => r.body))).toEqual([201, 409]);
      const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM access_requests WHERE device_id = $1', [w.device.id]);
      expect(rows[0].n).toBe(1);
    }
  });
});

describe('pending requests: TTL and cancellation', () => {
  it('a request nobody decides lapses after 24 h (audited by the scheduler); approving it then is 409', async () => {
    const w = await world(h, { approvers: 1 });
    const req = await requestAccess(h, w.tech, w.device.id);
    expect(req.expiresAt).toBe(plus(24 * HOUR).toISOString());
    await runAt(h, plus(24 * HOUR - 1000));
    expect((await requestRow(h, req.id)).status).toBe('pending');
    // lapsed but its job not run yet (worker busy): too late to approve all the same
    h.clock.set(plus(24 * HOUR));
    expect(expectError(await as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, {}), 409, 'conflict').message).toMatch(/expired/);
    await runAt(h, plus(24 * HOUR + MIN));
    expect((await requestRow(h, req.id)).status).toBe('expired');
    const lapsed = (await auditOf(h, req.id)).filter((e) => e.action === 'request.expired');
    expect(lapsed).toEqual([expect.objectContaining({ actor_type: 'system', actor_id: 'scheduler' })]);
    expect(h.notifier.events).toContainEqual(expect.objectContaining({ type: 'request.closed', status: 'expired', request: expect.objectContaining({ requestId: req.id }) }));
    expectError(await as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, {}), 409, 'conflict');
    expect(await grantsOfRequest(req.id)).toEqual([]);
  });

  it('the technician cancels their own pending request; not someone else\'s (404) nor a decided one (409)', async () => {
    const w = await world(h, { approvers: 1 });
    const req = await requestAccess(h, w.tech, w.device.id);
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    expectError(await as(h, colleague).post(`/api/access-requests/${req.id}/cancel`), 404, 'not_found');
    expect((await requestRow(h, req.id)).status).toBe('pending');

    const res = await as(h, w.tech).post(`/api/access-requests/${req.id}/cancel`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect(h.scheduler.for(req.id)).toEqual([]);
    expect((await auditOf(h, req.id)).map((e) => [e.action, e.actor_id])).toEqual([
      ['request.created', w.tech.user.id], ['request.cancelled', w.tech.user.id],
    ]);
    expectError(await as(h, w.tech).post(`/api/access-requests/${req.id}/cancel`), 409, 'conflict');
    expectError(await as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, {}), 409, 'conflict');

    const approved = await requestAccess(h, w.tech, w.device.id);
    await approve(h, w.approvers[0]!, approved.id);
    expect(expectError(await as(h, w.tech).post(`/api/access-requests/${approved.id}/cancel`), 409, 'conflict').message).toMatch(/approved/);
  });
});

describe('listing is scoped by role', () => {
  it('technicians see their own, approvers their department\'s, auditors everything', async () => {
    const a = await world(h, { approvers: 1 });
    const b = await world(h, { approvers: 1 });
    const ga = await grantFor(h, a);
    const gb = await grantFor(h, b);
    const colleagueOfA = await person(h, ['technician'], { vendorId: a.vendor.id });
    const auditor = await person(h, ['auditor']);
    const ids = async (p: typeof a.tech, path: string) =>
      ((await as(h, p).get(path)).body.items as { id: string }[]).map((x) => x.id);

    const [ra, rb] = [ga.requestId, gb.requestId];
    expect(await ids(a.tech, '/api/access-requests')).toEqual([ra]);
    expect(await ids(a.tech, '/api/grants')).toEqual([ga.id]);
    expect(await ids(colleagueOfA, '/api/access-requests')).toEqual([]);
    expect(await ids(colleagueOfA, '/api/grants')).toEqual([]);
    expect(await ids(a.approvers[0]!, '/api/access-requests')).toEqual([ra]);
    expect(await ids(a.approvers[0]!, '/api/grants')).toEqual([ga.id]);
    expect(await ids(b.approvers[0]!, '/api/grants')).toEqual([gb.id]);
    const all = await ids(auditor, '/api/access-requests');
    expect(all).toEqual(expect.arrayContaining([ra, rb]));
    expect(await ids(auditor, '/api/grants')).toEqual(expect.arrayContaining([ga.id, gb.id]));

    expectError(await as(h, a.tech).get(`/api/access-requests/${rb}`), 404, 'not_found');
    expectError(await as(h, colleagueOfA).get(`/api/access-requests/${ra}`), 404, 'not_found');
    expectError(await as(h, b.approvers[0]!).get(`/api/access-requests/${ra}`), 404, 'not_found');
    expectError(await as(h, a.tech).get(`/api/grants/${gb.id}`), 404, 'not_found');
    expect((await as(h, auditor).get(`/api/access-requests/${rb}`)).status).toBe(200);
    expect((await as(h, a.tech).get('/api/access-requests?status=approved')).body.items).toHaveLength(1);
    expect((await as(h, a.tech).get('/api/access-requests?status=pending')).body.items).toHaveLength(0);
  });

  it('GET /api/access-requests/:id shows the grant that request created, also once a newer grant exists', async () => {
    const w = await world(h, { approvers: 1 });
    const first = await grantFor(h, w, { durationMinutes: 30 });
    await runAt(h, plus(31 * MIN)); // the first grant expires
    expect((await as(h, w.tech).get(`/api/grants/${first.id}`)).body.status).toBe('expired');
    const second = await grantFor(h, w, { durationMinutes: 30 });
    const view1 = (await as(h, w.tech).get(`/api/access-requests/${first.requestId}`)).body as { grant: GrantJson | null };
    const view2 = (await as(h, w.tech).get(`/api/access-requests/${second.requestId}`)).body as { grant: GrantJson | null };
    expect(view2.grant?.id).toBe(second.id);
    expect(view1.grant?.id).toBe(first.id);
  });
});

describe('notifications carry names, not only ids', () => {
  it('request.created, request.decided and grant.changed', async () => {
    const w = await world(h, { approvers: 1 });
    const req = await requestAccess(h, w.tech, w.device.id, { reason: 'pump alarm log review' });
    const created = h.notifier.events.find((e) => e.type === 'request.created' && e.request.requestId === req.id);
    expect(created).toMatchObject({
      request: {
        kind: 'access', reason: 'pump alarm log review', durationMinutes: 30, startsAt: null, approvalsRequired: 1, approvalsSoFar: 0,
        device: { id: w.device.id, name: w.device.name, approverDepartment: w.device.policy.approverDepartment },
        vendor: { id: w.vendor.id, name: w.vendor.name },
        technician: { id: w.tech.user.id, username: w.tech.user.username, displayName: w.tech.user.displayName },
      },
    });

    const { grant } = await approve(h, w.approvers[0]!, req.id, 'go ahead');
    const decided = h.notifier.events.find((e) => e.type === 'request.decided' && e.request.requestId === req.id);
    expect(decided).toMatchObject({
      decision: 'approve', outcome: 'approved', comment: 'go ahead',
      approver: { id: w.approvers[0]!.user.id, displayName: w.approvers[0]!.user.displayName },
      request: { device: { name: w.device.name }, vendor: { name: w.vendor.name }, technician: { displayName: w.tech.user.displayName } },
    });
    const changed = h.notifier.events.filter((e) => e.type === 'grant.changed' && e.grantId === grant!.id);
    expect(changed).toEqual([expect.objectContaining({ status: 'active', startsAt: grant!.startsAt, endsAt: grant!.endsAt,
      request: expect.objectContaining({ device: expect.objectContaining({ name: w.device.name }) }) })]);

    await runAt(h, grant!.endsAt);
    expect(h.notifier.events.filter((e) => e.type === 'grant.changed' && e.grantId === grant!.id).map((e) => (e as { status: string }).status))
      .toEqual(['active', 'expired']);
    await runDue(h);
  });
});

describe('transactions', () => {
  it('never send two queries at once on their connection (pg@9 refuses that)', async () => {
    const w = await world(h, { approvers: 1 });
    await grantFor(h, w);
    await new Promise((resolve) => setImmediate(resolve));
    expect(concurrentQueryWarnings).toEqual([]);
  });
});
