/**
 * The audit log for people (issue 16): `GET /api/audit/log` names actors and subjects, says which
 * device, technician and vendor an event concerns, links it to its request, session or device, and
 * filters by device, vendor, technician and action family.
 */
import { describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { as, grantFor, isolatedHarness, person, world } from '../support/workflow-fixtures.js';

interface Entry {
  seq: number; action: string; family: string; actor: { name: string }; subject: { type: string | null; name: string | null };
  device: { id: string; name: string } | null; technician: { id: string; username: string } | null; vendor: { id: string; name: string } | null;
  refs: { requestId: string | null; grantId: string | null; sessionId: string | null; deviceId: string | null }; href: string | null;
}

describe('GET /api/audit/log', () => {
  const ref = isolatedHarness();

  it('reads like a log: names, links and filters', async () => {
    const h = ref.h;
    const w = await world(h);
    const other = await world(h);
    const grant = await grantFor(h, w);
    await grantFor(h, other);
    const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: null, proxyInstance: 'test' });
    await recordSessionEnd(h.deps, session.id, { endReason: 'client_closed', bytesIn: 0, bytesOut: 0 });
    const auditor = await person(h, ['auditor']);
    const get = async (q: string) => {
      const res = await as(h, auditor).get(`/api/audit/log?limit=500&${q}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.items as Entry[];
    };

    const onDevice = await get(`deviceId=${w.device.id}`);
    expect(onDevice.length).toBeGreaterThan(3);
    expect(onDevice.every((e) => e.device?.id === w.device.id)).toBe(true);
    const created = onDevice.find((e) => e.action === 'request.created')!;
    expect(created.actor.name).toBe(`${w.tech.user.displayName} (${w.tech.user.username})`);
    expect(created.subject.name).toBe(`request on ${w.device.name} by ${w.tech.user.username}`);
    expect(created.vendor).toEqual({ id: w.vendor.id, name: w.vendor.name });
    expect(created.refs.requestId).toBe(grant.requestId);
    expect(created.href).toBe(`/approvals/${grant.requestId}`);
    const started = onDevice.find((e) => e.action === 'session.started')!;
    expect(started.refs).toMatchObject({ sessionId: session.id, grantId: grant.id, requestId: grant.requestId, deviceId: w.device.id });
    expect(started.href).toBe(`/sessions/${session.id}`);
    const approved = onDevice.find((e) => e.action === 'request.approved_by')!;
    expect(approved.actor.name).toContain(w.approvers[0]!.user.username);
    expect(approved.technician?.username).toBe(w.tech.user.username);

    const grants = await get(`family=grant&deviceId=${w.device.id}`);
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.every((e) => e.family === 'grant' && e.action.startsWith('grant.'))).toBe(true);
    expect(grants.some((e) => e.refs.grantId === grant.id)).toBe(true);

    const byVendor = await get(`vendorId=${w.vendor.id}`);
    expect(byVendor.some((e) => e.device?.id === w.device.id)).toBe(true);
    expect(byVendor.some((e) => e.device?.id === other.device.id)).toBe(false);
    const byTech = await get(`technicianId=${w.tech.user.id}`);
    expect(byTech.some((e) => e.action === 'session.started')).toBe(true);
    expect(byTech.some((e) => e.device?.id === other.device.id)).toBe(false);

    expect((await as(h, w.approvers[0]!).get('/api/audit/log')).status).toBe(403);
  });
});
