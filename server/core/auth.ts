/**
 * Operator identity: password login with lock-out, and bearer-token authentication.
 * Invariants: disabled or locked users never get a token; every failure is audited; the reply to a
 * caller never says whether a username exists, except that the account is locked.
 */
import { unauthenticated } from './errors.js';
import type { CoreDeps } from './ports.js';
import type { Actor, User } from './types.js';

// a real hash of a random password, so unknown usernames cost the same time as wrong passwords
const DUMMY_HASH =
  'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export interface LoginInput {
  username: string;
  password: string;
  clientAddress?: string;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  user: User;
}

type Outcome = { ok: true; user: User } | { ok: false; message: string };

export async function login(deps: CoreDeps, input: LoginInput): Promise<LoginResult> {
  const now = deps.clock.now();
  const username = input.username.trim().toLowerCase();
  const found = await deps.store.read.users.byUsername(username);
  const passwordOk = await deps.passwords.verify(input.password, found?.passwordHash ?? DUMMY_HASH);
  const details = { username, clientAddress: input.clientAddress ?? null };

  const outcome = await deps.store.transaction<Outcome>(async (tx) => {
    const fail = async (reason: string, message = 'invalid username or password'): Promise<Outcome> => {
      await tx.audit.append(
        { actorType: found ? 'user' : 'anonymous', actorId: found?.id ?? null, action: 'auth.login_failed',
          subjectType: 'user', subjectId: found?.id ?? null, details: { ...details, reason } },
        now,
      );
      return { ok: false, message };
    };
    if (!found) return fail('unknown user');
    if (found.disabledAt) return fail('user disabled');
    if (found.lockedUntil && found.lockedUntil > now) {
      return fail('account locked', 'account temporarily locked after repeated failed logins; try again later');
    }
    if (!passwordOk) {
      const lockUntil = new Date(now.getTime() + deps.policy.loginLockoutMinutes * 60_000);
      const r = await tx.users.recordLoginFailure(found.id, deps.policy.loginMaxFailures, lockUntil, now);
      if (r.lockedUntil && r.lockedUntil > now) {
        await tx.audit.append(
          { actorType: 'system', actorId: 'auth', action: 'auth.account_locked', subjectType: 'user',
            subjectId: found.id, details: { username, failedLogins: r.failedLogins, lockedUntil: r.lockedUntil.toISOString() } },
          now,
        );
      }
      return fail('wrong password');
    }
    await tx.users.recordLoginSuccess(found.id);
    await tx.audit.append(
      { actorType: 'user', actorId: found.id, action: 'auth.login', subjectType: 'user', subjectId: found.id, details },
      now,
    );
    const { passwordHash: _h, failedLogins: _f, lockedUntil: _l, ...user } = found;
    return { ok: true, user };
  });
  if (!outcome.ok) throw unauthenticated(outcome.message);
  const { token, expiresAt } = await deps.tokens.issueSessionToken(outcome.user.id);
  return { token, expiresAt, user: outcome.user };
}

/** Resolves a bearer/cookie token to an actor; disabled or deleted users are refused. */
export async function authenticate(deps: CoreDeps, token: string): Promise<Actor> {
  let userId: string;
  try {
    ({ userId } = await deps.tokens.verifySessionToken(token));
  } catch {
    throw unauthenticated('invalid or expired token');
  }
  const user = await deps.store.read.users.byId(userId);
  if (!user || user.disabledAt) throw unauthenticated('invalid or expired token');
  return { type: 'user', user };
}
