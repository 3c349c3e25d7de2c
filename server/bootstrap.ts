/**
 * First start: when no user exists, create `admin` with ADMIN_PASSWORD or a generated one-time password.
 * A generated password must be changed at first login; ADMIN_PASSWORD was the operator's own choice.
 */
import { randomBytes } from 'node:crypto';
import type { CoreDeps } from './core/ports.js';

export async function ensureFirstAdmin(deps: CoreDeps, adminPassword?: string): Promise<{ username: string; password?: string } | null> {
  const password = adminPassword ?? randomBytes(15).toString('base64url');
  const passwordHash = await deps.passwords.hash(password);
  return deps.store.transaction(async (tx) => {
    // two processes starting together must create one admin, not two: the audit chain's lock (held to
    // commit) serialises them, so the second sees the first's user. An append alone no longer takes it:
    // appends are held until the commit (server/db/audit-repo.ts).
    await tx.audit.head({ lock: true });
    await tx.audit.append(
      { actorType: 'system', actorId: 'bootstrap', action: 'system.started', subjectType: null, subjectId: null, details: {} },
      deps.clock.now(),
    );
    if ((await tx.users.list({ includeDisabled: true })).length > 0) return null;
    const admin = await tx.users.insert({
      username: 'admin', displayName: 'Administrator', roles: ['admin'], vendorId: null, department: null,
      slackUserId: null, passwordHash, passwordChangeRequired: !adminPassword,
    });
    await tx.audit.append(
      { actorType: 'system', actorId: 'bootstrap', action: 'user.created', subjectType: 'user', subjectId: admin.id,
        details: { username: 'admin', roles: ['admin'], passwordSource: adminPassword ? 'ADMIN_PASSWORD' : 'generated' } },
      deps.clock.now(),
    );
    return { username: 'admin', password: adminPassword ? undefined : password };
  });
}
