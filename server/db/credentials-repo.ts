import type { CredentialRepo } from '../core/ports.js';
import type { Queryable } from './pool.js';

export function credentialsRepo(db: Queryable): CredentialRepo {
  return {
    async upsert(deviceId, username, kind, s) {
      const { rows } = await db.query(
        `INSERT INTO device_credentials (device_id, username, kind, nonce, ciphertext, auth_tag)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device_id) DO UPDATE SET username = EXCLUDED.username, kind = EXCLUDED.kind,
           nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, auth_tag = EXCLUDED.auth_tag, rotated_at = now()
         RETURNING (xmax <> 0) AS rotated`,
        [deviceId, username, kind, s.nonce, s.ciphertext, s.authTag],
      );
      return { rotated: rows[0].rotated };
    },
    async get(deviceId) {
      const { rows } = await db.query('SELECT * FROM device_credentials WHERE device_id = $1', [deviceId]);
      const r = rows[0];
      return r ? { username: r.username, kind: r.kind, sealed: { nonce: r.nonce, ciphertext: r.ciphertext, authTag: r.auth_tag } } : null;
    },
    async destroy(deviceId) {
      const { rowCount } = await db.query('DELETE FROM device_credentials WHERE device_id = $1', [deviceId]);
      return (rowCount ?? 0) > 0;
    },
  };
}
