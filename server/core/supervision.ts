/**
 * Supervised sessions (SPEC §8.6): on a device whose policy requires supervision, the technician's
 * input is held until an approver of the device's department watches the session live, and held again
 * when the last one leaves. Invariants: only an eligible approver who is not the session's technician
 * counts; a watch counts only while it is being refreshed (a dead API process stops counting within
 * SUPERVISOR_FRESH_MS); every join and leave is audited and published as a hint to the proxy relaying
 * the session, which reads who supervises from here (the database, never the message).
 */
import { auditActor, isEligibleApprover, requireUser } from './access.js';
import type { CoreDeps } from './ports.js';
import type { Actor, Device, Session } from './types.js';

/** how often an open supervising watch is refreshed */
export const SUPERVISOR_BEAT_MS = 5_000;
/** a watch not refreshed for this long no longer counts */
export const SUPERVISOR_FRESH_MS = 3 * SUPERVISOR_BEAT_MS;

export interface Supervisor {
  userId: string;
  displayName: string;
  username: string;
}

async function hint(deps: CoreDeps, sessionId: string): Promise<void> {
  // a lost hint is caught by the proxy's own refresh (every SUPERVISOR_BEAT_MS)
  await deps.bus.publish({ type: 'session.supervision', sessionId }).catch((err) => deps.problems.warn({ err, sessionId }, 'could not publish supervision change'));
}

/**
 * Starts supervising a live session being watched by `actor`: returns the watch's id, or null when
 * the device needs no supervision, the session has ended, or the watcher is not an eligible supervisor
 * (they still watch, but input stays held).
 */
export async function joinSupervision(deps: CoreDeps, actor: Actor, session: Pick<Session, 'id' | 'grantId' | 'technicianId' | 'endedAt'>, device: Device): Promise<string | null> {
  const user = requireUser(actor);
  if (device.policy.supervision !== 'required' || session.endedAt) return null;
  if (!isEligibleApprover(user, device, session.technicianId)) return null;
  const now = deps.clock.now();
  const id = await deps.store.transaction(async (tx) => {
    const watchId = await tx.supervisors.join(session.id, user.id, now);
    await tx.audit.append(
      { ...auditActor(actor), action: 'session.supervisor_joined', subjectType: 'session', subjectId: session.id,
        details: { grantId: session.grantId, device: device.name } },
      now,
    );
    return watchId;
  });
  await hint(deps, session.id);
  return id;
}

/** The supervising watch is still open. */
export async function refreshSupervision(deps: CoreDeps, watchId: string): Promise<void> {
  await deps.store.read.supervisors.seen(watchId, deps.clock.now());
}

/** The supervising watch ended (idempotent). */
export async function leaveSupervision(deps: CoreDeps, actor: Actor, watchId: string): Promise<void> {
  const now = deps.clock.now();
  const left = await deps.store.transaction(async (tx) => {
    const row = await tx.supervisors.leave(watchId, now);
    if (row) {
      await tx.audit.append(
        { ...auditActor(actor), action: 'session.supervisor_left', subjectType: 'session', subjectId: row.sessionId, details: {} },
        now,
      );
    }
    return row;
  });
  if (left) await hint(deps, left.sessionId);
}

/** Who supervises the session now. */
export async function currentSupervisors(deps: CoreDeps, sessionId: string): Promise<Supervisor[]> {
  return deps.store.read.supervisors.active(sessionId, new Date(deps.clock.now().getTime() - SUPERVISOR_FRESH_MS));
}
