/**
 * What a live session's grant is worth now, read from the database with the same rules as a new
 * connection (`authorizeConnection`): the proxy's periodic re-check and every bus hint go through here.
 */
import { isAppError } from '../server/core/errors.js';
import type { CoreDeps } from '../server/core/ports.js';
import { authorizeConnection } from '../server/core/sessions.js';
import type { GrantCheck } from './live-registry.js';

export async function checkLiveGrant(deps: CoreDeps, grantId: string, deviceName: string): Promise<GrantCheck> {
  const grant = await deps.store.read.grants.byId(grantId);
  if (!grant) return { ok: false, reason: 'revoked', message: 'the grant no longer exists' };
  if (grant.status === 'expired' || (grant.status === 'active' && deps.clock.now() >= grant.endsAt)) {
    return { ok: false, reason: 'expired', message: 'the approved access window has ended' };
  }
  try {
    const current = await authorizeConnection(deps, { grantId, principal: deviceName });
    return { ok: true, endsAt: current.grant.endsAt };
  } catch (err) {
    // anything that refuses a new connection also ends a live one (revoked, disabled, vendor changed…)
    if (isAppError(err)) return { ok: false, reason: 'revoked', message: grant.status === 'revoked' && grant.endReason ? grant.endReason : err.message };
    throw err;
  }
}
