import type { SessionRepo } from '../core/ports.js';
import type { Session } from '../core/types.js';
import type { Queryable } from './pool.js';

function toSession(r: Record<string, unknown>): Session {
  return {
    id: r.id as string,
    grantId: r.grant_id as string,
    technicianId: r.technician_id as string,
    deviceId: r.device_id as string,
    channel: r.channel as Session['channel'],
    command: (r.command as string | null) ?? null,
    clientAddress: (r.client_address as string | null) ?? null,
    startedAt: r.started_at as Date,
    endedAt: (r.ended_at as Date | null) ?? null,
    endReason: (r.end_reason as Session['endReason']) ?? null,
    bytesIn: Number(r.bytes_in),
    bytesOut: Number(r.bytes_out),
  };
}

export function sessionsRepo(db: Queryable): SessionRepo {
  return {
    async insert(s) {
      const { rows } = await db.query(
        `INSERT INTO sessions (grant_id, technician_id, device_id, channel, command, client_address, started_at, proxy_instance)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [s.grantId, s.technicianId, s.deviceId, s.channel, s.command, s.clientAddress, s.startedAt, s.proxyInstance],
      );
      return toSession(rows[0]);
    },
    async end(id, e) {
      const { rows } = await db.query(
        `UPDATE sessions SET ended_at = $2, end_reason = $3, bytes_in = $4, bytes_out = $5
          WHERE id = $1 AND ended_at IS NULL RETURNING *`,
        [id, e.endedAt, e.endReason, e.bytesIn, e.bytesOut],
      );
      return rows[0] ? toSession(rows[0]) : null;
    },
    async byId(id) {
      const { rows } = await db.query('SELECT * FROM sessions WHERE id = $1', [id]);
      return rows[0] ? toSession(rows[0]) : null;
    },
    async list(f) {
      const { rows } = await db.query(
        `SELECT s.* FROM sessions s JOIN devices d ON d.id = s.device_id JOIN users u ON u.id = s.technician_id
          WHERE ($1::uuid IS NULL OR s.grant_id = $1) AND ($2::uuid IS NULL OR s.device_id = $2)
            AND ($3::uuid IS NULL OR s.technician_id = $3) AND ($4::uuid IS NULL OR u.vendor_id = $4)
            AND ($5::text IS NULL OR d.approver_department = $5) AND ($6::text IS NULL OR s.end_reason = $6)
            AND ($7::boolean IS NULL OR (s.ended_at IS NULL) = $7)
            AND ($8::timestamptz IS NULL OR s.started_at >= $8) AND ($9::timestamptz IS NULL OR s.started_at < $9)
          ORDER BY s.started_at DESC LIMIT $10`,
        [f.grantId ?? null, f.deviceId ?? null, f.technicianId ?? null, f.vendorId ?? null, f.approverDepartment ?? null,
          f.endReason ?? null, f.live ?? null, f.startedAfter ?? null, f.startedBefore ?? null, f.limit],
      );
      return rows.map(toSession);
    },
    async unfinished(proxyInstance) {
      const { rows } = await db.query('SELECT * FROM sessions WHERE ended_at IS NULL AND proxy_instance = $1 ORDER BY started_at', [proxyInstance]);
      return rows.map(toSession);
    },
  };
}
