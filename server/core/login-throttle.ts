/**
 * Login throttling, as pure rules over counters the caller reads and writes under row locks.
 *
 * The rule (README, security): failures are counted in a window of LOGIN_LOCKOUT_MINUTES that opens at
 * the first failure, on three levels:
 * - per (username, source address): LOGIN_MAX_FAILURES failures lock that pair only, so a flood from one
 *   address never locks the owner out when they log in from another;
 * - per source address, across all usernames: LOGIN_MAX_FAILURES_PER_ADDRESS failures throttle the address
 *   (password spraying from one place);
 * - per account: once LOGIN_ACCOUNT_LOCK_SOURCES different addresses hold a lock on the same account, the
 *   account itself locks for everyone (a distributed guess) for LOGIN_LOCKOUT_MINUTES.
 * Every lock lasts LOGIN_LOCKOUT_MINUTES; a lock that has run out starts a fresh count. IPv6 sources
 * count per /64 (one host usually holds a whole /64).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { LoginCounter } from './ports.js';

export interface ThrottlePolicy {
  maxFailures: number;
  maxFailuresPerAddress: number;
  accountLockSources: number;
  lockoutMinutes: number;
}

export type ThrottleScope = 'address' | 'account_address' | 'account';

export type ThrottleVerdict = { throttled: false } | { throttled: true; scope: ThrottleScope; retryAt: Date };

/** A refused attempt is audited at most once per address and this long, with a count. */
export const REFUSAL_AUDIT_INTERVAL_MS = 60_000;

const active = (until: Date | null | undefined, now: Date): until is Date => !!until && until > now;

/** Whether an attempt may be checked at all; when several locks hold, the caller must wait for the last. */
export function checkThrottle(
  s: { address: LoginCounter | null; pair: LoginCounter | null; accountLockedUntil: Date | null },
  now: Date,
): ThrottleVerdict {
  const locks: { scope: ThrottleScope; until: Date | null | undefined }[] = [
    { scope: 'account', until: s.accountLockedUntil },
    { scope: 'account_address', until: s.pair?.lockedUntil },
    { scope: 'address', until: s.address?.lockedUntil },
  ];
  let verdict: ThrottleVerdict = { throttled: false };
  for (const l of locks) {
    if (active(l.until, now) && (!verdict.throttled || l.until > verdict.retryAt)) {
      verdict = { throttled: true, scope: l.scope, retryAt: l.until };
    }
  }
  return verdict;
}

/** The counter after one more failure; `lockedUntil` is set when this failure reaches the limit. */
export function countFailure(c: LoginCounter | null, limit: number, lockoutMinutes: number, now: Date): LoginCounter {
  const windowMs = lockoutMinutes * 60_000;
  const fresh =
    !c ||
    c.failures === 0 ||
    c.windowStartedAt.getTime() + windowMs <= now.getTime() ||
    (c.lockedUntil !== null && c.lockedUntil <= now);
  const failures = fresh ? 1 : c.failures + 1;
  return {
    failures,
    windowStartedAt: fresh ? now : c.windowStartedAt,
    lockedUntil: failures >= limit ? new Date(now.getTime() + windowMs) : null,
  };
}

/** True when `next` is a lock that `before` did not already hold. */
export function newlyLocked(before: LoginCounter | null, next: LoginCounter, now: Date): boolean {
  return active(next.lockedUntil, now) && !active(before?.lockedUntil, now);
}

/** Expands an IPv6 address to its first four groups (the /64), or null if it cannot. */
function ipv6Prefix(a: string): string | null {
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  // an embedded IPv4 tail (64:ff9b::1.2.3.4) fills two groups
  const rightGroups = right.length + (right.at(-1)?.includes('.') ? 1 : 0);
  const groups = halves.length === 2 ? [...left, ...Array<string>(Math.max(0, 8 - left.length - rightGroups)).fill('0'), ...right] : left;
  const prefix = groups.slice(0, 4).map((g) => Number.parseInt(g, 16));
  if (prefix.length < 4 || prefix.some((n) => Number.isNaN(n))) return null;
  return `${prefix.map((n) => n.toString(16)).join(':')}::/64`;
}

/** The key failures are counted under for a client address: IPv4 as is, IPv6 by its /64. */
export function addressKey(raw: string | null | undefined): string {
  if (!raw) return 'unknown';
  let a = raw.trim().toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && isIPv4(a.slice(7))) return a.slice(7);
  if (isIPv4(a)) return a;
  if (isIPv6(a)) return ipv6Prefix(a) ?? a;
  return a.slice(0, 100) || 'unknown';
}

/** Words for people: when to try again. */
export function retryMessage(retryAt: Date, now: Date): string {
  const minutes = Math.max(1, Math.ceil((retryAt.getTime() - now.getTime()) / 60_000));
  return `too many failed login attempts; try again in ${minutes} minute${minutes === 1 ? '' : 's'} (after ${retryAt.toISOString()})`;
}
