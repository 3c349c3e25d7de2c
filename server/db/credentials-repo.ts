import type { CredentialRecord, CredentialRepo, CredentialSummary, SealedSecret } from '../core/ports.js';
import type { CredentialKind } from '../core/types.js';
import type { Queryable } from './pool.js';

const SUMMARY_COLUMNS = `device_id, username, kind, public_key, issued_at, rotated_at, rotation_failed_at, rotation_failure, pending_created_at,
  password_rotation_command`;

function toSummary(r: Record<string, unknown>): CredentialSummary {
  return {
    deviceId: r.device_id as string,
    username: r.username as string,
    kind: r.kind as CredentialKind,
    publicKey: (r.public_key as string | null) ?? null,
    issuedAt: r.issued_at as Date,
    rotatedAt: (r.rotated_at as Date | null) ?? null,
    rotationFailure: r.rotation_failed_at ? { at: r.rotation_failed_at as Date, reason: r.rotation_failure as string } : null,
    pendingSince: (r.pending_created_at as Date | null) ?? null,
    passwordRotation: r.password_rotation_command ? { command: r.password_rotation_command as string } : null,
  };
}

const sealedOf = (nonce: unknown, ciphertext: unknown, authTag: unknown): SealedSecret | null =>
  ciphertext ? { nonce: nonce as Buffer, ciphertext: ciphertext as Buffer, authTag: authTag as Buffer } : null;

export function credentialsRepo(db: Queryable): CredentialRepo {
  return {
    async upsert(deviceId, username, kind, s, extra = {}) {
      const { rows } = await db.query(
        `INSERT INTO device_credentials (device_id, username, kind, nonce, ciphertext, auth_tag, public_key, issued_at, password_rotation_command)
         VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now()), $9)
         ON CONFLICT (device_id) DO UPDATE SET username = EXCLUDED.username, kind = EXCLUDED.kind,
           nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, auth_tag = EXCLUDED.auth_tag,
           public_key = EXCLUDED.public_key, issued_at = EXCLUDED.issued_at, rotated_at = EXCLUDED.issued_at,
           password_rotation_command = EXCLUDED.password_rotation_command,
           pending_nonce = NULL, pending_ciphertext = NULL, pending_auth_tag = NULL, pending_public_key = NULL,
           pending_created_at = NULL, rotation_failed_at = NULL, rotation_failure = NULL
         RETURNING (xmax <> 0) AS rotated`,
        [deviceId, username, kind, s?.nonce ?? null, s?.ciphertext ?? null, s?.authTag ?? null, extra.publicKey ?? null, extra.at ?? null,
          extra.passwordRotation?.command ?? null],
      );
      return { rotated: rows[0].rotated };
    },
    async get(deviceId) {
      const { rows } = await db.query('SELECT username, kind, nonce, ciphertext, auth_tag FROM device_credentials WHERE device_id = $1', [deviceId]);
      const r = rows[0];
      const sealed = r ? sealedOf(r.nonce, r.ciphertext, r.auth_tag) : null;
      return r && sealed ? { username: r.username, kind: r.kind, sealed } : null;
    },
    async record(deviceId) {
      const { rows } = await db.query('SELECT * FROM device_credentials WHERE device_id = $1', [deviceId]);
      const r = rows[0];
      if (!r) return null;
      const pendingSealed = sealedOf(r.pending_nonce, r.pending_ciphertext, r.pending_auth_tag);
      const record: CredentialRecord = {
        ...toSummary(r),
        sealed: sealedOf(r.nonce, r.ciphertext, r.auth_tag),
        pending: pendingSealed ? { sealed: pendingSealed, publicKey: r.pending_public_key, createdAt: r.pending_created_at } : null,
      };
      return record;
    },
    async list() {
      const { rows } = await db.query(`SELECT ${SUMMARY_COLUMNS} FROM device_credentials ORDER BY device_id`);
      return rows.map(toSummary);
    },
    async destroy(deviceId) {
      const { rowCount } = await db.query('DELETE FROM device_credentials WHERE device_id = $1', [deviceId]);
      return (rowCount ?? 0) > 0;
    },
    async setPending(deviceId, s, publicKey, at) {
      const { rowCount } = await db.query(
        `UPDATE device_credentials SET pending_nonce = $2, pending_ciphertext = $3, pending_auth_tag = $4,
           pending_public_key = $5, pending_created_at = $6
         WHERE device_id = $1 AND pending_ciphertext IS NULL
           AND (kind = 'key' OR (kind = 'password' AND password_rotation_command IS NOT NULL))`,
        [deviceId, s.nonce, s.ciphertext, s.authTag, publicKey, at],
      );
      return (rowCount ?? 0) > 0;
    },
    async promotePending(deviceId, pendingCiphertext, at) {
      const { rowCount } = await db.query(
        `UPDATE device_credentials SET nonce = pending_nonce, ciphertext = pending_ciphertext, auth_tag = pending_auth_tag,
           public_key = pending_public_key, issued_at = $3, rotated_at = $3,
           pending_nonce = NULL, pending_ciphertext = NULL, pending_auth_tag = NULL, pending_public_key = NULL,
           pending_created_at = NULL, rotation_failed_at = NULL, rotation_failure = NULL
         WHERE device_id = $1 AND pending_ciphertext = $2`,
        [deviceId, pendingCiphertext, at],
      );
      return (rowCount ?? 0) > 0;
    },
    async markRotationFailed(deviceId, reason, at) {
      await db.query('UPDATE device_credentials SET rotation_failed_at = $2, rotation_failure = $3 WHERE device_id = $1',
        [deviceId, at, reason.slice(0, 500)]);
    },
  };
}
