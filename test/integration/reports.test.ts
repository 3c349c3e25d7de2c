/**
 * Auditors' reports (issue 16): the monthly vendor access report (JSON and CSV) counts sessions, time
 * spent, approvals, break-glass and transfers per vendor and device, in the month only; the unused
 * vendor accounts report lists technicians with no login and no session for 90 days.
 */
import { describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { recordTransfer } from '../../server/core/transfers.js';
import { as, grantFor, isolatedHarness, MIN, person, world } from '../support/workflow-fixtures.js';

describe('reports', () => {
  const ref = isolatedHarness();

  it('counts a vendor\'s month on a device, as JSON and CSV, and names unused accounts', async () => {
    const h = ref.h;
    const w = await world(h, { device: { policy: { breakGlass: true, breakGlassMaxMinutes: 20 } } });
    const grant = await grantFor(h, w);
    const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: null, proxyInstance: 'test' });
    await recordTransfer(h.deps, conn, {
      sessionId: session.id, grantId: grant.id, requestId: grant.requestId, channel: 'sftp', device: { id: w.device.id, name: w.device.name },
      technician: { id: w.tech.user.id, username: w.tech.user.username, displayName: w.tech.user.displayName },
    }, [], { direction: 'download', path: '/var/log/pump.log', bytes: 1234, sha256: 'd'.repeat(64), startedAt: h.clock.now(), endedAt: h.clock.now(), outcome: 'complete', reason: null });
    h.clock.advance(30 * MIN);
    await recordSessionEnd(h.deps, session.id, { endReason: 'client_closed', bytesIn: 0, bytesOut: 0 });
    await as(h, w.admin).post(`/api/grants/${grant.id}/revoke`, { reason: 'done' });
    const emergency = await as(h, w.tech).post('/api/break-glass', { deviceId: w.device.id, reason: 'alarm loop on bed 4', durationMinutes: 10 });
    expect(emergency.status, JSON.stringify(emergency.body)).toBe(201);
    const idle = await person(h, ['technician'], { vendorId: w.vendor.id });
    const auditor = await person(h, ['auditor']);

    const march = await as(h, auditor).get('/api/reports/vendor-access?month=2031-03');
    expect(march.status, JSON.stringify(march.body)).toBe(200);
    const row = march.body.rows.find((r: { deviceId: string }) => r.deviceId === w.device.id);
    expect(row).toMatchObject({
      vendorId: w.vendor.id, vendorName: w.vendor.name, deviceName: w.device.name, sessions: 1, sessionSeconds: 1800,
      approvals: w.device.policy.approvalsRequired, breakGlass: 1, transfers: 1, transferBytes: 1234,
    });
    const april = await as(h, auditor).get('/api/reports/vendor-access?month=2031-04');
    expect(april.body.rows.find((r: { deviceId: string }) => r.deviceId === w.device.id)).toBeUndefined();

    const csv = await as(h, auditor).get('/api/reports/vendor-access?month=2031-03&format=csv');
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('vendor,device,department,sessions,hours,approvals,break_glass,transfers,transfer_bytes');
    expect(lines).toContain(`${w.vendor.name},${w.device.name},${w.device.department},1,0.50,${w.device.policy.approvalsRequired},1,1,1234`);

    const unused = await as(h, auditor).get('/api/reports/unused-vendor-accounts');
    expect(unused.status).toBe(200);
    const names = unused.body.items.map((u: { username: string }) => u.username);
    expect(names).toContain(idle.user.username);
    expect(names).not.toContain(w.tech.user.username);
    const unusedCsv = await as(h, auditor).get('/api/reports/unused-vendor-accounts?format=csv');
    expect(unusedCsv.text).toContain(idle.user.username);

    expect((await as(h, w.approvers[0]!).get('/api/reports/vendor-access?month=2031-03')).status).toBe(403);
    expect((await as(h, auditor).get('/api/reports/vendor-access?month=2031-13')).status).toBe(400);
  });
});
