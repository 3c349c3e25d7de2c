/** Host keys devices presented instead of their pin (§8.4): at most one pending change per device. */
import type { HostKeyChange, HostKeyChangeRepo, HostKeySighting } from '../core/ports.js';
import type { Queryable } from './pool.js';

function toChange(r: Record<string, unknown>): HostKeyChange {
  return {
    id: r.id as string,
    deviceId: r.device_id as string,
    keyType: r.key_type as string,
    fingerprint: r.fingerprint as string,
    publicKey: r.public_key as string,
    pinnedFingerprint: r.pinned_fingerprint as string,
    firstSeenAt: r.first_seen_at as Date,
    firstSeenBy: r.first_seen_by as HostKeySighting,
    lastSeenAt: r.last_seen_at as Date,
    timesSeen: r.times_seen as number,
    status: r.status as HostKeyChange['status'],
    resolvedAt: (r.resolved_at as Date | null) ?? null,
    resolvedBy: (r.resolved_by as string | null) ?? null,
  };
}

export function hostKeyChangesRepo(db: Queryable): HostKeyChangeRepo {
  return {
    async recordSighting(deviceId, key, by, at) {
      // the same key seen again against the same pin: one more sighting of the pending change
      const seen = await db.query(
        `UPDATE device_host_key_changes SET last_seen_at = GREATEST(last_seen_at, $3), times_seen = times_seen + 1
         WHERE device_id = $1 AND status = 'pending' AND fingerprint = $2 AND pinned_fingerprint = $4 RETURNING *`,
        [deviceId, key.fingerprint, at, key.pinnedFingerprint],
      );
      if (seen.rows[0]) return { change: toChange(seen.rows[0]), created: false, superseded: null };
      // another key (or the pin was changed by hand since): the one pending is moot, a confirmation must name the key seen last
      const old = await db.query(
        `UPDATE device_host_key_changes SET status = 'superseded', resolved_at = $2
         WHERE device_id = $1 AND status = 'pending' RETURNING *`,
        [deviceId, at],
      );
      const { rows } = await db.query(
        `INSERT INTO device_host_key_changes
           (device_id, key_type, fingerprint, public_key, pinned_fingerprint, first_seen_at, first_seen_by, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6) RETURNING *`,
        [deviceId, key.keyType, key.fingerprint, key.publicKey, key.pinnedFingerprint, at, JSON.stringify(by)],
      );
      return { change: toChange(rows[0]), created: true, superseded: old.rows[0] ? toChange(old.rows[0]) : null };
    },
    async pending(deviceId) {
      const { rows } = await db.query(`SELECT * FROM device_host_key_changes WHERE device_id = $1 AND status = 'pending'`, [deviceId]);
      return rows[0] ? toChange(rows[0]) : null;
    },
    async listPending() {
      const { rows } = await db.query(`SELECT * FROM device_host_key_changes WHERE status = 'pending' ORDER BY first_seen_at`);
      return rows.map(toChange);
    },
    async resolve(deviceId, fingerprint, by, at) {
      const { rows } = await db.query(
        `UPDATE device_host_key_changes SET status = 'repinned', resolved_at = $4, resolved_by = $3
         WHERE device_id = $1 AND status = 'pending' AND fingerprint = $2 RETURNING *`,
        [deviceId, fingerprint, by, at],
      );
      return rows[0] ? toChange(rows[0]) : null;
    },
  };
}
