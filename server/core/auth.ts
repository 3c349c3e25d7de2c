/**
 * Operator identity: password login under the login throttle (login-guard.ts), bearer-token
 * authentication with revocation, logout, and users changing their own password.
 * Invariants: disabled and expired accounts never get a token, nor use one; every failure is audited; the reply to a caller never
 * says whether a username exists, except that an account locked for everyone says so (429). A login
 * token carries the user's token generation and is refused once the generation has moved on (logout,
 * password change or reset, disabling, a role/vendor/department change). A user whose password someone
 * else chose can do nothing but change it (and read themselves, log out) until they have. A user with a
 * confirmed second factor gets no token from the password alone: an mfaToken for the second step
 * (mfa-login.ts); a user whose role is in MFA_REQUIRED_ROLES and who has none gets a token that only
 * enrols one (ENROLMENT routes). A token carries its last MFA proof, which authenticate() puts on the actor.
 */
import { requireUser } from './access.js';
import { accountExpired } from './account-expiry.js';
import { AppError, invalid, unauthenticated } from './errors.js';
import { guardedPasswordCheck, withoutSecrets } from './login-guard.js';
import { hasFactor, mfaRequiredFor, type FactorProof } from './mfa-factors.js';
import { beginMfaLogin, completeMfaLogin, type MfaLoginChallenge } from './mfa-login.js';
import type { CoreDeps, SessionTokenClaims } from './ports.js';
import type { Actor, User } from './types.js';

export interface LoginInput {
  username: string;
  password: string;
  clientAddress?: string;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  /** mfaEnrolmentRequired: the token only enrols a second factor until one is set up */
  user: User & { mfaEnrolmentRequired?: boolean };
  /** the token only allows changing the password until it is changed */
  passwordChangeRequired: boolean;
}

const normalise = (username: string) => username.trim().toLowerCase();

/**
 * Whether `user` must set up a second factor before doing anything else. A session whose sign-in was
 * already multi-factor at the hospital's identity provider (`proof.method === 'oidc'`) needs no local one.
 */
export async function mfaEnrolmentRequired(deps: CoreDeps, user: User, proof?: { method: string } | null): Promise<boolean> {
  if (proof?.method === 'oidc') return false;
  return mfaRequiredFor(deps, user) && !hasFactor(await deps.store.read.mfa.summary(user.id));
}

export async function login(deps: CoreDeps, input: LoginInput): Promise<LoginResult | MfaLoginChallenge> {
  const username = normalise(input.username);
  const details = { username, clientAddress: input.clientAddress ?? null };
  const signedIn = await guardedPasswordCheck<{ user: User; generation: number; enrol: boolean } | MfaLoginChallenge>(
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
      if (accountExpired(account, now)) {
        // the right password: saying the account ended tells nothing a guesser could use
        await tx.audit.append(
          { actorType: 'user', actorId: account.id, action: 'auth.login_failed', subjectType: 'user', subjectId: account.id,
            details: { ...details, reason: 'account expired' } },
          now,
        );
        return { ok: false, error: unauthenticated('this account has expired: ask your administrator') };
      }
      const factors = await tx.mfa.summary(account.id);
      if (hasFactor(factors)) return { ok: true, value: await beginMfaLogin(deps, tx, account, factors, details.clientAddress) };
      const enrol = mfaRequiredFor(deps, account);
      await tx.users.recordLoginSuccess(account.id);
      await tx.audit.append(
        { actorType: 'user', actorId: account.id, action: 'auth.login', subjectType: 'user', subjectId: account.id,
          details: { ...details, passwordChangeRequired: account.passwordChangeRequired, mfa: null, mfaEnrolmentRequired: enrol } },
        now,
      );
      return { ok: true, value: { user: withoutSecrets(account), generation: account.tokenGeneration, enrol } };
    },
  );
  if ('mfaRequired' in signedIn) return signedIn;
  const { user, generation, enrol } = signedIn;
  const { token, expiresAt } = await deps.tokens.issueSessionToken(user.id, generation);
  return { token, expiresAt, user: { ...user, mfaEnrolmentRequired: enrol }, passwordChangeRequired: user.passwordChangeRequired };
}

/** The second step of a login: the mfaToken and a proof (code, recovery code or passkey) → the session. */
export async function loginWithMfa(deps: CoreDeps, input: { mfaToken: string; proof: FactorProof; clientAddress?: string }): Promise<LoginResult> {
  const { user, generation, mfa } = await completeMfaLogin(deps, input);
  const { token, expiresAt } = await deps.tokens.issueSessionToken(user.id, generation, mfa);
  return { token, expiresAt, user: { ...user, mfaEnrolmentRequired: false }, passwordChangeRequired: user.passwordChangeRequired };
}

export interface AuthenticateOptions {
  /** accept a user who must change their password first (only for changing it, reading /api/me, logging out) */
  allowPendingPasswordChange?: boolean;
  /** accept a user who must set up a second factor first (only for that, reading /api/me, the password, logging out) */
  allowMfaEnrolment?: boolean;
}

/** Resolves a bearer/cookie token to an actor; disabled or deleted users and revoked tokens are refused. */
export async function authenticate(deps: CoreDeps, token: string, opts: AuthenticateOptions = {}): Promise<Actor> {
  let claims: SessionTokenClaims;
  try {
    claims = await deps.tokens.verifySessionToken(token);
  } catch {
    throw unauthenticated('invalid or expired token');
  }
  const state = await deps.store.read.users.authState(claims.userId);
  if (!state || state.user.disabledAt || state.tokenGeneration !== claims.generation || accountExpired(state.user, deps.clock.now())) {
    throw unauthenticated('invalid or expired token');
  }
  if (state.user.passwordChangeRequired && !opts.allowPendingPasswordChange) {
    throw new AppError('forbidden', 'change your password first: POST /api/me/password', { passwordChangeRequired: true });
  }
  if (!opts.allowMfaEnrolment && (await mfaEnrolmentRequired(deps, state.user, claims.mfa))) {
    throw new AppError('forbidden', 'set up a second factor first (authenticator app or passkey): see /me/security', { mfaEnrolmentRequired: true });
  }
  return claims.mfa ? { type: 'user', user: state.user, mfa: claims.mfa } : { type: 'user', user: state.user };
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
  // the new token keeps the session's MFA proof: a password change is not a second factor, nor does it undo one
  const { token, expiresAt } = await deps.tokens.issueSessionToken(user.id, generation, actor.type === 'user' ? actor.mfa ?? null : null);
  return { token, expiresAt, user: { ...user, mfaEnrolmentRequired: await mfaEnrolmentRequired(deps, user) }, passwordChangeRequired: false };
}
