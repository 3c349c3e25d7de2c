/** Reading and verifying the audit log (auditors and admins). Appending happens inside each entry point's transaction. */
import { requireRole } from './access.js';
import { createChainVerifier } from './audit-chain.js';
import type { AuditQuery, CoreDeps } from './ports.js';
import type { Actor, AuditEvent } from './types.js';

export async function listAuditEvents(deps: CoreDeps, actor: Actor, q: AuditQuery): Promise<{ items: AuditEvent[]; nextAfterSeq: number | null }> {
  requireRole(actor, 'auditor', 'admin');
  const items = await deps.store.read.audit.list(q);
  return { items, nextAfterSeq: items.length === q.limit ? items[items.length - 1]!.seq : null };
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  headHash: string;
  firstBadSeq?: number;
}

/** Walks the whole chain in order; names the first event whose link or hash does not hold. */
export async function verifyAuditChain(deps: CoreDeps, actor: Actor): Promise<VerifyResult> {
  requireRole(actor, 'auditor', 'admin');
  const v = createChainVerifier();
  await deps.store.read.audit.forEach((e) => v.push(e));
  return v.firstBadSeq === undefined
    ? { ok: true, count: v.count, headHash: v.headHash }
    : { ok: false, count: v.count, headHash: v.headHash, firstBadSeq: v.firstBadSeq };
}
