/**
 * Transfers (§8.3): every file read or written through the proxy's SFTP relay, with its SHA-256.
 * Invariants: a transfer is written once, when it ends, with its audit event in the same transaction
 * (`transfer.completed` for complete, partial and failed ones, `transfer.refused` for refusals); an
 * upload is `declared` only when its hash matches an artifact the approved request declared, and an
 * undeclared one is told to the approvers; reads are scoped like sessions (admin and auditor all,
 * approvers their department, technicians their own).
 */
import { requireUser } from './access.js';
import { listInScope, recordScopes } from './scope.js';
import { forbidden } from './errors.js';
import type { CoreDeps, TransferFilter } from './ports.js';
import type { ConnectionGrant } from './sessions.js';
import { matchArtifact } from './transfer-policy.js';
import type { Actor, DeclaredArtifact, Transfer } from './types.js';
import type { SessionContext } from './workflow-ports.js';

/** What the proxy knows of a transfer when it ends: the record before it is tied to its session. */
export type TransferResult = Pick<Transfer, 'direction' | 'path' | 'bytes' | 'sha256' | 'startedAt' | 'endedAt' | 'outcome' | 'reason'>;

/** The artifacts declared on the request the grant came from. */
export async function declaredArtifacts(deps: CoreDeps, conn: ConnectionGrant): Promise<DeclaredArtifact[]> {
  return (await deps.store.read.requests.byId(conn.grant.requestId))?.artifacts ?? [];
}

/**
 * Writes one ended transfer and audits it; an upload is matched against the declared artifacts, and
 * an undeclared one that reached the device is told to the approvers (never failing the transfer).
 */
export async function recordTransfer(
  deps: CoreDeps,
  conn: ConnectionGrant,
  session: SessionContext,
  artifacts: DeclaredArtifact[],
  r: TransferResult,
): Promise<Transfer> {
  const artifact = r.direction === 'upload' && r.sha256 ? matchArtifact(artifacts, r.sha256, r.bytes) : null;
  const declared = r.direction === 'upload' ? artifact !== null : null;
  const transfer = await deps.store.transaction(async (tx) => {
    const t = await tx.transfers.insert({
      sessionId: session.sessionId, grantId: conn.grant.id, deviceId: conn.device.id, technicianId: conn.technician.id,
      ...r, declared, artifactName: artifact?.name ?? null,
    });
    await tx.audit.append(
      { actorType: 'user', actorId: conn.technician.id, action: r.outcome === 'refused' ? 'transfer.refused' : 'transfer.completed',
        subjectType: 'session', subjectId: session.sessionId,
        details: { transferId: t.id, grantId: conn.grant.id, device: conn.device.name, direction: r.direction, path: r.path, bytes: r.bytes,
          sha256: r.sha256, outcome: r.outcome, reason: r.reason, declared, ...(artifact ? { artifact: artifact.name } : {}) } },
      r.endedAt,
    );
    return t;
  });
  if (declared === false && r.outcome !== 'refused' && r.bytes > 0) {
    await deps.notifier.notify({
      type: 'transfer.undeclared', session, at: r.endedAt.toISOString(),
      transfer: { id: transfer.id, path: r.path, bytes: r.bytes, sha256: r.sha256, outcome: r.outcome },
    }).catch((err) => deps.problems.warn({ err, transferId: transfer.id }, 'could not tell the approvers of an undeclared upload'));
  }
  return transfer;
}

/** An SFTP operation refused by policy that moved no file (remove, rename, mkdir … outside the allowed paths). */
export async function auditRefusedOperation(deps: CoreDeps, conn: ConnectionGrant, sessionId: string, details: { operation: string; path: string; reason: string }): Promise<void> {
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { actorType: 'user', actorId: conn.technician.id, action: 'transfer.refused', subjectType: 'session', subjectId: sessionId,
        details: { grantId: conn.grant.id, device: conn.device.name, ...details } },
      deps.clock.now(),
    ),
  );
}

/** `GET /api/transfers`: by device, session or hash; admin and auditor all, approvers their department, technicians their own. */
export async function listTransfers(deps: CoreDeps, actor: Actor, f: TransferFilter): Promise<Transfer[]> {
  const user = requireUser(actor);
  if (recordScopes(user).length === 0) throw forbidden();
  return listInScope(user, f.limit, (scope) => deps.store.read.transfers.list({ ...f, ...scope }), (t) => t.startedAt);
}
