/**
 * The repositories of people and organisations: users (with their login locks and counters), vendor
 * invitations and vendors. Part of `Tx` (repositories.ts); re-exported by ports.ts.
 */
import type { Invitation, RoleName, User, UserSecret, Vendor } from './types.js';

export interface UserRepo {
  insert(u: NewUser): Promise<User>;
  update(id: string, patch: UserPatch): Promise<User | null>;
  /** `forShare`: the row locked (SELECT … FOR SHARE) until the transaction ends — a change to it waits */
  byId(id: string, opts?: { forShare?: boolean }): Promise<User | null>;
  byUsername(username: string): Promise<(User & UserSecret) | null>;
  list(filter: { role?: RoleName; vendorId?: string; includeDisabled: boolean }): Promise<User[]>;
  /** the account row for a login attempt, locked (SELECT … FOR UPDATE) until the transaction ends */
  lockForLogin(username: string): Promise<(User & UserSecret) | null>;
  /** what authenticating a token needs: the user and their current token generation */
  authState(id: string): Promise<{ user: User; tokenGeneration: number } | null>;
  /** ends every login token of the user (raises the token generation) */
  endTokens(id: string): Promise<void>;
  /** the user linked to this OpenID Provider identity, locked (SELECT … FOR UPDATE) until the transaction ends */
  lockByOidcIdentity(issuer: string, subject: string): Promise<(User & UserSecret) | null>;
  /** conditional, once: records that the account's expiry (at or before `now`) was carried out and ends its tokens */
  markExpired(id: string, now: Date): Promise<User | null>;
  /** accounts with an end whose expiry has not been carried out yet */
  pendingExpiry(): Promise<User[]>;
  /** counts a failed login against the account (informational; the locks are in the throttle rows) */
  recordLoginFailure(id: string): Promise<void>;
  recordLoginSuccess(id: string): Promise<void>;
  /** locks the account itself for everyone until `until` */
  lockAccount(id: string, until: Date): Promise<void>;
  /** lock-free read of the throttle state for a quick refusal before any password hashing */
  peekLoginThrottle(username: string, address: string): Promise<{ address: LoginCounter | null; pair: LoginCounter | null; accountLockedUntil: Date | null }>;
  /** the per-address row, created if missing and locked (SELECT … FOR UPDATE) */
  lockLoginAddress(address: string, now: Date): Promise<AddressLoginCounter>;
  saveLoginAddress(address: string, c: AddressLoginCounter): Promise<void>;
  /** the per-(username, address) row, locked; null when there is none */
  lockLoginPair(username: string, address: string): Promise<LoginCounter | null>;
  saveLoginPair(username: string, address: string, c: LoginCounter): Promise<void>;
  clearLoginPair(username: string, address: string): Promise<void>;
  /** distinct source addresses currently locked out of `username` */
  lockedLoginSources(username: string, now: Date): Promise<number>;
  /** drops throttle rows whose window and lock ended before `before` (rows locked by others are skipped) */
  purgeLoginCounters(before: Date): Promise<void>;
  /** the login locks in force at `now`, one entry per locked user (only `userId`'s when given) */
  loginLocks(now: Date, userId?: string): Promise<LoginLock[]>;
  /** clears the account lock and every (username, address) counter of the user; returns the locks in force before (null: no such user) */
  unlockLogin(id: string, now: Date): Promise<LoginLock | null>;
}

/** A user's login locks: the account's own, and the source addresses locked out of it. */
export interface LoginLock {
  userId: string;
  accountLockedUntil: Date | null;
  lockedSources: { address: string; lockedUntil: Date }[];
}

/** Failed logins counted in a window that opened at the first failure. */
export interface LoginCounter {
  failures: number;
  windowStartedAt: Date;
  lockedUntil: Date | null;
}

/** The per-address counter, plus refusals not yet reported in an audit event. */
export interface AddressLoginCounter extends LoginCounter {
  refused: number;
  refusedAuditedAt: Date | null;
}

export interface NewUser extends Pick<User, 'username' | 'displayName' | 'roles' | 'vendorId' | 'department' | 'slackUserId'> {
  passwordHash: string;
  /** default false */
  passwordChangeRequired?: boolean;
  /** the OpenID Provider identity the user signs in with (default none: a local account) */
  oidc?: { issuer: string; subject: string };
  /** the account stops working then (default never) */
  expiresAt?: Date | null;
}

export interface UserPatch {
  displayName?: string;
  roles?: RoleName[];
  vendorId?: string | null;
  department?: string | null;
  slackUserId?: string | null;
  passwordHash?: string;
  disabled?: boolean;
  passwordChangeRequired?: boolean;
  /** raise the token generation: every login token of the user stops working */
  endTokens?: boolean;
}

export type NewInvitation = Pick<Invitation, 'username' | 'displayName' | 'roles' | 'vendorId' | 'accountExpiresAt' | 'expiresAt' | 'invitedBy'> & {
  /** SHA-256 (hex) of the link's token; the token itself is never stored */
  tokenHash: string;
  createdAt: Date;
};

export interface InvitationRepo {
  insert(i: NewInvitation): Promise<Invitation>;
  byId(id: string): Promise<Invitation | null>;
  byTokenHash(tokenHash: string): Promise<Invitation | null>;
  /** the invitation, locked (SELECT … FOR UPDATE) until the transaction ends */
  lockByTokenHash(tokenHash: string): Promise<Invitation | null>;
  /** not accepted, not revoked and not expired at `now`; oldest first */
  pending(now: Date): Promise<Invitation[]>;
  /** conditional, once: a pending invitation becomes accepted by the account it created */
  markAccepted(id: string, userId: string, at: Date): Promise<Invitation | null>;
  /** conditional, once: an invitation not yet accepted or revoked becomes revoked */
  revoke(id: string, by: string, at: Date): Promise<Invitation | null>;
}

export interface VendorRepo {
  insert(v: Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>): Promise<Vendor>;
  update(id: string, patch: Partial<Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>>): Promise<Vendor | null>;
  /** `forShare`: the row locked (SELECT … FOR SHARE) until the transaction ends — a change to it waits */
  byId(id: string, opts?: { forShare?: boolean }): Promise<Vendor | null>;
  list(): Promise<Vendor[]>;
}
