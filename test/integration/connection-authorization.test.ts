/**
 * A grant lets its technician in only while they are enabled, hold the technician role, belong to
 * the grant's vendor, and that vendor services the device under a running contract (SPEC §8.2).
 * Each change below is made the way an admin would (API) where the product ends grants for it, and
 * straight in the database where the connection check alone must refuse.
 */
import { describe, expect, it } from 'vitest';
import { authorizeConnection } from '../../server/core/sessions.js';
import { createVendor } from '../support/fixtures.js';
import { as, auditOf, endedEvents, grantFor, grantRow, isolatedHarness, world, type World } from '../support/workflow-fixtures.js';

const t = isolatedHarness();

const connect = (w: World, grantId: string) => authorizeConnection(t.h.deps, { grantId, principal: w.device.name });

async function refused(w: World, grantId: string): Promise<string> {
  const err = await connect(w, grantId).then(() => null, (e: Error & { kind?: string }) => e);
  expect(err, 'the connection was allowed').not.toBeNull();
  expect(err!.kind).toBe('unauthenticated');
  return err!.message;
}

/** A world whose technician holds an active grant that connects now. */
async function connectable() {
  const w = await world(t.h, { approvers: 1 });
  const grant = await grantFor(t.h, w);
  expect(grant.status).toBe('active');
  expect((await connect(w, grant.id)).grant.vendorId).toBe(w.vendor.id);
  return { w, grant };
}

describe('the connection check re-reads who the technician is now', () => {
  it('moved to another vendor — even one that also services the device — cannot connect', async () => {
    const { w, grant } = await connectable();
    const other = await createVendor(t.h, await w.admin.auth());
    await as(t.h, w.admin).patch(`/api/devices/${w.device.id}`, { vendorIds: [w.vendor.id, other.id] }).then((r) => expect(r.status).toBe(200));
    await t.h.pool.query('UPDATE users SET vendor_id = $2 WHERE id = $1', [w.tech.user.id, other.id]);
    expect(await refused(w, grant.id)).toMatch(/grant's vendor/);
  });

  it('without the technician role cannot connect', async () => {
    const { w, grant } = await connectable();
    await t.h.pool.query(`UPDATE users SET roles = ARRAY['auditor'] WHERE id = $1`, [w.tech.user.id]);
    expect(await refused(w, grant.id)).toMatch(/technician role/);
  });

  it('disabled cannot connect', async () => {
    const { w, grant } = await connectable();
    await t.h.pool.query('UPDATE users SET disabled_at = now() WHERE id = $1', [w.tech.user.id]);
    expect(await refused(w, grant.id)).toMatch(/disabled/);
  });

  it('whose vendor no longer services the device cannot connect', async () => {
    const { w, grant } = await connectable();
    await t.h.pool.query('DELETE FROM vendor_devices WHERE device_id = $1', [w.device.id]);
    expect(await refused(w, grant.id)).toMatch(/no longer services/);
  });

  it('moved to another vendor through the API cannot connect with the grant they held', async () => {
    const { w, grant } = await connectable();
    const other = await createVendor(t.h, await w.admin.auth());
    await as(t.h, w.admin).patch(`/api/devices/${w.device.id}`, { vendorIds: [w.vendor.id, other.id] }).then((r) => expect(r.status).toBe(200));
    const res = await as(t.h, w.admin).patch(`/api/users/${w.tech.user.id}`, { vendorId: other.id });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await refused(w, grant.id);
  });
});

describe('taking a vendor off a device, or ending its contract sooner, ends its grants', () => {
  it('a vendor removed from the device: the grant is revoked with a reason, audited, published, and refused', async () => {
    const { w, grant } = await connectable();
    const res = await as(t.h, w.admin).patch(`/api/devices/${w.device.id}`, { vendorIds: [] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await grantRow(t.h, grant.id)).toMatchObject({ status: 'revoked', end_reason: 'vendor no longer services this device', revoked_by: w.admin.user.id });
    const revoked = (await auditOf(t.h, grant.id)).filter((e) => e.action === 'grant.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ actor_id: w.admin.user.id, details: { reason: 'vendor no longer services this device' } });
    expect(endedEvents(t.h, grant.id)).toEqual([expect.objectContaining({ reason: 'revoked' })]);
    expect(await refused(w, grant.id)).toMatch(/revoked/);
  });

  it('another vendor removed from the device leaves this vendor\'s grant alone', async () => {
    const { w, grant } = await connectable();
    const other = await createVendor(t.h, await w.admin.auth());
    await as(t.h, w.admin).patch(`/api/devices/${w.device.id}`, { vendorIds: [w.vendor.id, other.id] });
    await as(t.h, w.admin).patch(`/api/devices/${w.device.id}`, { vendorIds: [w.vendor.id] }).then((r) => expect(r.status).toBe(200));
    expect((await grantRow(t.h, grant.id)).status).toBe('active');
    await connect(w, grant.id);
  });

  it('a contract end moved before the grant ends: revoked, published, refused', async () => {
    const { w, grant } = await connectable();
    const today = t.h.clock.now().toISOString().slice(0, 10);
    const yesterday = new Date(t.h.clock.now().getTime() - 24 * 3600_000).toISOString().slice(0, 10);
    expect(today > yesterday).toBe(true);
    const res = await as(t.h, w.admin).patch(`/api/vendors/${w.vendor.id}`, { contractEnd: yesterday });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await grantRow(t.h, grant.id)).toMatchObject({ status: 'revoked', end_reason: `vendor contract ends ${yesterday}` });
    expect(endedEvents(t.h, grant.id)).toHaveLength(1);
    expect(await refused(w, grant.id)).toMatch(/revoked/);
  });
});
