/**
 * Vendor onboarding by invitation (§8.5). Invariants: only admins invite, list and revoke; the link's
 * token is shown once and only its SHA-256 is stored; a link works once, for 72 hours at most, and never
 * after the account it offers would have ended; the account expires at `expiresAt` (default: the end of
 * the vendor's contract's last day, never later), when its tokens, grants and pending requests end
 * (account-expiry.ts). Every step is audited (invitation.created, .accepted, .revoked, .refused).
 */
import { createHash, randomBytes } from 'node:crypto';
import { auditActor, requireRole } from './access.js';
import { accountExpired } from './account-expiry.js';
import type { LoginResult } from './auth.js';
import { inTransaction } from './effects.js';
import { AppError, conflict, invalid, notFound } from './errors.js';
import type { CoreDeps } from './ports.js';
import type { Actor, Invitation, RoleName, Vendor } from './types.js';

export const INVITATION_HOURS = 72;

export interface CreateInvitationInput {
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId: string;
  /** when the account ends; default and latest: the vendor's contract end */
  expiresAt?: Date;
}

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
/** the last instant of the contract's last day (UTC), as contracts are read elsewhere */
const contractLastInstant = (v: Vendor) => new Date(`${v.contractEnd}T23:59:59.999Z`);

/** Creates an invitation; the token (for the link) is returned once and never stored. */
export async function createInvitation(deps: CoreDeps, actor: Actor, input: CreateInvitationInput): Promise<{ invitation: Invitation; token: string }> {
  const admin = requireRole(actor, 'admin');
  const roles = [...new Set(input.roles)];
  if (roles.includes('approver')) {
    throw invalid('an approver belongs to a department: create approvers as users, or sign them in through the hospital', { fields: { roles: 'approver needs a department' } });
  }
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const vendor = await tx.vendors.byId(input.vendorId);
    if (!vendor) throw invalid('vendorId does not name a vendor', { fields: { vendorId: 'no such vendor' } });
    const contractEnd = contractLastInstant(vendor);
    if (contractEnd <= now) throw invalid(`${vendor.name}'s contract has ended (last day ${vendor.contractEnd})`, { fields: { vendorId: 'contract ended' } });
    const accountExpiresAt = input.expiresAt ?? contractEnd;
    if (accountExpiresAt > contractEnd) {
      throw invalid(`the account cannot outlast ${vendor.name}'s contract (last day ${vendor.contractEnd})`, { fields: { expiresAt: `at the latest ${vendor.contractEnd}` } });
    }
    if (accountExpiresAt <= now) throw invalid('expiresAt must be in the future', { fields: { expiresAt: 'must be in the future' } });
    if (await tx.users.byUsername(input.username)) {
      throw conflict(`username ${input.username} is taken`, { fields: { username: `${input.username} is taken: choose another` } });
    }
    if ((await tx.invitations.pending(now)).some((i) => i.username === input.username)) {
      throw conflict(`${input.username} already has a pending invitation: revoke it first`, { fields: { username: 'already invited' } });
    }
    const linkEnds = new Date(Math.min(now.getTime() + INVITATION_HOURS * 3600_000, accountExpiresAt.getTime()));
    const invitation = await tx.invitations.insert({
      tokenHash: hashToken(token), username: input.username, displayName: input.displayName, roles, vendorId: vendor.id,
      accountExpiresAt, expiresAt: linkEnds, invitedBy: admin.id, createdAt: now,
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'invitation.created', subjectType: 'invitation', subjectId: invitation.id,
        details: { username: invitation.username, roles, vendorId: vendor.id, accountExpiresAt: accountExpiresAt.toISOString(), expiresAt: linkEnds.toISOString() } },
      now,
    );
    return { invitation, token };
  });
}

/** Pending invitations (not accepted, revoked or expired), oldest first. */
export async function listInvitations(deps: CoreDeps, actor: Actor): Promise<Invitation[]> {
  requireRole(actor, 'admin');
  return deps.store.read.invitations.pending(deps.clock.now());
}

export async function revokeInvitation(deps: CoreDeps, actor: Actor, id: string): Promise<Invitation> {
  const admin = requireRole(actor, 'admin');
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const revoked = await tx.invitations.revoke(id, admin.id, now);
    if (!revoked) {
      if (await tx.invitations.byId(id)) throw conflict('this invitation was already accepted or revoked');
      throw notFound('invitation');
    }
    await tx.audit.append(
      { ...auditActor(actor), action: 'invitation.revoked', subjectType: 'invitation', subjectId: id, details: { username: revoked.username } },
      now,
    );
    return revoked;
  });
}

/** Why a link no longer works, in words for the person holding it. */
function closedReason(i: Invitation, now: Date): string | null {
  if (i.acceptedAt) return 'this invitation has already been used';
  if (i.revokedAt) return 'this invitation was withdrawn';
  if (i.expiresAt <= now) return 'this invitation has expired';
  return null;
}

export interface InvitationView {
  username: string;
  displayName: string;
  roles: RoleName[];
  vendor: { id: string; name: string };
  /** when the link stops working */
  expiresAt: Date;
  /** when the account it creates ends */
  accountExpiresAt: Date;
}

/** What a link offers (anyone holding it may read this): refused once it is used, withdrawn or expired. */
export async function viewInvitation(deps: CoreDeps, token: string): Promise<InvitationView> {
  const invitation = await deps.store.read.invitations.byTokenHash(hashToken(token));
  if (!invitation) throw notFound('invitation');
  const closed = closedReason(invitation, deps.clock.now());
  if (closed) throw conflict(closed);
  const vendor = await deps.store.read.vendors.byId(invitation.vendorId);
  return {
    username: invitation.username, displayName: invitation.displayName, roles: invitation.roles,
    vendor: { id: invitation.vendorId, name: vendor?.name ?? 'unknown vendor' },
    expiresAt: invitation.expiresAt, accountExpiresAt: invitation.accountExpiresAt,
  };
}

/**
 * Accepts an invitation: creates the account with the chosen password and signs it in (the console
 * then asks for MFA enrolment where the role requires it). The link is spent in the same transaction.
 */
export async function acceptInvitation(deps: CoreDeps, input: { token: string; password: string; clientAddress?: string }): Promise<LoginResult> {
  const passwordHash = await deps.passwords.hash(input.password);
  const now = deps.clock.now();
  type Outcome = { ok: true; result: Omit<LoginResult, 'token' | 'expiresAt'> } | { ok: false; error: AppError; invitation?: Invitation };
  const outcome = await inTransaction(deps, async (tx, fx): Promise<Outcome> => {
    const invitation = await tx.invitations.lockByTokenHash(hashToken(input.token));
    if (!invitation) return { ok: false, error: notFound('invitation') };
    const closed = closedReason(invitation, now);
    if (closed) return { ok: false, error: conflict(closed), invitation };
    const vendor = await tx.vendors.byId(invitation.vendorId);
    if (!vendor || contractLastInstant(vendor) <= now || accountExpired({ expiresAt: invitation.accountExpiresAt }, now)) {
      return { ok: false, error: conflict('the vendor\'s contract has ended: ask for a new invitation'), invitation };
    }
    if (await tx.users.byUsername(invitation.username)) {
      return { ok: false, error: conflict(`username ${invitation.username} was taken meanwhile: ask for a new invitation`), invitation };
    }
    const user = await tx.users.insert({
      username: invitation.username, displayName: invitation.displayName, roles: invitation.roles, vendorId: invitation.vendorId,
      department: null, slackUserId: null, passwordHash, passwordChangeRequired: false, expiresAt: invitation.accountExpiresAt,
    });
    if (!(await tx.invitations.markAccepted(invitation.id, user.id, now))) throw conflict('this invitation has already been used');
    const actor: Actor = { type: 'user', user };
    await tx.audit.append(
      { ...auditActor(actor), action: 'invitation.accepted', subjectType: 'invitation', subjectId: invitation.id,
        details: { username: user.username, userId: user.id, invitedBy: invitation.invitedBy, clientAddress: input.clientAddress ?? null } },
      now,
    );
    await tx.audit.append(
      { ...auditActor(actor), action: 'user.created', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, roles: user.roles, vendorId: user.vendorId, department: null, by: 'invitation',
          invitationId: invitation.id, expiresAt: invitation.accountExpiresAt.toISOString() } },
      now,
    );
    await tx.audit.append(
      { ...auditActor(actor), action: 'auth.login', subjectType: 'user', subjectId: user.id,
        details: { method: 'invitation', username: user.username, clientAddress: input.clientAddress ?? null } },
      now,
    );
    fx.schedule({ kind: 'user.expire', userId: user.id, dueAt: invitation.accountExpiresAt.toISOString() });
    return { ok: true, result: { user, passwordChangeRequired: false } };
  });
  if (!outcome.ok) {
    // a spent, withdrawn or expired link someone still tries is worth knowing about
    const refused = outcome.invitation;
    if (refused) {
      await deps.store.transaction((tx) =>
        tx.audit.append(
          { actorType: 'anonymous', actorId: null, action: 'invitation.refused', subjectType: 'invitation', subjectId: refused.id,
            details: { username: refused.username, reason: outcome.error.message, clientAddress: input.clientAddress ?? null } },
          now,
        ),
      );
    }
    throw outcome.error;
  }
  const { token, expiresAt } = await deps.tokens.issueSessionToken(outcome.result.user.id, 0);
  return { token, expiresAt, ...outcome.result };
}
