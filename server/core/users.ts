/**
 * Users and roles (admin only). Invariants: technicians belong to a vendor, approvers to a
 * department; an admin cannot disable themselves or drop their own admin role (no lock-out of the
 * last hands on the system); password hashes never leave the core. A password an admin sets for
 * someone else must be changed at that user's first login. Disabling, a password reset and a change
 * of roles, vendor or department end the user's login tokens at once; losing the technician role or
 * moving to another vendor also ends their grants (live sessions are cut) and pending requests.
 */
import { auditActor, requireRole } from './access.js';
import { inTransaction } from './effects.js';
import { conflict, invalid, notFound } from './errors.js';
import { cancelPendingRequests, endGrants } from './revocation.js';
import type { CoreDeps, LoginLock, UserPatch } from './ports.js';
import type { Actor, RoleName, User } from './types.js';

export interface CreateUserInput {
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId?: string | null;
  department?: string | null;
  slackUserId?: string | null;
  password: string;
}

export interface UpdateUserInput {
  displayName?: string;
  roles?: RoleName[];
  vendorId?: string | null;
  department?: string | null;
  slackUserId?: string | null;
  password?: string;
  disabled?: boolean;
}

function checkRoleFields(roles: RoleName[], vendorId: string | null, department: string | null): void {
  // `fields` names the input the console highlights, as for schema errors
  if (roles.includes('technician') && !vendorId) {
    throw invalid('a technician must belong to a vendor (vendorId)', { fields: { vendorId: 'a technician must belong to a vendor' } });
  }
  if (roles.includes('approver') && !department) {
    throw invalid('an approver must belong to a department', { fields: { department: 'an approver must belong to a department' } });
  }
}

export async function createUser(deps: CoreDeps, actor: Actor, input: CreateUserInput): Promise<User> {
  requireRole(actor, 'admin');
  const vendorId = input.vendorId ?? null;
  const department = input.department ?? null;
  checkRoleFields(input.roles, vendorId, department);
  const passwordHash = await deps.passwords.hash(input.password);
  return deps.store.transaction(async (tx) => {
    if (vendorId && !(await tx.vendors.byId(vendorId))) throw invalid('vendorId does not name a vendor');
    if (await tx.users.byUsername(input.username)) {
      throw conflict(`username ${input.username} is taken`, { fields: { username: `${input.username} is taken: choose another` } });
    }
    const user = await tx.users.insert({
      username: input.username,
      displayName: input.displayName,
      roles: [...new Set(input.roles)],
      vendorId,
      department,
      slackUserId: input.slackUserId ?? null,
      passwordHash,
      // the admin chose it: the user replaces it at first login
      passwordChangeRequired: true,
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'user.created', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, roles: user.roles, vendorId, department } },
      deps.clock.now(),
    );
    return user;
  });
}

export async function updateUser(deps: CoreDeps, actor: Actor, id: string, input: UpdateUserInput): Promise<User> {
  const admin = requireRole(actor, 'admin');
  if (id === admin.id && (input.disabled === true || (input.roles && !input.roles.includes('admin')))) {
    throw conflict('you cannot disable yourself or remove your own admin role');
  }
  const passwordHash = input.password !== undefined ? await deps.passwords.hash(input.password) : undefined;
  return inTransaction(deps, async (tx, fx) => {
    const before = await tx.users.byId(id);
    if (!before) throw notFound('user');
    const roles = input.roles ? [...new Set(input.roles)] : before.roles;
    const vendorId = input.vendorId !== undefined ? input.vendorId : before.vendorId;
    const department = input.department !== undefined ? input.department : before.department;
    checkRoleFields(roles, vendorId, department);
    if (input.vendorId && !(await tx.vendors.byId(input.vendorId))) throw invalid('vendorId does not name a vendor');
    const rolesChanged = input.roles !== undefined && !sameSet(roles, before.roles);
    const wasTechnician = before.roles.includes('technician');
    const technicianEnded = wasTechnician && (!roles.includes('technician') || vendorId !== before.vendorId);
    const endTokens = passwordHash !== undefined || input.disabled === true || rolesChanged ||
      vendorId !== before.vendorId || department !== before.department;
    const patch: UserPatch = {
      ...input, roles: input.roles ? roles : undefined, passwordHash, endTokens,
      // a password an admin sets for someone else is theirs to replace at first login
      ...(passwordHash !== undefined ? { passwordChangeRequired: id !== admin.id } : {}),
    };
    delete (patch as { password?: string }).password;
    const user = await tx.users.update(id, patch);
    if (!user) throw notFound('user');
    const changed = Object.keys(input).filter((k) => k !== 'disabled');
    const now = deps.clock.now();
    if (changed.length > 0) {
      await tx.audit.append(
        { ...auditActor(actor), action: 'user.updated', subjectType: 'user', subjectId: id,
          // field names only for the password; values for the rest
          details: { changed, roles: user.roles, vendorId: user.vendorId, department: user.department, tokensEnded: endTokens,
            ...(passwordHash !== undefined ? { passwordChangeRequired: user.passwordChangeRequired } : {}) } },
        now,
      );
    }
    if (technicianEnded && input.disabled !== true) {
      // their access was granted as a technician of that vendor: it ends with the role or the vendor
      const reason = !roles.includes('technician') ? 'technician role removed' : 'vendor changed';
      await endGrants(tx, fx, { technicianId: id }, { status: 'revoked', reason, actor, at: now });
      await cancelPendingRequests(tx, fx, { technicianId: id }, { reason, actor, at: now });
    }
    if (input.disabled !== undefined && Boolean(before.disabledAt) !== input.disabled) {
      await tx.audit.append(
        { ...auditActor(actor), action: input.disabled ? 'user.disabled' : 'user.enabled', subjectType: 'user',
          subjectId: id, details: { username: user.username } },
        now,
      );
      if (input.disabled) {
        // a disabled user keeps no access: grants end, live sessions are cut, pending requests go
        const reason = 'user disabled';
        await endGrants(tx, fx, { technicianId: id }, { status: 'revoked', reason, actor, at: now });
        await cancelPendingRequests(tx, fx, { technicianId: id }, { reason, actor, at: now });
      }
    }
    return user;
  });
}

const sameSet = <T>(a: T[], b: T[]) => a.length === b.length && a.every((x) => b.includes(x)) && b.every((x) => a.includes(x));

/** A user as an admin reads them: with the login locks in force now (null: none). */
export type UserView = User & { loginLock: Omit<LoginLock, 'userId'> | null };

const withLock = (u: User, locks: LoginLock[]): UserView => {
  const lock = locks.find((l) => l.userId === u.id);
  return { ...u, loginLock: lock ? { accountLockedUntil: lock.accountLockedUntil, lockedSources: lock.lockedSources } : null };
};

export async function listUsers(deps: CoreDeps, actor: Actor, filter: { role?: RoleName; vendorId?: string; includeDisabled?: boolean }): Promise<UserView[]> {
  requireRole(actor, 'admin');
  const users = await deps.store.read.users.list({ ...filter, includeDisabled: filter.includeDisabled ?? true });
  const locks = await deps.store.read.users.loginLocks(deps.clock.now());
  return users.map((u) => withLock(u, locks));
}

export async function getUser(deps: CoreDeps, actor: Actor, id: string): Promise<UserView> {
  requireRole(actor, 'admin');
  const user = await deps.store.read.users.byId(id);
  if (!user) throw notFound('user');
  return withLock(user, await deps.store.read.users.loginLocks(deps.clock.now(), id));
}

/**
 * Lifts a user's login locks (admin): the account lock and the locks of every source address on
 * that account, with their failure counts; the per-address throttle, which covers every account
 * tried from an address, stays. Audited as `auth.unlocked` with what was lifted.
 */
export async function unlockUser(deps: CoreDeps, actor: Actor, id: string): Promise<UserView> {
  requireRole(actor, 'admin');
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const user = await tx.users.byId(id);
    const was = user ? await tx.users.unlockLogin(id, now) : null;
    if (!user || !was) throw notFound('user');
    await tx.audit.append(
      { ...auditActor(actor), action: 'auth.unlocked', subjectType: 'user', subjectId: id,
        details: { username: user.username, accountLockedUntil: was.accountLockedUntil?.toISOString() ?? null,
          lockedSources: was.lockedSources.map((l) => ({ address: l.address, lockedUntil: l.lockedUntil.toISOString() })) } },
      now,
    );
    return { ...user, loginLock: null };
  });
}
