/**
 * Access requests: a technician asks for a time-bound session to one deployed device.
 * Invariants: only devices their vendor may service, under a running contract, within the device's
 * policy (duration, maintenance hours); one open request or grant per technician and device;
 * every refusal writes nothing; every change is audited with the request.
 */
import { auditActor, requireRole, requireUser } from './access.js';
import { addMinutes, checkRequestedStart, contractCovers, requestExpiry, withinMaintenanceWindow } from './access-rules.js';
import { inTransaction, type Effects } from './effects.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import type { CoreDeps, Tx } from './ports.js';
import { requestContext } from './request-context.js';
import { listInScope, maySee } from './scope.js';
import type { AccessRequest, Actor, DeclaredArtifact, Decision, Device, Grant, RequestStatus, User } from './types.js';
import { jobId, type RequestContext } from './workflow-ports.js';

export interface CreateRequestInput {
  deviceId: string;
  reason: string;
  ticketRef: string;
  /** absent: the window starts when the last approval lands */
  startsAt?: Date;
  durationMinutes: number;
  /** files the vendor will deliver, with their published SHA-256 (§8.3) */
  artifacts?: DeclaredArtifact[];
}

/** Checks the policy rules shared by new requests and extensions; throws a 4xx naming the rule. */
export async function checkAccessRules(tx: Tx, tech: User, device: Device, window: { startsAt: Date; endsAt: Date }, durationMinutes: number, now: Date) {
  if (device.lifecycleState !== 'deployed') throw conflict(`device ${device.name} is ${device.lifecycleState}, not deployed`);
  if (!tech.vendorId || !device.vendorIds.includes(tech.vendorId)) {
    throw forbidden(`your vendor is not contracted to service ${device.name}`);
  }
  const vendor = await tx.vendors.byId(tech.vendorId);
  if (!vendor || !contractCovers(vendor.contractEnd, { startsAt: now, endsAt: now })) {
    throw forbidden('your vendor\'s contract has ended');
  }
  if (!contractCovers(vendor.contractEnd, window)) {
    throw invalid(`the window ends after your vendor's contract (last day ${vendor.contractEnd})`);
  }
  if (durationMinutes > device.policy.maxSessionMinutes) {
    throw invalid(`durationMinutes exceeds the device's maximum of ${device.policy.maxSessionMinutes} minutes`);
  }
  if (!withinMaintenanceWindow(device.policy.maintenanceWindow, window)) {
    const w = device.policy.maintenanceWindow!;
    throw invalid(`the window falls outside the device's maintenance window (days ${w.days.join(',')} ${w.start}–${w.end} ${w.timezone})`);
  }
}

export async function createAccessRequest(deps: CoreDeps, actor: Actor, input: CreateRequestInput): Promise<AccessRequest> {
  const tech = requireRole(actor, 'technician');
  const now = deps.clock.now();
  checkRequestedStart(input.startsAt, now);
  return inTransaction(deps, async (tx, fx) => {
    const device = await tx.devices.byId(input.deviceId);
    if (!device || !tech.vendorId || !device.vendorIds.includes(tech.vendorId)) throw notFound('device');
    const startsAt = input.startsAt && input.startsAt > now ? input.startsAt : now;
    const startsOnApproval = !input.startsAt || input.startsAt <= now;
    await checkAccessRules(tx, tech, device, { startsAt, endsAt: addMinutes(startsAt, input.durationMinutes) }, input.durationMinutes, now);
    if ((await tx.requests.pendingFor({ technicianId: tech.id, deviceId: device.id })).length) {
      throw conflict(`you already have a pending request for ${device.name}`);
    }
    if (await tx.grants.openFor(tech.id, device.id)) throw conflict(`you already have a grant for ${device.name}`);
    const timing = { startsAt, startsOnApproval, durationMinutes: input.durationMinutes };
    const req = await tx.requests.insert({
      kind: 'access', technicianId: tech.id, deviceId: device.id, extendsGrantId: null,
      reason: input.reason, ticketRef: input.ticketRef, ...timing, artifacts: input.artifacts ?? [],
      approvalsRequired: device.policy.approvalsRequired,
      expiresAt: requestExpiry(timing, now, deps.policy.requestTtlHours),
      createdAt: now,
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'request.created', subjectType: 'access_request', subjectId: req.id,
        details: { deviceId: device.id, deviceName: device.name, reason: req.reason, ticketRef: req.ticketRef,
          startsAt: startsOnApproval ? null : startsAt.toISOString(), durationMinutes: req.durationMinutes,
          approvalsRequired: req.approvalsRequired, artifacts: req.artifacts } },
      now,
    );
    fx.schedule({ kind: 'request.expire', requestId: req.id, dueAt: req.expiresAt.toISOString() });
    fx.notify({ type: 'request.created', request: await requestContext(tx, req) });
    return req;
  });
}

/** A technician asks for more time on their active grant; it needs a fresh approval. */
export async function requestExtension(deps: CoreDeps, actor: Actor, grantId: string, input: { minutes: number; reason: string; ticketRef?: string }): Promise<AccessRequest> {
  const tech = requireRole(actor, 'technician');
  const now = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    const grant = await tx.grants.byId(grantId);
    if (!grant || grant.technicianId !== tech.id) throw notFound('grant');
    if (grant.status !== 'active' || grant.endsAt <= now) {
      throw conflict(`grant is ${grant.endsAt <= now ? 'over' : grant.status}; only an active grant can be extended`);
    }
    const device = (await tx.devices.byId(grant.deviceId))!;
    const original = (await tx.requests.byId(grant.requestId))!;
    await checkAccessRules(tx, tech, device, { startsAt: grant.endsAt, endsAt: addMinutes(grant.endsAt, input.minutes) }, input.minutes, now);
    if ((await tx.requests.pendingFor({ technicianId: tech.id, deviceId: device.id })).length) {
      throw conflict(`you already have a pending request for ${device.name}`);
    }
    const timing = { startsAt: grant.endsAt, startsOnApproval: false, durationMinutes: input.minutes };
    const req = await tx.requests.insert({
      kind: 'extension', technicianId: tech.id, deviceId: device.id, extendsGrantId: grant.id,
      reason: input.reason, ticketRef: input.ticketRef ?? original.ticketRef, ...timing, artifacts: [],
      approvalsRequired: device.policy.approvalsRequired,
      // an extension not approved before the grant ends is moot
      expiresAt: grant.endsAt < addMinutes(now, deps.policy.requestTtlHours * 60) ? grant.endsAt : addMinutes(now, deps.policy.requestTtlHours * 60),
      createdAt: now,
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'request.created', subjectType: 'access_request', subjectId: req.id,
        details: { kind: 'extension', grantId: grant.id, deviceId: device.id, deviceName: device.name, minutes: input.minutes, reason: input.reason } },
      now,
    );
    fx.schedule({ kind: 'request.expire', requestId: req.id, dueAt: req.expiresAt.toISOString() });
    fx.notify({ type: 'request.created', request: await requestContext(tx, req) });
    return req;
  });
}

async function closeRequest(tx: Tx, fx: Effects, req: AccessRequest, status: 'cancelled' | 'expired', actor: Actor, at: Date, reason: string) {
  const closed = await tx.requests.close(req.id, status, at);
  if (!closed) return null;
  await tx.audit.append(
    { ...auditActor(actor), action: status === 'cancelled' ? 'request.cancelled' : 'request.expired',
      subjectType: 'access_request', subjectId: req.id, details: { deviceId: req.deviceId, technicianId: req.technicianId, reason } },
    at,
  );
  fx.cancel(jobId({ kind: 'request.expire', requestId: req.id }));
  fx.notify({ type: 'request.closed', request: await requestContext(tx, closed), status });
  return closed;
}

export async function cancelAccessRequest(deps: CoreDeps, actor: Actor, id: string): Promise<AccessRequest> {
  const user = requireUser(actor);
  return inTransaction(deps, async (tx, fx) => {
    const req = await tx.requests.byId(id, { forUpdate: true });
    if (!req || req.technicianId !== user.id) throw notFound('access request');
    if (req.status !== 'pending') throw conflict(`request is ${req.status}; only a pending request can be cancelled`);
    return (await closeRequest(tx, fx, req, 'cancelled', actor, deps.clock.now(), 'cancelled by the requester'))!;
  });
}

/** Job handler: a pending request whose TTL has run out lapses. Idempotent. */
export async function expireRequest(deps: CoreDeps, requestId: string): Promise<void> {
  const now = deps.clock.now();
  await inTransaction(deps, async (tx, fx) => {
    const req = await tx.requests.byId(requestId, { forUpdate: true });
    if (!req || req.status !== 'pending' || req.expiresAt > now) return;
    await closeRequest(tx, fx, req, 'expired', { type: 'system', name: 'scheduler' }, now, 'not decided in time');
  });
}

/** A request as people read it: with the names of the device, vendor and technician. */
export interface RequestListItem extends AccessRequest {
  context: RequestContext;
}

export interface RequestView extends RequestListItem {
  decisions: (Decision & { approver: { id: string; displayName: string } })[];
  grant: Grant | null;
}

export async function listAccessRequests(deps: CoreDeps, actor: Actor, q: { status?: RequestStatus; deviceId?: string; limit: number }): Promise<RequestListItem[]> {
  const user = requireUser(actor);
  const visible = await listInScope(user, q.limit, (scope) => deps.store.read.requests.list({ ...q, ...scope }), (r) => r.createdAt);
  const items: RequestListItem[] = [];
  for (const r of visible) items.push({ ...r, context: await requestContext(deps.store.read, r) });
  return items;
}

export async function getAccessRequest(deps: CoreDeps, actor: Actor, id: string): Promise<RequestView> {
  const user = requireUser(actor);
  const read = deps.store.read;
  const req = await read.requests.byId(id);
  const device = req ? await read.devices.byId(req.deviceId) : null;
  if (!req || !maySee(user, { technicianId: req.technicianId, approverDepartment: device?.policy.approverDepartment })) throw notFound('access request');
  // an access request's own grant; for an extension, the grant it extends
  const grant = req.extendsGrantId ? await read.grants.byId(req.extendsGrantId) : await read.grants.byRequest(id);
  const decisions: RequestView['decisions'] = [];
  for (const d of await read.decisions.forRequest(id)) {
    const approver = await read.users.byId(d.approverId);
    decisions.push({ ...d, approver: { id: d.approverId, displayName: approver?.displayName ?? '(unknown)' } });
  }
  return { ...req, context: await requestContext(read, req), decisions, grant };
}

