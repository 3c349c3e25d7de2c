/**
 * One password check under the login throttle (rules in login-throttle.ts), shared by login and by
 * the own-password change. Invariants: the lock state is read and updated under row locks in the same
 * transaction as the check (address row, then account row, then the (username, address) row — always
 * in that order), so concurrent guesses never get more than the limit checked; a throttled attempt
 * costs no password hash and answers 429 `throttled` with the time to retry; refusals are audited at
 * most once per address and minute, with a count; every counted failure is audited. A second factor
 * (guardedFactorCheck) is checked under the same counters as the password, so guessing codes locks
 * the same way as guessing passwords.
 */
import { auditActor } from './access.js';
import { throttled, type AppError } from './errors.js';
import {
  REFUSAL_AUDIT_INTERVAL_MS, addressKey, checkThrottle, countFailure, newlyLocked, retryMessage,
  type ThrottlePolicy, type ThrottleVerdict,
} from './login-throttle.js';
import type { AddressLoginCounter, CoreDeps, Tx } from './ports.js';
import type { Actor, User, UserSecret } from './types.js';

// a real hash of a random password, so unknown usernames cost the same time as wrong passwords
const DUMMY_HASH =
  'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export type Account = User & UserSecret;
export type Attempt<T> = { ok: true; value: T } | { ok: false; error: AppError };

interface ThrottledCheck {
  username: string;
  clientAddress?: string | null;
  /** who acts when the check fails (anonymous for a login, the user for a password change) */
  actor: Actor;
  /** audit action of a counted failure */
  failureAction: string;
  /** count failures under this key instead of the client address's (a step-up, which has no address of its own) */
  throttleKey?: string;
}

export interface GuardedCheck extends ThrottledCheck {
  password: string;
  /** the error a wrong password gets */
  wrongPassword: () => AppError;
}

export interface FactorCheck extends ThrottledCheck {
  /** the error a refused factor gets (`reason` is what the audit event says) */
  refused: (reason: string) => AppError;
}

/** How a check under the locks came out; `reason` goes into the failure's audit event. */
export type CheckOutcome = { ok: true } | { ok: false; reason: string };

/** The account as callers may see it: without the password hash and the counters. */
export function withoutSecrets(account: Account): User {
  const { passwordHash: _h, failedLogins: _f, lockedUntil: _l, tokenGeneration: _g, ...user } = account;
  return user;
}

export function throttlePolicy(deps: CoreDeps): ThrottlePolicy {
  return {
    maxFailures: deps.policy.loginMaxFailures,
    maxFailuresPerAddress: deps.policy.loginMaxFailuresPerAddress,
    accountLockSources: deps.policy.loginAccountLockSources,
    lockoutMinutes: deps.policy.loginLockoutMinutes,
  };
}

/**
 * Checks `password` for `username`; on success runs `onSuccess` in the same transaction, with the
 * account row locked. Throws the refusal (429 throttled, or the caller's wrong-password error).
 */
export async function guardedPasswordCheck<T>(
  deps: CoreDeps,
  check: GuardedCheck,
  onSuccess: (tx: Tx, account: Account) => Promise<Attempt<T>>,
): Promise<T> {
  const now = deps.clock.now();
  await refuseEarly(deps, check, now);
  const found = await deps.store.read.users.byUsername(check.username);
  let passwordOk = await deps.passwords.verify(check.password, found?.passwordHash ?? DUMMY_HASH);
  return guardedAttempt(deps, check, now, check.wrongPassword, async (_tx, account) => {
    // the password changed between the hash check and the lock: check against the current one
    if (account && account.passwordHash !== found?.passwordHash) passwordOk = await deps.passwords.verify(check.password, account.passwordHash);
    return account && passwordOk ? { ok: true } : { ok: false, reason: account ? 'wrong password' : 'unknown user' };
  }, onSuccess);
}

/**
 * Checks a second factor of `username` (a TOTP code, a recovery code, a passkey assertion) under the
 * login throttle: `verify` runs in the transaction with the account row locked (null: no such account);
 * on success `onSuccess` runs in the same transaction. Throws the refusal (429 throttled, or `refused`).
 */
export async function guardedFactorCheck<T>(
  deps: CoreDeps,
  check: FactorCheck,
  verify: (tx: Tx, account: Account | null) => Promise<CheckOutcome>,
  onSuccess: (tx: Tx, account: Account) => Promise<Attempt<T>>,
): Promise<T> {
  const now = deps.clock.now();
  await refuseEarly(deps, check, now);
  let reason = 'refused';
  return guardedAttempt(deps, check, now, () => check.refused(reason), async (tx, account) => {
    const outcome = await verify(tx, account);
    if (!outcome.ok) reason = outcome.reason;
    return outcome;
  }, onSuccess);
}

/** A cheap refusal without locks or hashing; the authoritative check is in guardedAttempt, under the locks. */
async function refuseEarly(deps: CoreDeps, check: ThrottledCheck, now: Date): Promise<void> {
  const address = check.throttleKey ?? addressKey(check.clientAddress);
  const early = checkThrottle(await deps.store.read.users.peekLoginThrottle(check.username, address), now);
  if (early.throttled) {
    const details = { username: check.username, clientAddress: check.clientAddress ?? null };
    await deps.store.transaction(async (tx) => noteRefusal(tx, await tx.users.lockLoginAddress(address, now), address, early, details, now));
    throw throttled(retryMessage(early.retryAt, now), early.retryAt, now);
  }
}

/** The locked part of a check: throttle verdict, `verify`, then success or a counted, audited failure. */
async function guardedAttempt<T>(
  deps: CoreDeps,
  check: ThrottledCheck,
  now: Date,
  wrong: () => AppError,
  verify: (tx: Tx, account: Account | null) => Promise<CheckOutcome>,
  onSuccess: (tx: Tx, account: Account) => Promise<Attempt<T>>,
): Promise<T> {
  const username = check.username;
  const address = check.throttleKey ?? addressKey(check.clientAddress);
  const details = { username, clientAddress: check.clientAddress ?? null };
  let failed = false;
  const result = await deps.store.transaction<Attempt<T> | { refused: ThrottleVerdict & { throttled: true } }>(async (tx) => {
    const addr = await tx.users.lockLoginAddress(address, now);
    const account = await tx.users.lockForLogin(username);
    const pair = await tx.users.lockLoginPair(username, address);
    const verdict = checkThrottle({ address: addr, pair, accountLockedUntil: account?.lockedUntil ?? null }, now);
    if (verdict.throttled) {
      await noteRefusal(tx, addr, address, verdict, details, now);
      return { refused: verdict };
    }
    const outcome = await verify(tx, account);
    if (account && outcome.ok) {
      await tx.users.clearLoginPair(username, address);
      return onSuccess(tx, account);
    }
    failed = true;
    const policy = throttlePolicy(deps);
    const addrNext = countFailure(addr, policy.maxFailuresPerAddress, policy.lockoutMinutes, now);
    const pairNext = countFailure(pair, policy.maxFailures, policy.lockoutMinutes, now);
    await tx.users.saveLoginAddress(address, { ...addr, ...addrNext });
    await tx.users.saveLoginPair(username, address, pairNext);
    if (account) await tx.users.recordLoginFailure(account.id);
    const subject = { subjectType: 'user', subjectId: account?.id ?? null };
    const who = check.actor.type === 'user' ? auditActor(check.actor) : { actorType: account ? 'user' : 'anonymous', actorId: account?.id ?? null } as const;
    await tx.audit.append(
      { ...who, action: check.failureAction, ...subject, details: { ...details, reason: outcome.ok ? 'unknown user' : outcome.reason } },
      now,
    );
    if (newlyLocked(pair, pairNext, now)) {
      await tx.audit.append(
        { actorType: 'system', actorId: 'auth', action: 'auth.login_locked', ...subject,
          details: { ...details, address, failures: pairNext.failures, lockedUntil: pairNext.lockedUntil!.toISOString() } },
        now,
      );
      const sources = account ? await tx.users.lockedLoginSources(username, now) : 0;
      if (account && sources >= policy.accountLockSources) {
        await tx.users.lockAccount(account.id, pairNext.lockedUntil!);
        await tx.audit.append(
          { actorType: 'system', actorId: 'auth', action: 'auth.account_locked', ...subject,
            details: { username, lockedSources: sources, lockedUntil: pairNext.lockedUntil!.toISOString() } },
          now,
        );
      }
    }
    if (newlyLocked(addr, addrNext, now)) {
      await tx.audit.append(
        { actorType: 'system', actorId: 'auth', action: 'auth.address_throttled', subjectType: 'login_source', subjectId: address,
          details: { clientAddress: check.clientAddress ?? null, failures: addrNext.failures, lockedUntil: addrNext.lockedUntil!.toISOString() } },
        now,
      );
    }
    return { ok: false, error: wrong() };
  });
  if (failed) await purgeOldCounters(deps, now);
  if ('refused' in result) throw throttled(retryMessage(result.refused.retryAt, now), result.refused.retryAt, now);
  if (!result.ok) throw result.error;
  return result.value;
}

/** Counts a refused attempt on the address row; audits once per address and minute with the count since. */
async function noteRefusal(
  tx: Tx,
  addr: AddressLoginCounter,
  address: string,
  verdict: ThrottleVerdict & { throttled: true },
  details: { username: string; clientAddress: string | null },
  now: Date,
): Promise<void> {
  const refused = addr.refused + 1;
  const due = !addr.refusedAuditedAt || now.getTime() - addr.refusedAuditedAt.getTime() >= REFUSAL_AUDIT_INTERVAL_MS;
  if (due) {
    await tx.audit.append(
      { actorType: 'anonymous', actorId: null, action: 'auth.login_throttled', subjectType: 'login_source', subjectId: address,
        details: { ...details, scope: verdict.scope, retryAt: verdict.retryAt.toISOString(), refusedSinceLastEvent: refused } },
      now,
    );
  }
  await tx.users.saveLoginAddress(address, { ...addr, refused: due ? 0 : refused, refusedAuditedAt: due ? now : addr.refusedAuditedAt });
}

/** Best effort, after the attempt: counters whose window and lock ended a day ago go. */
async function purgeOldCounters(deps: CoreDeps, now: Date): Promise<void> {
  const keep = Math.max(24 * 60, deps.policy.loginLockoutMinutes * 2) * 60_000;
  await deps.store.read.users
    .purgeLoginCounters(new Date(now.getTime() - keep))
    .catch((err: unknown) => deps.problems.warn({ err }, 'could not purge old login counters'));
}
