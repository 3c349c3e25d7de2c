/** Vendors: organisations whose technicians service devices, bounded by a contract end date. */
import { auditActor, requireRole } from './access.js';
import { inTransaction } from './effects.js';
import { conflict, notFound } from './errors.js';
import { cancelPendingRequests, endGrants } from './revocation.js';
import type { CoreDeps } from './ports.js';
import type { Actor, Vendor } from './types.js';

export interface VendorInput {
  name: string;
  contractRef: string;
  contractEnd: string;
}

/** True while the contract still covers `at` (the end date is the last day of access, in UTC). */
export function contractActive(vendor: Pick<Vendor, 'contractEnd'>, at: Date): boolean {
  return at.toISOString().slice(0, 10) <= vendor.contractEnd;
}

export async function createVendor(deps: CoreDeps, actor: Actor, input: VendorInput): Promise<Vendor> {
  requireRole(actor, 'admin');
  return deps.store.transaction(async (tx) => {
    if ((await tx.vendors.list()).some((v) => v.name.toLowerCase() === input.name.toLowerCase())) {
      throw conflict(`a vendor named ${input.name} exists`);
    }
    const vendor = await tx.vendors.insert(input);
    await tx.audit.append(
      { ...auditActor(actor), action: 'vendor.created', subjectType: 'vendor', subjectId: vendor.id, details: { ...input } },
      deps.clock.now(),
    );
    return vendor;
  });
}

/**
 * Changes a vendor. Moving the contract end earlier ends every grant of its technicians that runs
 * past the new end; a contract that has already ended also cancels their pending requests.
 */
export async function updateVendor(deps: CoreDeps, actor: Actor, id: string, input: Partial<VendorInput>): Promise<Vendor> {
  requireRole(actor, 'admin');
  const now = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    const vendor = await tx.vendors.update(id, input);
    if (!vendor) throw notFound('vendor');
    await tx.audit.append(
      { ...auditActor(actor), action: 'vendor.updated', subjectType: 'vendor', subjectId: id, details: { ...input } },
      now,
    );
    if (input.contractEnd) {
      const lastInstant = new Date(`${input.contractEnd}T23:59:59.999Z`);
      const reason = `vendor contract ends ${input.contractEnd}`;
      await endGrants(tx, fx, { vendorId: id, endingAfter: lastInstant }, { status: 'revoked', reason, actor, at: now });
      if (!contractActive(vendor, now)) await cancelPendingRequests(tx, fx, { vendorId: id }, { reason, actor, at: now });
    }
    return vendor;
  });
}

export async function listVendors(deps: CoreDeps, actor: Actor): Promise<Vendor[]> {
  requireRole(actor, 'admin', 'auditor', 'approver');
  return deps.store.read.vendors.list();
}

export async function getVendor(deps: CoreDeps, actor: Actor, id: string): Promise<Vendor> {
  const user = requireRole(actor, 'admin', 'auditor', 'approver', 'technician');
  // a technician may read their own vendor only
  if (!user.roles.some((r) => r !== 'technician') && user.vendorId !== id) throw notFound('vendor');
  const vendor = await deps.store.read.vendors.byId(id);
  if (!vendor) throw notFound('vendor');
  return vendor;
}
