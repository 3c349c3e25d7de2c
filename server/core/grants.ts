/**
 * Grants: the time-bound permission created by the last approval. Invariants: a grant is active
 * only inside [startsAt, endsAt); job handlers re-check state and time, so a late or repeated job
 * never extends access; every change is audited and published to the proxies.
 */
import { auditActor, hasRole, requireUser } from './access.js';
import { warningsDue } from './access-rules.js';
import { inTransaction, type Effects } from './effects.js';
import { conflict, forbidden, notFound } from './errors.js';
import type { CoreDeps, GrantFilter, Tx } from './ports.js';
import { requestContext } from './request-context.js';
import { endGrants } from './revocation.js';
import { listInScope, maySee } from './scope.js';
import type { Actor, Grant, GrantStatus, User } from './types.js';

const scheduler: Actor = { type: 'system', name: 'scheduler' };

/** Jobs for a grant from `now` on: activation if scheduled, the warnings still ahead, expiry. */
export function scheduleGrantJobs(fx: Effects, g: Grant, now: Date): void {
  if (g.status === 'scheduled') fx.schedule({ kind: 'grant.activate', grantId: g.id, dueAt: g.startsAt.toISOString() });
  for (const w of warningsDue(g.endsAt, now)) {
    fx.schedule({ kind: 'grant.warn', grantId: g.id, minutesLeft: w.minutesLeft, dueAt: w.at.toISOString() });
  }
  fx.schedule({ kind: 'grant.expire', grantId: g.id, dueAt: g.endsAt.toISOString() });
}

async function notifyGrant(tx: Tx, fx: Effects, g: Grant, status: 'scheduled' | 'active' | 'extended', reason?: string) {
  const req = await tx.requests.byId(g.requestId);
  if (!req) return;
  fx.notify({ type: 'grant.changed', grantId: g.id, request: await requestContext(tx, req), status,
    startsAt: g.startsAt.toISOString(), endsAt: g.endsAt.toISOString(), ...(reason ? { reason } : {}) });
}

async function activateIn(tx: Tx, fx: Effects, g: Grant, now: Date): Promise<void> {
  const active = await tx.grants.activate(g.id, now);
  if (!active) return;
  await tx.audit.append(
    { ...auditActor(scheduler), action: 'grant.activated', subjectType: 'grant', subjectId: g.id,
      details: { deviceId: g.deviceId, technicianId: g.technicianId, endsAt: g.endsAt.toISOString() } },
    now,
  );
  await notifyGrant(tx, fx, active, 'active');
}

/** Job: the window has started. Expires instead when the end has passed too (broker was down). */
export async function activateGrant(deps: CoreDeps, grantId: string): Promise<void> {
  const now = deps.clock.now();
  await inTransaction(deps, async (tx, fx) => {
    const g = await tx.grants.byId(grantId, { forUpdate: true });
    if (!g || g.status !== 'scheduled') return;
    if (g.endsAt <= now) {
      await endGrants(tx, fx, { grantId }, { status: 'expired', reason: 'window ended', actor: scheduler, at: now });
    } else if (g.startsAt <= now) {
      await activateIn(tx, fx, g, now);
    }
  });
}

/** Job: an expiry warning, audited once per grant end. The proxy shows it in live terminals itself. */
export async function warnGrant(deps: CoreDeps, grantId: string, minutesLeft: 5 | 1): Promise<void> {
  const now = deps.clock.now();
  await inTransaction(deps, async (tx) => {
    const g = await tx.grants.byId(grantId, { forUpdate: true });
    if (!g || g.status !== 'active' || g.endsAt <= now) return;
    // an extension moved the end: this warning belongs to the old one
    if (g.endsAt.getTime() - now.getTime() > (minutesLeft + 1) * 60_000) return;
    if (!(await tx.grants.markWarned(grantId, minutesLeft, now))) return;
    await tx.audit.append(
      { ...auditActor(scheduler), action: 'grant.warned', subjectType: 'grant', subjectId: grantId,
        details: { minutesLeft, endsAt: g.endsAt.toISOString() } },
      now,
    );
  });
}

/** Job: the window has ended. A grant extended since the job was queued is left alone. */
export async function expireGrant(deps: CoreDeps, grantId: string): Promise<void> {
  const now = deps.clock.now();
  await inTransaction(deps, async (tx, fx) => {
    const g = await tx.grants.byId(grantId, { forUpdate: true });
    if (!g || (g.status !== 'scheduled' && g.status !== 'active') || g.endsAt > now) return;
    await endGrants(tx, fx, { grantId }, { status: 'expired', reason: 'window ended', actor: scheduler, at: now });
  });
}

function canManage(user: User, department: string): boolean {
  return hasRole(user, 'admin') || (hasRole(user, 'approver') && user.department === department);
}

/** The kill switch: an approver of the device's department, or an admin, ends a grant now. */
export async function revokeGrant(deps: CoreDeps, actor: Actor, grantId: string, reason: string): Promise<Grant> {
  const user = requireUser(actor);
  const now = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    const g = await tx.grants.byId(grantId, { forUpdate: true });
    if (!g) throw notFound('grant');
    const device = (await tx.devices.byId(g.deviceId))!;
    if (!canManage(user, device.policy.approverDepartment)) {
      if (g.technicianId === user.id) throw forbidden('you cannot revoke your own grant; ask an approver, or just disconnect');
      throw notFound('grant');
    }
    if (g.status !== 'scheduled' && g.status !== 'active') throw conflict(`grant is already ${g.status}`);
    const [ended] = await endGrants(tx, fx, { grantId }, { status: 'revoked', reason, actor, at: now });
    return ended!;
  });
}

/** A grant as people read it: the names of its device, technician, vendor and revoker, and what it was asked for. */
export interface GrantView extends Grant {
  device: { id: string; name: string };
  technician: { id: string; username: string; displayName: string };
  vendor: { id: string; name: string } | null;
  /** the person who revoked it (null when it was not revoked by a person) */
  revoker: { id: string; displayName: string } | null;
  /** the request's reason and ticket */
  request: { id: string; reason: string; ticketRef: string } | null;
}

/** Adds names to grants the caller may already see (reads each device, person, vendor and request once). */
export async function grantNames(deps: CoreDeps, grants: Grant[]): Promise<GrantView[]> {
  const read = deps.store.read;
  const cache = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, load: () => Promise<T>): Promise<T> => {
    if (!cache.has(key)) cache.set(key, load());
    return cache.get(key) as Promise<T>;
  };
  const out: GrantView[] = [];
  for (const g of grants) {
    const device = await once(`d:${g.deviceId}`, () => read.devices.byId(g.deviceId));
    const tech = await once(`u:${g.technicianId}`, () => read.users.byId(g.technicianId));
    const vendor = g.vendorId ? await once(`v:${g.vendorId}`, () => read.vendors.byId(g.vendorId!)) : null;
    const revoker = g.revokedBy ? await once(`u:${g.revokedBy}`, () => read.users.byId(g.revokedBy!)) : null;
    const req = await read.requests.byId(g.requestId);
    out.push({
      ...g,
      device: { id: g.deviceId, name: device?.name ?? '(unknown device)' },
      technician: { id: g.technicianId, username: tech?.username ?? '(unknown)', displayName: tech?.displayName ?? '(unknown)' },
      vendor: vendor ? { id: vendor.id, name: vendor.name } : null,
      revoker: revoker ? { id: revoker.id, displayName: revoker.displayName } : null,
      request: req ? { id: req.id, reason: req.reason, ticketRef: req.ticketRef } : null,
    });
  }
  return out;
}

export async function listGrants(deps: CoreDeps, actor: Actor, q: { status?: GrantStatus; deviceId?: string; emergency?: GrantFilter['emergency']; limit: number }): Promise<GrantView[]> {
  const user = requireUser(actor);
  return grantNames(deps, await listInScope(user, q.limit, (scope) => deps.store.read.grants.list({ ...q, ...scope }), (g) => g.startsAt));
}

export async function getGrant(deps: CoreDeps, actor: Actor, grantId: string): Promise<GrantView> {
  const user = requireUser(actor);
  const g = await deps.store.read.grants.byId(grantId);
  if (!g) throw notFound('grant');
  const device = await deps.store.read.devices.byId(g.deviceId);
  if (!maySee(user, { technicianId: g.technicianId, approverDepartment: device?.policy.approverDepartment })) throw notFound('grant');
  return (await grantNames(deps, [g]))[0]!;
}
