/**
 * Ending access. Every path that takes access away (revoke, expiry, device suspended or retired,
 * user disabled, vendor contract ended) goes through `endGrants`, so each one audits, cancels the
 * grant's jobs, publishes the revocation that proxies act on, and has a rotated device key rotated.
 */
import { auditActor } from './access.js';
import { rotationKindOf } from './credential-rotation.js';
import type { Effects } from './effects.js';
import type { GrantScope, Tx } from './ports.js';
import { requestContext } from './request-context.js';
import type { Actor, Grant } from './types.js';
import { jobId, type RevocationEvent } from './workflow-ports.js';

export function grantJobIds(grantId: string): string[] {
  return [
    jobId({ kind: 'grant.activate', grantId}),
    jobId({ kind: 'grant.warn', grantId, minutesLeft: 5}),
    jobId({ kind: 'grant.warn', grantId, minutesLeft: 1}),
    jobId({ kind: 'grant.expire', grantId}),
  ];
}

export async function endGrants(
  tx: Tx,
  fx: Effects,
  scope: GrantScope,
  opts: { status: 'expired' | 'revoked'; reason: string; actor: Actor; at: Date },
): Promise<Grant[]> {
  const by = opts.actor.type === 'user' ? opts.actor.user.id : null;
  const ended = await tx.grants.end(scope, opts.status, opts.at, opts.reason, by);
  const cut: RevocationEvent | null = ended.length
    ? { type: 'grant.ended', grantIds: ended.map((g) => g.id), reason: opts.status, message: opts.reason }
    : null;
  // the proxies cut now, not after this transaction's audit appends have waited for the chain's lock (effects.ts)
  if (cut) fx.publishEarly({ ...cut, early: true });
  for (const g of ended) {
    await tx.audit.append(
      { ...auditActor(opts.actor), action: opts.status === 'revoked' ? 'grant.revoked' : 'grant.expired',
        subjectType: 'grant', subjectId: g.id,
        details: { deviceId: g.deviceId, technicianId: g.technicianId, reason: opts.reason, endsAt: g.endsAt.toISOString() } },
      opts.at,
    );
    fx.cancel(...grantJobIds(g.id));
    // an extension of a grant that is over is moot
    await cancelPendingRequests(tx, fx, { extendsGrantId: g.id }, { reason: `grant ${opts.status}`, actor: opts.actor, at: opts.at });
    fx.notifyAfterCommit(async (read) => {
      const req = await read.requests.byId(g.requestId);
      return req && { type: 'grant.changed', grantId: g.id, request: await requestContext(read, req), status: opts.status,
        startsAt: g.startsAt.toISOString(), endsAt: g.endsAt.toISOString(), reason: opts.reason };
    });
  }
  if (cut) fx.publish(cut);
  // a rotated credential (key, or password with its command) changes once access to it ends (§8.4); the job waits while it is still in use
  for (const deviceId of new Set(ended.map((g) => g.deviceId))) {
    const credential = await tx.credentials.record(deviceId);
    if (credential && rotationKindOf(credential)) {
      fx.schedule({ kind: 'credential.rotate', deviceId, dueAt: opts.at.toISOString() });
    }
  }
  return ended;
}

/** Cancels pending requests in scope (retired device, disabled user, ended contract). */
export async function cancelPendingRequests(
  tx: Tx,
  fx: Effects,
  scope: { technicianId?: string; deviceId?: string; vendorId?: string; extendsGrantId?: string },
  opts: { reason: string; actor: Actor; at: Date },
): Promise<void> {
  for (const r of await tx.requests.pendingFor(scope)) {
    const closed = await tx.requests.close(r.id, 'cancelled', opts.at);
    if (!closed) continue;
    await tx.audit.append(
      { ...auditActor(opts.actor), action: 'request.cancelled', subjectType: 'access_request', subjectId: r.id,
        details: { deviceId: r.deviceId, technicianId: r.technicianId, reason: opts.reason } },
      opts.at,
    );
    fx.cancel(jobId({ kind: 'request.expire', requestId: r.id}));
    fx.notifyAfterCommit(async (read) => ({ type: 'request.closed', request: await requestContext(read, closed), status: 'cancelled' }));
  }
}
