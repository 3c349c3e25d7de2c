/**
 * Break-glass (§8.6): emergency access without prior approval, reviewed afterwards. Invariants:
 * only where the device's policy allows it, only for a technician whose vendor services the deployed
 * device under a running contract, for at most `policy.breakGlassMaxMinutes`; the grant is active at
 * once and marked `emergency`; every eligible approver is told at once; a technician holding an
 * unreviewed emergency grant cannot open another (a unique index backs this check); only an eligible
 * approver — never the technician — reviews, once; a review not made within REVIEW_HOURS is escalated
 * once by a job. An `unjustified` review also ends the access if it is still running.
 */
import { auditActor, hasRole, isEligibleApprover, requireRole, requireUser } from './access.js';
import { addMinutes, contractCovers } from './access-rules.js';
import { accountExpired } from './account-expiry.js';
import { inTransaction, type Effects } from './effects.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import { scheduleGrantJobs } from './grants.js';
import type { CoreDeps, Tx } from './ports.js';
import { requestContext } from './request-context.js';
import { cancelPendingRequests, endGrants } from './revocation.js';
import type { AccessRequest, Actor, Device, Grant, GrantReviewOutcome } from './types.js';
import { jobId, type EmergencyContext, type NotifyEvent } from './workflow-ports.js';

/** an emergency grant must be reviewed within this many hours of its opening */
export const REVIEW_HOURS = 24;
/** the ticket reference recorded when the technician gives none (there was no time to open one) */
export const NO_TICKET = 'break-glass';

export interface BreakGlassInput {
  deviceId: string;
  reason: string;
  durationMinutes: number;
  ticketRef?: string;
}

export interface ReviewInput {
  outcome: GrantReviewOutcome;
  comment: string;
}

const scheduler: Actor = { type: 'system', name: 'scheduler' };

async function emergencyContext(tx: Tx, g: Grant, device: Device): Promise<EmergencyContext> {
  const approvers = (await tx.users.list({ role: 'approver', includeDisabled: false }))
    .filter((u) => isEligibleApprover(u, device, g.technicianId))
    .map((u) => ({ id: u.id, displayName: u.displayName, slackUserId: u.slackUserId }));
  return {
    grantId: g.id, status: g.status, startsAt: g.startsAt.toISOString(), endsAt: g.endsAt.toISOString(),
    reviewDueAt: (g.reviewDueAt ?? g.endsAt).toISOString(), approvers,
  };
}

async function tell(tx: Tx, fx: Effects, stage: 'opened' | 'review_overdue' | 'reviewed', g: Grant, device: Device, req: AccessRequest,
  review?: Extract<NotifyEvent, { type: 'grant.emergency' }>['review']) {
  fx.notify({ type: 'grant.emergency', stage, request: await requestContext(tx, req), grant: await emergencyContext(tx, g, device),
    ...(review ? { review } : {}) });
}

/** Opens emergency access: an active grant at once, told to every eligible approver. */
export async function openBreakGlass(deps: CoreDeps, actor: Actor, input: BreakGlassInput): Promise<Grant> {
  const tech = requireRole(actor, 'technician');
  const now = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    // locked as a decision locks them (decisions.ts), the device for update: a change taking access away
    // waits and then ends this grant, or this waits and sees it; and an approval on the same device
    // cannot land beside it unseen (one open grant per technician and device)
    const device = await tx.devices.byId(input.deviceId, { forUpdate: true });
    if (!device || !tech.vendorId || !device.vendorIds.includes(tech.vendorId)) throw notFound('device');
    const current = await tx.users.byId(tech.id, { forShare: true });
    if (!current || current.disabledAt || accountExpired(current, now) || !current.roles.includes('technician') || current.vendorId !== tech.vendorId) {
      throw forbidden('your account can no longer open emergency access');
    }
    if (device.lifecycleState !== 'deployed') throw conflict(`device ${device.name} is ${device.lifecycleState}, not deployed`);
    if (!device.policy.breakGlass) throw forbidden(`the policy of ${device.name} does not allow emergency access; request access instead`);
    if (input.durationMinutes > device.policy.breakGlassMaxMinutes) {
      throw invalid(`durationMinutes exceeds the device's emergency maximum of ${device.policy.breakGlassMaxMinutes} minutes`);
    }
    const vendor = await tx.vendors.byId(tech.vendorId, { forShare: true });
    const window = { startsAt: now, endsAt: addMinutes(now, input.durationMinutes) };
    if (!vendor || !contractCovers(vendor.contractEnd, { startsAt: now, endsAt: now })) throw forbidden('your vendor\'s contract has ended');
    if (!contractCovers(vendor.contractEnd, window)) throw invalid(`the access would end after your vendor's contract (last day ${vendor.contractEnd})`);
    const earlier = await tx.grants.unreviewedEmergencyOf(tech.id);
    if (earlier) {
      throw conflict('your earlier emergency access has not been reviewed yet; an approver must review it before you can open another');
    }
    if ((await tx.grants.openFor(tech.id, device.id))?.status === 'active') throw conflict(`you already have active access to ${device.name}`);
    // the emergency supersedes a request still waiting for approval on this device
    await cancelPendingRequests(tx, fx, { technicianId: tech.id, deviceId: device.id }, { reason: 'superseded by emergency access', actor, at: now });
    const opened = await tx.requests.insert({
      kind: 'break_glass', technicianId: tech.id, deviceId: device.id, extendsGrantId: null,
      reason: input.reason, ticketRef: input.ticketRef ?? NO_TICKET, startsAt: now, startsOnApproval: false,
      durationMinutes: input.durationMinutes, approvalsRequired: device.policy.approvalsRequired, artifacts: [],
      expiresAt: now, createdAt: now,
    });
    const req = (await tx.requests.close(opened.id, 'approved', now))!;
    const grant = await tx.grants.insert({
      requestId: req.id, technicianId: tech.id, deviceId: device.id, status: 'active', ...window, activatedAt: now,
      emergency: true, reviewDueAt: addMinutes(now, REVIEW_HOURS * 60),
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'grant.break_glass', subjectType: 'grant', subjectId: grant.id,
        details: { emergency: true, requestId: req.id, deviceId: device.id, deviceName: device.name, technicianId: tech.id,
          vendorId: tech.vendorId, reason: req.reason, ticketRef: req.ticketRef, durationMinutes: req.durationMinutes,
          startsAt: grant.startsAt.toISOString(), endsAt: grant.endsAt.toISOString(), reviewDueAt: grant.reviewDueAt!.toISOString() } },
      now,
    );
    scheduleGrantJobs(fx, grant, now);
    fx.schedule({ kind: 'grant.review_overdue', grantId: grant.id, dueAt: grant.reviewDueAt!.toISOString() });
    await tell(tx, fx, 'opened', grant, device, req);
    return grant;
  });
}

/** An eligible approver of the device (never the technician) reviews an emergency grant, once. */
export async function reviewEmergencyGrant(deps: CoreDeps, actor: Actor, grantId: string, input: ReviewInput): Promise<Grant> {
  const user = requireUser(actor);
  const now = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    const g = await tx.grants.byId(grantId, { forUpdate: true });
    if (!g) throw notFound('grant');
    const device = (await tx.devices.byId(g.deviceId))!;
    if (g.technicianId === user.id) throw forbidden('you cannot review your own emergency access');
    if (!isEligibleApprover(user, device, g.technicianId)) {
      if (!hasRole(user, 'approver') && !hasRole(user, 'admin') && !hasRole(user, 'auditor')) throw notFound('grant');
      throw forbidden(`only approvers of the ${device.policy.approverDepartment} department review this emergency access`);
    }
    if (!g.emergency) throw conflict('this grant was approved beforehand; only emergency (break-glass) access is reviewed');
    if (g.reviewedAt) throw conflict(`this emergency access was already reviewed (${g.reviewOutcome})`);
    const reviewed = await tx.grants.review(g.id, { outcome: input.outcome, comment: input.comment, by: user.id, at: now });
    if (!reviewed) throw conflict('this emergency access was reviewed concurrently');
    const late = g.reviewDueAt !== null && g.reviewDueAt <= now;
    await tx.audit.append(
      { ...auditActor(actor), action: 'grant.reviewed', subjectType: 'grant', subjectId: g.id,
        details: { emergency: true, outcome: input.outcome, comment: input.comment, late, deviceId: g.deviceId, technicianId: g.technicianId } },
      now,
    );
    fx.cancel(jobId({ kind: 'grant.review_overdue', grantId: g.id }));
    let result = reviewed;
    if (input.outcome === 'unjustified' && (g.status === 'active' || g.status === 'scheduled')) {
      const [ended] = await endGrants(tx, fx, { grantId: g.id }, { status: 'revoked', reason: `emergency access reviewed as unjustified: ${input.comment}`, actor, at: now });
      result = ended ?? reviewed;
    }
    const req = (await tx.requests.byId(g.requestId))!;
    await tell(tx, fx, 'reviewed', result, device, req,
      { outcome: input.outcome, comment: input.comment, reviewer: { id: user.id, displayName: user.displayName } });
    return result;
  });
}

/** Job: the review of an emergency grant is due. Escalates once if nobody has reviewed it. */
export async function escalateOverdueReview(deps: CoreDeps, grantId: string): Promise<void> {
  const now = deps.clock.now();
  await inTransaction(deps, async (tx, fx) => {
    const g = await tx.grants.byId(grantId, { forUpdate: true });
    if (!g || !g.emergency || g.reviewedAt || !g.reviewDueAt || g.reviewDueAt > now) return;
    const escalated = await tx.grants.markReviewEscalated(g.id, now);
    if (!escalated) return;
    await tx.audit.append(
      { ...auditActor(scheduler), action: 'grant.review_overdue', subjectType: 'grant', subjectId: g.id,
        details: { emergency: true, reviewDueAt: g.reviewDueAt.toISOString(), deviceId: g.deviceId, technicianId: g.technicianId } },
      now,
    );
    const device = (await tx.devices.byId(g.deviceId))!;
    const req = (await tx.requests.byId(g.requestId))!;
    await tell(tx, fx, 'review_overdue', escalated, device, req);
  });
}
