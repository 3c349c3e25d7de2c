/**
 * Staff sign-in through the hospital's OpenID Provider (§8.5), once the HTTP side has completed the
 * code flow (PKCE, state, nonce) and holds verified claims. Invariants: a user is found by (issuer,
 * subject) only — never by a matching username, so an IdP account cannot take over a local (vendor)
 * account of the same name; roles and department come from the claims on every sign-in (a role or
 * department change ends the user's older tokens); nobody without a mapped role, disabled or expired
 * gets a token; every refusal is audited as `auth.login_failed` with its reason, every success as
 * `auth.login` with method `oidc`.
 */
import { randomBytes } from 'node:crypto';
import { auditActor } from './access.js';
import { accountExpired } from './account-expiry.js';
import { AppError } from './errors.js';
import type { CoreDeps, Tx } from './ports.js';
import { ROLES, type Actor, type RoleName, type User } from './types.js';

export interface OidcMapping {
  /** the claim listing the user's groups (OIDC_ROLES_CLAIM) */
  rolesClaim: string;
  /** group → roles (OIDC_ROLE_MAP) */
  roleMap: Record<string, RoleName[]>;
  /** the claim naming the user's department (OIDC_DEPARTMENT_CLAIM) */
  departmentClaim?: string;
}

/** A verified identity from the provider: the ID token's claims (plus userinfo where the token lacked some). */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  claims: Record<string, unknown>;
  /** the ID token's `amr` names a second factor */
  mfa: boolean;
  clientAddress?: string;
}

/** Why a sign-in was refused; each has its own page for the person. */
export type OidcRefusalReason = 'unmapped' | 'disabled' | 'expired' | 'username_taken' | 'incomplete_profile';

export const oidcRefused = (reason: OidcRefusalReason, message: string) => new AppError('forbidden', message, { oidcRefusal: reason });

/** `amr` values (RFC 8176 and common IdP ones) that mean a second factor was used. */
const MFA_AMR = new Set(['mfa', 'otp', 'hwk', 'swk', 'fpt', 'face', 'pin', 'sms', 'tel', 'iris', 'retina', 'vbm', 'sc', 'bio', 'ngpw']);

/** True when the ID token's `amr` names a second factor. */
export function amrHasMfa(amr: unknown): boolean {
  return Array.isArray(amr) && amr.some((m) => typeof m === 'string' && MFA_AMR.has(m.toLowerCase()));
}

export interface MappedProfile {
  roles: RoleName[];
  department: string | null;
  /** null: no usable username in the claims */
  username: string | null;
  displayName: string;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;

const stringList = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];

/** The Portcullis profile the claims describe: roles through the role map, department, username, name. */
export function mapOidcClaims(claims: Record<string, unknown>, mapping: OidcMapping): MappedProfile {
  const roles = new Set<RoleName>();
  for (const group of stringList(claims[mapping.rolesClaim])) {
    for (const role of mapping.roleMap[group] ?? []) if ((ROLES as readonly string[]).includes(role)) roles.add(role);
  }
  const rawDepartment = mapping.departmentClaim ? claims[mapping.departmentClaim] : undefined;
  const department = typeof rawDepartment === 'string' && rawDepartment.trim() ? rawDepartment.trim().slice(0, 200) : null;
  const named = [claims.preferred_username, claims.email].find((v): v is string => typeof v === 'string' && v.trim() !== '');
  const candidate = named?.trim().toLowerCase().split('@')[0] ?? '';
  const username = USERNAME.test(candidate) ? candidate : null;
  const given = [claims.given_name, claims.family_name].filter((v): v is string => typeof v === 'string' && v.trim() !== '').join(' ');
  const displayName = (typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim() : given || username || 'Unnamed user').slice(0, 200);
  return { roles: [...roles].sort(), department, username, displayName };
}

const PROVISIONER: Actor = { type: 'system', name: 'oidc' };
const sameSet = <T>(a: T[], b: T[]) => a.length === b.length && a.every((x) => b.includes(x));

type Outcome = { ok: true; user: User; generation: number } | { ok: false; error: AppError };

/**
 * Signs a verified provider identity in: provisions the user on first sign-in, updates roles,
 * department and name on each. Returns the user and the token generation to issue a token under.
 */
export async function signInWithOidc(deps: CoreDeps, identity: OidcIdentity, mapping: OidcMapping): Promise<{ user: User; generation: number }> {
  const profile = mapOidcClaims(identity.claims, mapping);
  // a new account's password is random and never told: SSO users cannot log in with one
  const unusablePassword = await deps.passwords.hash(randomBytes(32).toString('base64url'));
  const outcome = await deps.store.transaction(async (tx): Promise<Outcome> => {
    const now = deps.clock.now();
    const existing = await tx.users.lockByOidcIdentity(identity.issuer, identity.subject);
    const details = { method: 'oidc', issuer: identity.issuer, subject: identity.subject, username: existing?.username ?? profile.username,
      roles: profile.roles, department: profile.department, clientAddress: identity.clientAddress ?? null };
    const refuse = async (reason: OidcRefusalReason, message: string): Promise<Outcome> => {
      await tx.audit.append(
        { ...(existing ? { actorType: 'user' as const, actorId: existing.id } : { actorType: 'anonymous' as const, actorId: null }),
          action: 'auth.login_failed', subjectType: 'user', subjectId: existing?.id ?? null, details: { ...details, reason } },
        now,
      );
      return { ok: false, error: oidcRefused(reason, message) };
    };

    if (existing?.disabledAt) return refuse('disabled', 'your Portcullis account is disabled');
    if (existing && accountExpired(existing, now)) return refuse('expired', 'your Portcullis account has expired');
    if (profile.roles.length === 0) {
      // the provider no longer gives them a role: whatever they signed in with before ends now
      if (existing) await tx.users.endTokens(existing.id);
      return refuse('unmapped', 'your account at the identity provider has no group that gives a role in Portcullis');
    }
    if (profile.roles.includes('technician')) {
      return refuse('incomplete_profile', 'the technician role needs a vendor: vendor technicians sign in with an invited local account');
    }
    if (profile.roles.includes('approver') && !profile.department) {
      return refuse('incomplete_profile', 'the approver role needs a department, and the identity provider sent none');
    }

    if (!existing) {
      if (!profile.username) return refuse('incomplete_profile', 'the identity provider sent no usable username (preferred_username or email)');
      if (await tx.users.byUsername(profile.username)) {
        return refuse('username_taken', `a Portcullis account named ${profile.username} already exists and is not linked to your sign-in`);
      }
      const user = await tx.users.insert({
        username: profile.username, displayName: profile.displayName, roles: profile.roles, vendorId: null,
        department: profile.department, slackUserId: null, passwordHash: unusablePassword,
        oidc: { issuer: identity.issuer, subject: identity.subject },
      });
      await tx.audit.append(
        { ...auditActor(PROVISIONER), action: 'user.created', subjectType: 'user', subjectId: user.id,
          details: { username: user.username, roles: user.roles, vendorId: null, department: user.department, by: 'oidc', issuer: identity.issuer } },
        now,
      );
      return succeed(tx, user, 0, details, identity, now);
    }

    const rolesChanged = !sameSet(profile.roles, existing.roles);
    const departmentChanged = profile.department !== existing.department;
    const changed = [...(rolesChanged ? ['roles'] : []), ...(departmentChanged ? ['department'] : []),
      ...(profile.displayName !== existing.displayName ? ['displayName'] : [])];
    let user: User = existing;
    let generation = existing.tokenGeneration;
    if (changed.length) {
      // new roles or department: the tokens issued under the old ones end
      const endTokens = rolesChanged || departmentChanged;
      user = (await tx.users.update(existing.id, { roles: profile.roles, department: profile.department, displayName: profile.displayName, endTokens }))!;
      if (endTokens) generation++;
      await tx.audit.append(
        { ...auditActor(PROVISIONER), action: 'user.updated', subjectType: 'user', subjectId: user.id,
          details: { changed, roles: user.roles, vendorId: user.vendorId, department: user.department, tokensEnded: endTokens, by: 'oidc' } },
        now,
      );
    }
    return succeed(tx, user, generation, details, identity, now);
  });
  if (!outcome.ok) throw outcome.error;
  return { user: outcome.user, generation: outcome.generation };
}

async function succeed(tx: Tx, user: User, generation: number, details: Record<string, unknown>, identity: OidcIdentity, now: Date): Promise<Outcome> {
  await tx.users.recordLoginSuccess(user.id);
  await tx.audit.append(
    { actorType: 'user', actorId: user.id, action: 'auth.login', subjectType: 'user', subjectId: user.id,
      details: { ...details, username: user.username, mfa: identity.mfa } },
    now,
  );
  // the secret columns never leave the core
  const { id, username, displayName, roles, vendorId, department, slackUserId, disabledAt, passwordChangeRequired, expiresAt, sso, createdAt, updatedAt } = user;
  return { ok: true, user: { id, username, displayName, roles, vendorId, department, slackUserId, disabledAt, passwordChangeRequired, expiresAt, sso, createdAt, updatedAt }, generation };
}

/** Audits a sign-in whose flow failed before any identity was known (state, nonce, the provider's answer). */
export async function recordOidcFlowFailure(deps: CoreDeps, reason: string, details: { issuer: string; message: string; clientAddress?: string }): Promise<void> {
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { actorType: 'anonymous', actorId: null, action: 'auth.login_failed', subjectType: 'user', subjectId: null,
        details: { method: 'oidc', reason, issuer: details.issuer, message: details.message, clientAddress: details.clientAddress ?? null } },
      deps.clock.now(),
    ),
  );
}
