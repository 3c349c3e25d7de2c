/** Transfers: one row per file read or written through the proxy's SFTP relay, written when it ends. */
import type { TransferRepo } from '../core/ports.js';
import type { Transfer } from '../core/types.js';
import type { Queryable } from './pool.js';

function toTransfer(r: Record<string, unknown>): Transfer {
  return {
    id: r.id as string,
    sessionId: r.session_id as string,
    grantId: r.grant_id as string,
    deviceId: r.device_id as string,
    technicianId: r.technician_id as string,
    direction: r.direction as Transfer['direction'],
    path: r.path as string,
    bytes: Number(r.bytes),
    sha256: (r.sha256 as string | null) ?? null,
    startedAt: r.started_at as Date,
    endedAt: r.ended_at as Date,
    outcome: r.outcome as Transfer['outcome'],
    reason: (r.reason as string | null) ?? null,
    declared: (r.declared as boolean | null) ?? null,
    artifactName: (r.artifact_name as string | null) ?? null,
  };
}

export function transfersRepo(db: Queryable): TransferRepo {
  return {
    async insert(t) {
      const { rows } = await db.query(
        `INSERT INTO transfers (session_id, grant_id, device_id, technician_id, direction, path, bytes, sha256, started_at, ended_at,
           outcome, reason, declared, artifact_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *`,
        [t.sessionId, t.grantId, t.deviceId, t.technicianId, t.direction, t.path, t.bytes, t.sha256, t.startedAt, t.endedAt,
          t.outcome, t.reason, t.declared, t.artifactName],
      );
      return toTransfer(rows[0]);
    },
    async forSession(sessionId) {
      const { rows } = await db.query('SELECT * FROM transfers WHERE session_id = $1 ORDER BY started_at, ended_at, id', [sessionId]);
      return rows.map(toTransfer);
    },
    async list(f) {
      const { rows } = await db.query(
        `SELECT t.* FROM transfers t JOIN devices d ON d.id = t.device_id
          WHERE ($1::uuid IS NULL OR t.device_id = $1) AND ($2::uuid IS NULL OR t.session_id = $2)
            AND ($3::text IS NULL OR t.sha256 = $3) AND ($4::text IS NULL OR d.approver_department = $4)
            AND ($5::uuid IS NULL OR t.technician_id = $5)
          ORDER BY t.started_at DESC, t.id LIMIT $6`,
        [f.deviceId ?? null, f.sessionId ?? null, f.sha256 ?? null, f.approverDepartment ?? null, f.technicianId ?? null, f.limit],
      );
      return rows.map(toTransfer);
    },
  };
}
