/**
 * Who may see what — the one place for it. Admins and auditors see everything. An approver sees what
 * concerns the devices whose approver department is theirs. A technician sees their own requests,
 * grants, sessions and transfers, and the devices their vendor services. The audit trail, search,
 * reports and recordings are for admins and auditors (oversight); a grant's evidence for them and the
 * device's approvers. Every list and every read of these records goes through here, so a rule changes
 * in one place; who may *decide* is isEligibleApprover (access.ts).
 */
import { hasRole, requireRole } from './access.js';
import type { Actor, Device, User } from './types.js';

/** Admins and auditors see every record. */
export const seesEverything = (user: User): boolean => hasRole(user, 'admin') || hasRole(user, 'auditor');

/** The oversight reads (audit trail, search, reports, recordings, SIEM state): admins and auditors only. */
export const requireOversight = (actor: Actor): User => requireRole(actor, 'auditor', 'admin');

/** One part of what a user sees: records of one approver department, or one technician's own. `{}`: everything. */
export interface RecordScope {
  approverDepartment?: string;
  technicianId?: string;
}

/** The parts of the records a user sees; empty when they see none. */
export function recordScopes(user: User): RecordScope[] {
  if (seesEverything(user)) return [{}];
  const scopes: RecordScope[] = [];
  if (hasRole(user, 'approver') && user.department) scopes.push({ approverDepartment: user.department });
  if (hasRole(user, 'technician')) scopes.push({ technicianId: user.id });
  return scopes;
}

/** Whether the user may read one record (a request, grant, session …) of this technician on a device of this approver department. */
export function maySee(user: User, record: { technicianId: string; approverDepartment: string | null | undefined }): boolean {
  return seesEverything(user) || record.technicianId === user.id || mayOversee(user, record.approverDepartment);
}

/** Everyone but the technician: admins, auditors and the approvers of this approver department (a grant's evidence). */
export function mayOversee(user: User, approverDepartment: string | null | undefined): boolean {
  return seesEverything(user) || (hasRole(user, 'approver') && user.department !== null && user.department === approverDepartment);
}

/**
 * A list within the user's scope: `list` runs once per part of it (newest first, at most `limit` each),
 * and the parts are merged without duplicates, newest first, cut to `limit`.
 */
export async function listInScope<T extends { id: string }>(
  user: User, limit: number, list: (scope: RecordScope) => Promise<T[]>, newest: (t: T) => Date,
): Promise<T[]> {
  const scopes = recordScopes(user);
  if (scopes.length === 1) return list(scopes[0]!);
  const merged = new Map<string, T>();
  for (const scope of scopes) for (const item of await list(scope)) merged.set(item.id, item);
  return [...merged.values()].sort((a, b) => newest(b).getTime() - newest(a).getTime()).slice(0, limit);
}

/** An approver of the device: of its owning department or of its approver department (its host-key status, its trust record). */
export function approvesForDevice(user: User, device: Pick<Device, 'department' | 'policy'>): boolean {
  return hasRole(user, 'approver') && user.department !== null &&
    (device.department === user.department || device.policy.approverDepartment === user.department);
}

/** Who may read a device's trust record: its vendor's technicians, and approvers of its department or approver department. */
export function canSeeDevice(user: User, device: Pick<Device, 'department' | 'policy' | 'vendorIds'>): boolean {
  if (seesEverything(user) || approvesForDevice(user, device)) return true;
  return hasRole(user, 'technician') && user.vendorId !== null && device.vendorIds.includes(user.vendorId);
}
