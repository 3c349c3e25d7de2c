/**
 * Browser-terminal tokens: short-lived (60 s), single-use, bound to one active grant and issued
 * only to its technician. Redeeming consumes the token id with a conditional write, then re-checks
 * the grant exactly as an SSH connection would.
 */
import { randomUUID } from 'node:crypto';
import { auditActor, requireRole } from './access.js';
import { conflict, notFound, unauthenticated } from './errors.js';
import type { CoreDeps } from './ports.js';
import { authorizeConnection, type ConnectionGrant } from './sessions.js';
import type { Actor } from './types.js';

export const TERMINAL_TOKEN_SECONDS = 60;

export async function issueTerminalToken(deps: CoreDeps, actor: Actor, grantId: string): Promise<{ token: string; expiresAt: Date; url: string }> {
  const tech = requireRole(actor, 'technician');
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + TERMINAL_TOKEN_SECONDS * 1000);
  return deps.store.transaction(async (tx) => {
    const grant = await tx.grants.byId(grantId);
    if (!grant || grant.technicianId !== tech.id) throw notFound('grant');
    if (grant.status !== 'active' || grant.endsAt <= now) throw conflict(`grant is ${grant.status}; a terminal opens only for an active grant`);
    const tokenId = randomUUID();
    const validBefore = expiresAt < grant.endsAt ? expiresAt : grant.endsAt;
    const issue = await tx.credentialIssues.insert({
      grantId, kind: 'terminal_token', keyFingerprint: null, tokenId, validAfter: now, validBefore, issuedAt: now,
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'credential.issued', subjectType: 'grant', subjectId: grantId,
        details: { kind: 'terminal_token', serial: issue.serial, validBefore: validBefore.toISOString() } },
      now,
    );
    const token = await deps.tokens.issueTerminalToken(grantId, tokenId, validBefore);
    return { token, expiresAt: validBefore, url: `/api/terminal?token=${encodeURIComponent(token)}` };
  });
}

/** Verifies and consumes a terminal token; the caller gets the grant's connection context. */
export async function redeemTerminalToken(deps: CoreDeps, token: string): Promise<ConnectionGrant> {
  let claims: { grantId: string; tokenId: string };
  try {
    claims = await deps.tokens.verifyTerminalToken(token);
  } catch {
    throw unauthenticated('invalid or expired terminal token');
  }
  const used = await deps.store.transaction((tx) => tx.credentialIssues.consumeToken(claims.tokenId, deps.clock.now()));
  if (!used || used.grantId !== claims.grantId) throw unauthenticated('terminal token already used');
  const grant = await deps.store.read.grants.byId(claims.grantId);
  const device = grant ? await deps.store.read.devices.byId(grant.deviceId) : null;
  return authorizeConnection(deps, { grantId: claims.grantId, principal: device?.name ?? '' });
}
