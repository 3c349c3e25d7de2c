/**
 * Decisions on access requests. Invariants: only approvers of the device's approver department
 * decide; nobody decides on their own request; one decision per approver; one deny ends the
 * request; the N-th distinct approval creates exactly one grant. The request row is locked for the
 * whole decision, so concurrent approvals are counted one after the other.
 */
import { auditActor, requireRole } from './access.js';
import { addMinutes, grantWindow } from './access-rules.js';
import { inTransaction, type Effects } from './effects.js';
import { conflict, forbidden, notFound } from './errors.js';
import { scheduleGrantJobs } from './grants.js';
import type { CoreDeps, Tx } from './ports.js';
import { requestContext } from './request-context.js';
import { checkAccessRules } from './requests.js';
import type { AccessRequest, Actor, Decision, Grant } from './types.js';
import { jobId } from './workflow-ports.js';

export interface DecideInput {
  decision: 'approve' | 'deny';
  comment?: string | null;
  channel?: Decision['channel'];
}

export interface DecideResult {
  request: AccessRequest;
  decision: Decision;
  grant: Grant | null;
}

async function approveFinal(deps: CoreDeps, tx: Tx, fx: Effects, req: AccessRequest, actor: Actor, now: Date): Promise<Grant> {
  const device = (await tx.devices.byId(req.deviceId))!;
  const tech = await tx.users.byId(req.technicianId);
  if (!tech || tech.disabledAt) throw conflict('the requesting technician is disabled');
  if (req.kind === 'extension') {
    const grant = await tx.grants.byId(req.extendsGrantId!, { forUpdate: true });
    if (!grant || grant.status !== 'active') throw conflict('the grant to extend is no longer active');
    const endsAt = addMinutes(grant.endsAt, req.durationMinutes);
    await checkAccessRules(tx, tech, device, { startsAt: grant.endsAt, endsAt }, req.durationMinutes, now);
    const extended = (await tx.grants.extend(grant.id, endsAt))!;
    await tx.audit.append(
      { ...auditActor(actor), action: 'grant.extended', subjectType: 'grant', subjectId: grant.id,
        details: { requestId: req.id, from: grant.endsAt.toISOString(), to: endsAt.toISOString(), minutes: req.durationMinutes } },
      now,
    );
    scheduleGrantJobs(fx, extended, now);
    fx.publish({ type: 'grant.extended', grantId: grant.id, endsAt: endsAt.toISOString() });
    fx.notify({ type: 'grant.changed', grantId: grant.id, request: await requestContext(tx, req), status: 'extended',
      startsAt: extended.startsAt.toISOString(), endsAt: endsAt.toISOString() });
    return extended;
  }
  const window = grantWindow(req, now);
  if (!window) throw conflict('the requested window has already passed');
  await checkAccessRules(tx, tech, device, window, req.durationMinutes, now);
  const startsNow = window.startsAt <= now;
  const grant = await tx.grants.insert({
    requestId: req.id, technicianId: req.technicianId, deviceId: req.deviceId,
    status: startsNow ? 'active' : 'scheduled', startsAt: window.startsAt, endsAt: window.endsAt,
    activatedAt: startsNow ? now : null,
  });
  const details = { requestId: req.id, deviceId: req.deviceId, technicianId: req.technicianId,
    startsAt: grant.startsAt.toISOString(), endsAt: grant.endsAt.toISOString() };
  await tx.audit.append({ ...auditActor(actor), action: 'grant.scheduled', subjectType: 'grant', subjectId: grant.id, details }, now);
  if (startsNow) {
    await tx.audit.append({ ...auditActor(actor), action: 'grant.activated', subjectType: 'grant', subjectId: grant.id, details }, now);
  }
  scheduleGrantJobs(fx, grant, now);
  fx.notify({ type: 'grant.changed', grantId: grant.id, request: await requestContext(tx, req), status: grant.status as 'scheduled' | 'active',
    startsAt: grant.startsAt.toISOString(), endsAt: grant.endsAt.toISOString() });
  return grant;
}

export async function decideRequest(deps: CoreDeps, actor: Actor, requestId: string, input: DecideInput): Promise<DecideResult> {
  const approver = requireRole(actor, 'approver');
  const now = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    const req = await tx.requests.byId(requestId, { forUpdate: true });
    if (!req) throw notFound('access request');
    const device = await tx.devices.byId(req.deviceId);
    if (!device || device.policy.approverDepartment !== approver.department) {
      throw forbidden(`only approvers of the ${device?.policy.approverDepartment ?? 'device\'s'} department decide on this request`);
    }
    if (req.technicianId === approver.id) throw forbidden('you cannot decide on your own request');
    if (req.status !== 'pending') throw conflict(`request is already ${req.status}`);
    if (req.expiresAt <= now) throw conflict('request has expired');
    const earlier = await tx.decisions.forRequest(req.id);
    if (earlier.some((d) => d.approverId === approver.id)) throw conflict('you have already decided on this request');
    const decision = await tx.decisions.insert({
      requestId: req.id, approverId: approver.id, decision: input.decision, comment: input.comment ?? null,
      channel: input.channel ?? 'web', createdAt: now,
    });
    const approvals = [...earlier, decision].filter((d) => d.decision === 'approve').length;
    await tx.audit.append(
      { ...auditActor(actor), action: input.decision === 'approve' ? 'request.approved_by' : 'request.denied_by',
        subjectType: 'access_request', subjectId: req.id,
        details: { comment: decision.comment, channel: decision.channel, approvals, approvalsRequired: req.approvalsRequired } },
      now,
    );
    let status: 'pending' | 'approved' | 'denied' = 'pending';
    let grant: Grant | null = null;
    if (input.decision === 'deny' || approvals >= req.approvalsRequired) {
      status = input.decision === 'deny' ? 'denied' : 'approved';
      if (status === 'approved') grant = await approveFinal(deps, tx, fx, req, actor, now);
      const closed = await tx.requests.close(req.id, status, now);
      if (!closed) throw conflict('request was decided concurrently');
      await tx.audit.append(
        { ...auditActor(actor), action: `request.${status}`, subjectType: 'access_request', subjectId: req.id,
          details: { grantId: grant?.id ?? null } },
        now,
      );
      fx.cancel(jobId({ kind: 'request.expire', requestId: req.id }));
    }
    const request = (await tx.requests.byId(req.id))!;
    fx.notify({ type: 'request.decided', request: await requestContext(tx, request), decision: input.decision,
      approver: { id: approver.id, displayName: approver.displayName }, outcome: status, comment: decision.comment });
    return { request, decision, grant };
  });
}
