/**
 * Every refusal of POST /api/access-requests (and of an approval that would break a rule that
 * changed since the request): the status, a message naming the rule, and nothing written.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { countRows, createDevice, expectError } from '../support/fixtures.js';
import type { Harness } from '../support/harness.js';
import { approve, as, grantFor, hostKey, HOUR, MIN, person, requestAccess, requestBody, world, type Person, isolatedHarness, plus, T0 } from '../support/workflow-fixtures.js';

const ctx = isolatedHarness();
let h: Harness;
beforeAll(() => {
  h = ctx.h;
});

const TABLES = ['access_requests', 'decisions', 'grants', 'audit_events'];

/** Sends the request, expects the refusal, and proves no row was written and no job/notification made. */
async function refused(send: () => Promise<{ status: number; body: unknown }>, status: number, code: string, message: RegExp) {
  const before = await countRows(h.pool, TABLES);
  const [jobs, notes, events] = [h.scheduler.jobs.size, h.notifier.events.length, h.bus.published.length];
  const err = expectError(await send(), status, code);
  expect(err.message).toMatch(message);
  expect(await countRows(h.pool, TABLES)).toEqual(before);
  expect([h.scheduler.jobs.size, h.notifier.events.length, h.bus.published.length]).toEqual([jobs, notes, events]);
  return err;
}

const ask = (tech: Person, body: object) => () => as(h, tech).post('/api/access-requests', body);

describe('the device', () => {
  it('staged or suspended (not deployed) → 409 naming the state', async () => {
    const w = await world(h);
    const staged = await createDevice(h, await w.admin.auth(), { vendorIds: [w.vendor.id], hostKey: hostKey() });
    await refused(ask(w.tech, requestBody(staged.id)), 409, 'conflict', /staged, not deployed/);

    await as(h, w.admin).post(`/api/devices/${w.device.id}/lifecycle`, { state: 'suspended', reason: 'firmware recall' }).then((r) => expect(r.status).toBe(200));
    await refused(ask(w.tech, requestBody(w.device.id)), 409, 'conflict', /suspended, not deployed/);
  });

  it('retired → 409', async () => {
    const w = await world(h);
    await as(h, w.admin).post(`/api/devices/${w.device.id}/lifecycle`, { state: 'retired', reason: 'replaced' }).then((r) => expect(r.status).toBe(200));
    await refused(ask(w.tech, requestBody(w.device.id)), 409, 'conflict', /retired/);
  });

  it('a device the vendor is not contracted for does not exist for its technicians (404, as GET /api/devices/:id)', async () => {
    const w = await world(h);
    const other = await world(h);
    await refused(ask(w.tech, requestBody(other.device.id)), 404, 'not_found', /device not found/);
    expectError(await as(h, w.tech).get(`/api/devices/${other.device.id}`), 404, 'not_found');
    await refused(ask(w.tech, requestBody('00000000-0000-4000-8000-000000000000')), 404, 'not_found', /device not found/);
  });
});

describe('the vendor contract', () => {
  it('ended (contractEnd moved to yesterday) → 403', async () => {
    const w = await world(h);
    const yesterday = plus(-24 * HOUR).toISOString().slice(0, 10);
    const patched = await as(h, w.admin).patch(`/api/vendors/${w.vendor.id}`, { contractEnd: yesterday });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    await refused(ask(w.tech, requestBody(w.device.id)), 403, 'forbidden', /contract has ended/);
  });

  it('a window that runs past the contract\'s last day → 400 naming the day', async () => {
    const today = T0.toISOString().slice(0, 10);
    const w = await world(h, { vendor: { contractEnd: today } });
    const late = plus(14 * HOUR + 45 * MIN); // 23:45 on the last day
    await refused(ask(w.tech, requestBody(w.device.id, { startsAt: late.toISOString(), durationMinutes: 30 })), 400, 'invalid',
      new RegExp(`contract.*${today}`));
    await refused(ask(w.tech, requestBody(w.device.id, { startsAt: plus(24 * HOUR).toISOString() })), 400, 'invalid', /contract/);
    // ending within the last day is fine
    await requestAccess(h, w.tech, w.device.id, { startsAt: late.toISOString(), durationMinutes: 14 });
  });
});

describe('the device policy', () => {
  it('a duration over the device\'s maximum → 400 naming the maximum', async () => {
    const w = await world(h, { device: { policy: { maxSessionMinutes: 60 } } });
    await refused(ask(w.tech, requestBody(w.device.id, { durationMinutes: 61 })), 400, 'invalid', /maximum of 60 minutes/);
    await requestAccess(h, w.tech, w.device.id, { durationMinutes: 60 });
  });

  it('a window outside the maintenance window → 400 naming the window', async () => {
    const mw = { days: [1, 2, 3, 4, 5], start: '08:00', end: '17:00', timezone: 'Europe/Berlin' };
    const w = await world(h, { device: { policy: { maintenanceWindow: mw } } });
    const saturday = new Date('2031-03-08T10:00:00Z');
    await refused(ask(w.tech, requestBody(w.device.id, { startsAt: saturday.toISOString() })), 400, 'invalid',
      /maintenance window.*08:00.*17:00.*Europe\/Berlin/);
    // Monday 15:45 UTC = 16:45 Berlin: 30 minutes would run past 17:00
    await refused(ask(w.tech, requestBody(w.device.id, { startsAt: '2031-03-03T15:45:00Z', durationMinutes: 30 })), 400, 'invalid', /maintenance window/);
    // "now" at 17:30 Berlin
    h.clock.set(new Date('2031-03-03T16:30:00Z'));
    await refused(ask(w.tech, requestBody(w.device.id)), 400, 'invalid', /maintenance window/);
    h.clock.set(T0);
    await requestAccess(h, w.tech, w.device.id, { startsAt: '2031-03-03T15:30:00Z', durationMinutes: 30 });
  });
});

describe('one open request or grant per technician and device', () => {
  it('a second pending request for the same device → 409', async () => {
    const w = await world(h);
    await requestAccess(h, w.tech, w.device.id);
    await refused(ask(w.tech, requestBody(w.device.id, { startsAt: plus(2 * HOUR).toISOString() })), 409, 'conflict', /pending request/);
    // a colleague may still ask
    await requestAccess(h, await person(h, ['technician'], { vendorId: w.vendor.id }), w.device.id);
  });

  it('a request while holding an active (or scheduled) grant → 409', async () => {
    const w = await world(h, { approvers: 1 });
    await grantFor(h, w);
    await refused(ask(w.tech, requestBody(w.device.id)), 409, 'conflict', /already have a grant/);
    const v = await world(h, { approvers: 1 });
    await grantFor(h, v, { startsAt: plus(5 * HOUR).toISOString() });
    await refused(ask(v.tech, requestBody(v.device.id)), 409, 'conflict', /already have a grant/);
  });
});

describe('who may ask', () => {
  it('approvers, auditors and admins cannot request access (403)', async () => {
    const w = await world(h);
    for (const p of [w.approvers[0]!, await person(h, ['auditor']), w.admin]) {
      await refused(ask(p, requestBody(w.device.id)), 403, 'forbidden', /technician/);
    }
  });
});

describe('bad bodies → 400 naming the field, nothing written', () => {
  const cases: [string, (deviceId: string) => Record<string, unknown>, RegExp][] = [
    ['missing reason', (id) => { const b: Record<string, unknown> = requestBody(id); delete b.reason; return b; }, /reason/],
    ['blank reason', (id) => requestBody(id, { reason: '   ' }), /reason/],
    ['missing ticketRef', (id) => { const b: Record<string, unknown> = requestBody(id); delete b.ticketRef; return b; }, /ticketRef/],
    ['missing durationMinutes', (id) => { const b: Record<string, unknown> = requestBody(id); delete b.durationMinutes; return b; }, /durationMinutes/],
    ['durationMinutes 0', (id) => requestBody(id, { durationMinutes: 0 }), /durationMinutes/],
    ['durationMinutes 1.5', (id) => requestBody(id, { durationMinutes: 1.5 }), /durationMinutes/],
    ['durationMinutes as a string', (id) => requestBody(id, { durationMinutes: '30' }), /durationMinutes/],
    ['startsAt garbage', (id) => requestBody(id, { startsAt: 'next tuesday' }), /startsAt/],
    ['startsAt without a zone', (id) => requestBody(id, { startsAt: '2031-03-03T12:00:00' }), /startsAt/],
    ['startsAt an hour ago', (id) => requestBody(id, { startsAt: plus(-HOUR).toISOString() }), /startsAt.*past/],
    ['startsAt 91 days ahead', (id) => requestBody(id, { startsAt: plus(91 * 24 * HOUR).toISOString() }), /startsAt.*90 days/],
    ['deviceId not a UUID', () => requestBody('pump-1'), /deviceId/],
    ['an unknown field', (id) => requestBody(id, { priority: 'urgent' }), /priority|unrecognized/i],
  ];

  it.each(cases)('%s', async (_name, body, message) => {
    const w = await world(h);
    await refused(ask(w.tech, body(w.device.id)), 400, 'invalid', message);
  });

  it('a body that is not JSON', async () => {
    const w = await world(h);
    await refused(async () => h.http.post('/api/access-requests').set(await w.tech.auth()).set('content-type', 'application/json').send('{"deviceId":'),
      400, 'invalid', /JSON/);
  });
});

describe('an approval re-checks the rules that changed since the request', () => {
  it('device suspended meanwhile → 409, and the approval is not recorded', async () => {
    const w = await world(h, { approvers: 1 });
    const req = await requestAccess(h, w.tech, w.device.id);
    await as(h, w.admin).post(`/api/devices/${w.device.id}/lifecycle`, { state: 'suspended', reason: 'recall' }).then((r) => expect(r.status).toBe(200));
    await refused(() => as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, {}), 409, 'conflict', /suspended/);
  });

  it('the vendor no longer services the device → its pending request is cancelled at once; approving it → 409', async () => {
    const w = await world(h, { approvers: 1 });
    const req = await requestAccess(h, w.tech, w.device.id);
    await as(h, w.admin).patch(`/api/devices/${w.device.id}`, { vendorIds: [] }).then((r) => expect(r.status).toBe(200));
    expect((await as(h, w.tech).get(`/api/access-requests/${req.id}`)).body.status).toBe('cancelled');
    await refused(() => as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, {}), 409, 'conflict', /cancelled/);
  });

  it('a "now" request approved after the maintenance window closed → 400, still pending for the next window', async () => {
    const mw = { days: [1, 2, 3, 4, 5], start: '08:00', end: '17:00', timezone: 'UTC' };
    const w = await world(h, { approvers: 1, device: { policy: { maintenanceWindow: mw } } });
    h.clock.set(new Date('2031-03-03T16:00:00Z'));
    const req = await requestAccess(h, w.tech, w.device.id, { durationMinutes: 30 });
    h.clock.set(new Date('2031-03-03T16:45:00Z'));
    await refused(() => as(h, w.approvers[0]!).post(`/api/access-requests/${req.id}/approve`, {}), 400, 'invalid', /maintenance window/);
    h.clock.set(new Date('2031-03-04T08:05:00Z'));
    expect((await approve(h, w.approvers[0]!, req.id)).grant).toMatchObject({ status: 'active', startsAt: '2031-03-04T08:05:00.000Z' });
  });
});
