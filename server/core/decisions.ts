/**
 * Decisions on access requests. Invariants: only eligible approvers (isEligibleApprover: the
 * device's approver department, never one's own request) decide; one decision per approver; one deny
 * ends the request; the N-th distinct approval creates exactly one grant. The request row is locked
 * for the whole decision, so concurrent approvals are counted one after the other; the device, the
 * technician and their vendor are locked before it, so a change that takes access away and a final
 * approval never miss each other (decideWithin). A Slack approval
 * link decides only for the approver it was issued to, after their step-up, and is consumed in the
 * transaction that records its decision.
 */
import { auditActor, isEligibleApprover, requireRole } from './access.js';
import { addMinutes, grantWindow } from './access-rules.js';
import { accountExpired } from './account-expiry.js';
import { inTransaction, type Effects } from './effects.js';
import { conflict, forbidden, notFound, unauthenticated } from './errors.js';
import { scheduleGrantJobs } from './grants.js';
import type { CoreDeps, Tx } from './ports.js';
import { requestContext } from './request-context.js';
import { checkAccessRules } from './requests.js';
import type { ApprovalLinkBinding } from './slack-ports.js';
import { requireStepUp, type StepUpEvidence, type StepUpProof } from './step-up.js';
import type { AccessRequest, Actor, Decision, Device, Grant, User } from './types.js';
import { jobId } from './workflow-ports.js';

export interface DecideInput {
  decision: 'approve' | 'deny';
  comment?: string | null;
  channel?: Decision['channel'];
  /** an MFA proof given with the decision (step-up); without one, the session's own recent proof counts */
  stepUp?: StepUpProof;
}

export interface DecideResult {
  request: AccessRequest;
  decision: Decision;
  grant: Grant | null;
}

/** The grant (or extension) of an approved request; `device` and `tech` were read locked by decideWithin. */
async function approveFinal(deps: CoreDeps, tx: Tx, fx: Effects, locked: { req: AccessRequest; device: Device; tech: User | null },
  actor: Actor, now: Date): Promise<Grant> {
  const { req, device, tech } = locked;
  if (!tech || tech.disabledAt) throw conflict('the requesting technician is disabled');
  if (accountExpired(tech, now)) throw conflict('the requesting technician\'s account has expired');
  if (!tech.roles.includes('technician')) throw conflict('the requester is no longer a technician');
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
  requireRole(actor, 'approver');
  // before the transaction: a passkey proof's check reads the request and spends its challenge
  const evidence = await requireStepUp(deps, actor, requestId, input.stepUp);
  return inTransaction(deps, (tx, fx) => decideWithin(deps, tx, fx, actor, requestId, input, { stepUp: stepUpRecord(evidence) }));
}

/** What the decision's audit event records about how the approver proved it was them. */
interface DecisionProof {
  /** the step-up just before deciding (null: step-up did not apply to this approver) */
  stepUp: Pick<StepUpEvidence, 'method' | 'credentialId' | 'via'> | null;
  /** decided through a Slack approval link: which one, and how its approver signed in on its page */
  link?: { jti: string; signIn: LinkSignIn };
}

/** The step-up as the decision's audit event keeps it. */
export const stepUpRecord = (e: StepUpEvidence | null): DecisionProof['stepUp'] =>
  e ? { method: e.method, credentialId: e.credentialId, via: e.via } : null;

/**
 * The decision itself, inside the caller's transaction: shared by decideRequest (web, API) and
 * decideByLink (a Slack approval link), so both go through the same checks and the same writes.
 */
async function decideWithin(deps: CoreDeps, tx: Tx, fx: Effects, actor: Actor, requestId: string, input: DecideInput,
  proof: DecisionProof): Promise<DecideResult> {
  const approver = requireRole(actor, 'approver');
  const now = deps.clock.now();
  const peek = await tx.requests.byId(requestId);
  if (!peek) throw notFound('access request');
  // What a grant rests on — the device, the technician, their vendor — is locked (FOR SHARE) until
  // this decision commits, before the request: every change that takes access away (suspend, retire,
  // disable, account expiry, role or vendor change, a contract moved earlier) writes that row first, so
  // it waits for this decision and then ends the grant it made, or this decision waits for it and sees
  // the change. The same order (that row, then the request) on both sides: no deadlock.
  const device = await tx.devices.byId(peek.deviceId, { forShare: true });
  const tech = await tx.users.byId(peek.technicianId, { forShare: true });
  if (tech?.vendorId) await tx.vendors.byId(tech.vendorId, { forShare: true });
  const req = (await tx.requests.byId(requestId, { forUpdate: true }))!;
  if (req.technicianId === approver.id) throw forbidden('you cannot decide on your own request');
  if (!device || !isEligibleApprover(approver, device, req.technicianId)) {
    throw forbidden(`only approvers of the ${device?.policy.approverDepartment ?? 'device\'s'} department decide on this request`);
  }
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
      details: { comment: decision.comment, channel: decision.channel, approvals, approvalsRequired: req.approvalsRequired, ...proof } },
    now,
  );
  let status: 'pending' | 'approved' | 'denied' = 'pending';
  let grant: Grant | null = null;
  if (input.decision === 'deny' || approvals >= req.approvalsRequired) {
    status = input.decision === 'deny' ? 'denied' : 'approved';
    if (status === 'approved') grant = await approveFinal(deps, tx, fx, { req, device: device!, tech }, actor, now);
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
}

/**
 * How the approver named by a Slack link signed in on its page: an existing console session, their
 * password there and then, or their passkey (whose assertion is also the step-up proof).
 */
export type LinkSignIn = 'session' | 'password' | 'passkey';

export interface LinkDecideInput {
  comment?: string | null;
  signIn: LinkSignIn;
  /** the MFA proof given on the link's page, if any (without one, the console session's own recent proof counts) */
  stepUp?: StepUpProof;
}

/**
 * Decides through a Slack approval link, for the approver it was issued to only: the actor must be
 * that approver, signed in on the link's page. The link is consumed by a conditional write in the very
 * transaction that records the decision, so it decides at most once, and a refused decision (not
 * eligible, request closed, …) leaves it unused.
 */
export async function decideByLink(deps: CoreDeps, actor: Actor, link: ApprovalLinkBinding, input: LinkDecideInput): Promise<DecideResult> {
  const user = requireRole(actor, 'approver');
  if (user.id !== link.approverId) throw forbidden('this link was issued to another approver: only they can decide through it');
  const evidence = await requireStepUp(deps, actor, link.requestId, input.stepUp);
  // a passkey sign-in is only as good as the assertion: it must be one, verified just now
  if (input.signIn === 'passkey' && !(evidence?.via === 'proof' && evidence.method === 'webauthn')) {
    throw unauthenticated('sign in with a passkey of this account');
  }
  const now = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    if (!(await tx.approvalLinks.consume(link, now))) throw conflict('this approval link has already been used or has expired');
    return decideWithin(deps, tx, fx, actor, link.requestId, { decision: link.action, comment: input.comment ?? null, channel: 'slack-link' },
      { stepUp: stepUpRecord(evidence), link: { jti: link.jti, signIn: input.signIn } });
  });
}
