/**
 * Operator identity: password login under the login throttle (login-guard.ts), bearer-token
 * authentication with revocation, logout, and users changing their own password.
 * Invariants: disabled users never get a token; every failure is audited; the reply to a caller never
 * says whether a username exists, except that an account locked for everyone says so (429). A login
 * token carries the user's token generation and is refused once the generation has moved on (logout,
 * password change or reset, disabling, a role/vendor/department change). A user whose password someone
 * else chose can do nothing but change it (and read themselves, log out) until they have.
 */
import { requireUser } from './access.js';
import { AppError, invalid, unauthenticated } from './errors.js';
import { guardedPasswordCheck } from './login-guard.js';
import type { CoreDeps } from './ports.js';
import type { Actor, User } from './types.js';

export interface LoginInput {
  username: string;
  password: string;
  clientAddress?: string;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  user: User;
  /** the token only allows changing the password until it is changed */
  passwordChangeRequired: boolean;
}

const normalise = (username: string) => username.trim().toLowerCase();

export async function login(deps: CoreDeps, input: LoginInput): Promise<LoginResult> {
  const username = normalise(input.username);
  const details = { username, clientAddress: input.clientAddress ?? null };
  const { user, generation } = await guardedPasswordCheck(
    deps,
    { username, password: input.password, clientAddress: input.clientAddress, actor: { type: 'anonymous' },
      failureAction: 'auth.login_failed', wrongPassword: () => unauthenticated('invalid username or password') },
    async (tx, account) => {
      const now = deps.clock.now();
      if (account.disabledAt) {
        await tx.audit.append(
          { actorType: 'user', actorId: account.id, action: 'auth.login_failed', subjectType: 'user', subjectId: account.id,
            details: { ...details, reason: 'user disabled' } },
          now,
        );
        return { ok: false, error: unauthenticated('invalid username or password') };
      }
      await tx.users.recordLoginSuccess(account.id);
      await tx.audit.append(
        { actorType: 'user', actorId: account.id, action: 'auth.login', subjectType: 'user', subjectId: account.id,
          details: { ...details, passwordChangeRequired: account.passwordChangeRequired } },
        now,
      );
      const { passwordHash: _h, failedLogins: _f, lockedUntil: _l, tokenGeneration, ...user } = account;
      return { ok: true, value: { user, generation: tokenGeneration } };
    },
  );
  const { token, expiresAt } = await deps.tokens.issueSessionToken(user.id, generation);
  return { token, expiresAt, user, passwordChangeRequired: user.passwordChangeRequired };
}

export interface AuthenticateOptions {
  /** accept a user who must change their password first (only for changing it, reading /api/me, logging out) */
  allowPendingPasswordChange?: boolean;
}

/** Resolves a bearer/cookie token to an actor; disabled or deleted users and revoked tokens are refused. */
export async function authenticate(deps: CoreDeps, token: string, opts: AuthenticateOptions = {}): Promise<Actor> {
  let claims: { userId: string; generation: number };
  try {
    claims = await deps.tokens.verifySessionToken(token);
  } catch {
    throw unauthenticated('invalid or expired token');
  }
  const state = await deps.store.read.users.authState(claims.userId);
  if (!state || state.user.disabledAt || state.tokenGeneration !== claims.generation) {
    throw unauthenticated('invalid or expired token');
  }
  if (state.user.passwordChangeRequired && !opts.allowPendingPasswordChange) {
    throw new AppError('forbidden', 'change your password first: POST /api/me/password', { passwordChangeRequired: true });
  }
  return { type: 'user', user: state.user };
}

/** Ends every login token of the caller, on every device they are logged in from. */
export async function logout(deps: CoreDeps, actor: Actor): Promise<void> {
  const user = requireUser(actor);
  await deps.store.transaction(async (tx) => {
    await tx.users.endTokens(user.id);
    await tx.audit.append(
      { actorType: 'user', actorId: user.id, action: 'auth.logout', subjectType: 'user', subjectId: user.id, details: { username: user.username } },
      deps.clock.now(),
    );
  });
}

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
  clientAddress?: string;
}

/**
 * A user changes their own password, proving the current one (under the login throttle: a stolen
 * token cannot be used to guess it). Every other token of the user ends; the caller gets a new one.
 */
export async function changeOwnPassword(deps: CoreDeps, actor: Actor, input: ChangePasswordInput): Promise<LoginResult> {
  const me = requireUser(actor);
  if (input.newPassword === input.currentPassword) throw invalid('the new password must differ from the current one');
  const passwordHash = await deps.passwords.hash(input.newPassword);
  const { user, generation } = await guardedPasswordCheck(
    deps,
    { username: me.username, password: input.currentPassword, clientAddress: input.clientAddress, actor,
      failureAction: 'user.password_change_failed', wrongPassword: () => invalid('the current password is not right') },
    async (tx, account) => {
      const updated = await tx.users.update(account.id, { passwordHash, passwordChangeRequired: false, endTokens: true });
      await tx.audit.append(
        { actorType: 'user', actorId: account.id, action: 'user.password_changed', subjectType: 'user', subjectId: account.id,
          details: { username: account.username, by: 'self', wasRequired: account.passwordChangeRequired, clientAddress: input.clientAddress ?? null } },
        deps.clock.now(),
      );
      return { ok: true, value: { user: updated!, generation: account.tokenGeneration + 1 } };
    },
  );
  const { token, expiresAt } = await deps.tokens.issueSessionToken(user.id, generation);
  return { token, expiresAt, user, passwordChangeRequired: false };
}
