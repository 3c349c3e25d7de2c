/** Vendor invitations (migration 032): only the token's SHA-256 is stored; closing one is a conditional write. */
import type { InvitationRepo, NewInvitation } from '../core/ports.js';
import type { Invitation, RoleName } from '../core/types.js';
import type { Queryable } from './pool.js';

type Row = Record<string, unknown>;

function toInvitation(r: Row): Invitation {
  return {
    id: r.id as string,
    username: r.username as string,
    displayName: r.display_name as string,
    roles: r.roles as RoleName[],
    vendorId: r.vendor_id as string,
    accountExpiresAt: r.account_expires_at as Date,
    expiresAt: r.expires_at as Date,
    invitedBy: r.invited_by as string,
    createdAt: r.created_at as Date,
    acceptedAt: (r.accepted_at as Date | null) ?? null,
    acceptedUserId: (r.accepted_user_id as string | null) ?? null,
    revokedAt: (r.revoked_at as Date | null) ?? null,
    revokedBy: (r.revoked_by as string | null) ?? null,
  };
}

const one = (rows: Row[]) => (rows[0] ? toInvitation(rows[0]) : null);

export function invitationsRepo(db: Queryable): InvitationRepo {
  return {
    async insert(i: NewInvitation) {
      const { rows } = await db.query(
        `INSERT INTO invitations (token_hash, username, display_name, roles, vendor_id, account_expires_at, expires_at, invited_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        [i.tokenHash, i.username, i.displayName, i.roles, i.vendorId, i.accountExpiresAt, i.expiresAt, i.invitedBy, i.createdAt],
      );
      return toInvitation(rows[0]);
    },
    async byId(id) {
      return one((await db.query('SELECT * FROM invitations WHERE id = $1', [id])).rows);
    },
    async byTokenHash(tokenHash) {
      return one((await db.query('SELECT * FROM invitations WHERE token_hash = $1', [tokenHash])).rows);
    },
    async lockByTokenHash(tokenHash) {
      return one((await db.query('SELECT * FROM invitations WHERE token_hash = $1 FOR UPDATE', [tokenHash])).rows);
    },
    async pending(now) {
      const { rows } = await db.query(
        `SELECT * FROM invitations WHERE accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1 ORDER BY created_at`,
        [now],
      );
      return rows.map(toInvitation);
    },
    async markAccepted(id, userId, at) {
      const { rows } = await db.query(
        `UPDATE invitations SET accepted_at = $3, accepted_user_id = $2
          WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3 RETURNING *`,
        [id, userId, at],
      );
      return one(rows);
    },
    async revoke(id, by, at) {
      const { rows } = await db.query(
        `UPDATE invitations SET revoked_at = $3, revoked_by = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL RETURNING *`,
        [id, by, at],
      );
      return one(rows);
    },
  };
}
