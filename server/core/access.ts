/** Role checks used by every core entry point (who may see what is scope.ts). Authorization lives in the core, not in routes. */
import { forbidden, unauthenticated } from './errors.js';
import type { Actor, AuditEventInput, DevicePolicy, RoleName, User } from './types.js';

export function requireUser(actor: Actor): User {
  if (actor.type !== 'user') throw unauthenticated();
  return actor.user;
}

export const hasRole = (user: User, role: RoleName): boolean => user.roles.includes(role);

/** The acting user, if they hold at least one of `roles`; otherwise forbidden. */
export function requireRole(actor: Actor, ...roles: RoleName[]): User {
  const user = requireUser(actor);
  if (!roles.some((r) => hasRole(user, r))) {
    throw forbidden(`requires the ${roles.join(' or ')} role`);
  }
  return user;
}

/**
 * An eligible approver of a device: holds the approver role, is enabled, belongs to the device's
 * approver department and is not the technician concerned (nobody approves or reviews their own access).
 * The one eligibility rule: deciding on the web, through a Slack link, who gets Slack DMs, reviews, supervision.
 */
export function isEligibleApprover(user: User, device: { policy: Pick<DevicePolicy, 'approverDepartment'> }, technicianId: string | null): boolean {
  return hasRole(user, 'approver') && user.disabledAt === null && user.department !== null &&
    user.department === device.policy.approverDepartment && user.id !== technicianId;
}

/** The audit actor columns for an actor. */
export function auditActor(actor: Actor): Pick<AuditEventInput, 'actorType' | 'actorId'> {
  switch (actor.type) {
    case 'user':
      return { actorType: 'user', actorId: actor.user.id };
    case 'system':
      return { actorType: 'system', actorId: actor.name };
    case 'anonymous':
      return { actorType: 'anonymous', actorId: actor.label ?? null };
  }
}
