/**
 * Accounts with an end (invited vendor accounts, §8.5). Invariants: from `expiresAt` on, the account
 * can neither log in nor use a token (auth.ts checks the time itself, so a late job never extends
 * access); the `user.expire` job then ends its tokens, grants (live sessions are cut) and pending
 * requests through the same path as disabling a user, audited once as `user.expired`.
 */
import { auditActor } from './access.js';
import { inTransaction } from './effects.js';
import type { CoreDeps } from './ports.js';
import { cancelPendingRequests, endGrants } from './revocation.js';
import type { Actor, User } from './types.js';

const SYSTEM: Actor = { type: 'system', name: 'account-expiry' };

/** True once the account's end has come. */
export function accountExpired(user: Pick<User, 'expiresAt'>, at: Date): boolean {
  return user.expiresAt !== null && user.expiresAt.getTime() <= at.getTime();
}

/** Carries out an account's expiry when it is due (idempotent: the job and reconciliation may both call it). */
export async function expireAccount(deps: CoreDeps, userId: string): Promise<void> {
  const now = deps.clock.now();
  await inTransaction(deps, async (tx, fx) => {
    const user = await tx.users.markExpired(userId, now);
    if (!user) return;
    const reason = 'account expired';
    await tx.audit.append(
      { ...auditActor(SYSTEM), action: 'user.expired', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, vendorId: user.vendorId, expiresAt: user.expiresAt?.toISOString() ?? null } },
      now,
    );
    await endGrants(tx, fx, { technicianId: user.id }, { status: 'revoked', reason, actor: SYSTEM, at: now });
    await cancelPendingRequests(tx, fx, { technicianId: user.id }, { reason, actor: SYSTEM, at: now });
  });
}

/** Start-up: expires the accounts whose end passed while nothing ran, and restores the others' jobs. */
export async function reconcileAccountExpiry(deps: CoreDeps): Promise<{ expired: number; ensuredJobs: number }> {
  const now = deps.clock.now();
  const result = { expired: 0, ensuredJobs: 0 };
  for (const u of await deps.store.read.users.pendingExpiry()) {
    if (accountExpired(u, now)) {
      await expireAccount(deps, u.id);
      result.expired++;
    } else {
      await deps.scheduler.ensure({ kind: 'user.expire', userId: u.id, dueAt: u.expiresAt!.toISOString() });
      result.ensuredJobs++;
    }
  }
  return result;
}
