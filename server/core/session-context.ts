/**
 * What people reading a session need besides the session itself: the access it ran under (the
 * grant's window, its vendor and the request's reason and ticket) and, for a session that was cut,
 * who cut it and why. Read-only; callers have already checked that the reader may see the session.
 */
import type { CoreDeps } from './ports.js';
import type { GrantStatus, Session } from './types.js';

/** The grant a session ran under, with the request's reason and ticket. */
export interface SessionAccess {
  grantId: string;
  status: GrantStatus;
  startsAt: Date;
  endsAt: Date;
  emergency: boolean;
  vendor: { id: string; name: string } | null;
  reason: string | null;
  ticketRef: string | null;
}

/** Who cut a session and why: a terminated session, or the revocation of its grant. */
export interface SessionCut {
  kind: 'terminated' | 'grant_revoked';
  /** the person (null: the broker itself, e.g. a contract that ended) */
  by: { id: string; displayName: string } | null;
  reason: string;
  at: Date;
}

/** The access of each grant among `sessions`, keyed by grant id (each grant, request and vendor read once). */
export async function sessionAccess(deps: CoreDeps, sessions: Session[]): Promise<Map<string, SessionAccess | null>> {
  const read = deps.store.read;
  const out = new Map<string, SessionAccess | null>();
  const vendors = new Map<string, { id: string; name: string } | null>();
  for (const grantId of new Set(sessions.map((s) => s.grantId))) {
    const g = await read.grants.byId(grantId);
    if (!g) {
      out.set(grantId, null);
      continue;
    }
    if (g.vendorId && !vendors.has(g.vendorId)) {
      const v = await read.vendors.byId(g.vendorId);
      vendors.set(g.vendorId, v ? { id: v.id, name: v.name } : null);
    }
    const req = await read.requests.byId(g.requestId);
    out.set(grantId, {
      grantId, status: g.status, startsAt: g.startsAt, endsAt: g.endsAt, emergency: g.emergency,
      vendor: g.vendorId ? (vendors.get(g.vendorId) ?? null) : null,
      reason: req?.reason ?? null, ticketRef: req?.ticketRef ?? null,
    });
  }
  return out;
}

/** Who cut a session that ended as `revoked`: the audited termination first, else the grant's revocation. */
export async function sessionCut(deps: CoreDeps, s: Session): Promise<SessionCut | null> {
  if (s.endReason !== 'revoked') return null;
  const read = deps.store.read;
  const person = async (id: string | null) => {
    const u = id ? await read.users.byId(id) : null;
    return u ? { id: u.id, displayName: u.displayName } : null;
  };
  const [terminated] = await read.audit.list({ action: 'session.terminated', subjectType: 'session', subjectId: s.id, limit: 1 });
  if (terminated) {
    return {
      kind: 'terminated', by: await person(terminated.actorType === 'user' ? terminated.actorId : null),
      reason: typeof terminated.details.reason === 'string' ? terminated.details.reason : '', at: terminated.at,
    };
  }
  const g = await read.grants.byId(s.grantId);
  if (!g || g.status !== 'revoked') return null;
  return { kind: 'grant_revoked', by: await person(g.revokedBy), reason: g.endReason ?? '', at: g.endedAt ?? s.endedAt ?? g.endsAt };
}
