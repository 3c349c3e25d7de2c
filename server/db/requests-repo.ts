import type { RequestRepo } from '../core/ports.js';
import type { AccessRequest } from '../core/types.js';
import type { Queryable } from './pool.js';

export function toRequest(r: Record<string, unknown>): AccessRequest {
  return {
    id: r.id as string,
    kind: r.kind as AccessRequest['kind'],
    technicianId: r.technician_id as string,
    deviceId: r.device_id as string,
    extendsGrantId: (r.extends_grant_id as string | null) ?? null,
    reason: r.reason as string,
    ticketRef: r.ticket_ref as string,
    startsAt: r.starts_at as Date,
    startsOnApproval: r.starts_on_approval as boolean,
    durationMinutes: r.duration_minutes as number,
    approvalsRequired: r.approvals_required as number,
    status: r.status as AccessRequest['status'],
    artifacts: (r.artifacts as AccessRequest['artifacts'] | null) ?? [],
    expiresAt: r.expires_at as Date,
    closedAt: (r.closed_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
  };
}

export function requestsRepo(db: Queryable): RequestRepo {
  return {
    async insert(r) {
      const { rows } = await db.query(
        `INSERT INTO access_requests (kind, technician_id, device_id, extends_grant_id, reason, ticket_ref, starts_at,
           starts_on_approval, duration_minutes, approvals_required, expires_at, created_at, artifacts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
        [r.kind, r.technicianId, r.deviceId, r.extendsGrantId, r.reason, r.ticketRef, r.startsAt, r.startsOnApproval,
          r.durationMinutes, r.approvalsRequired, r.expiresAt, r.createdAt, JSON.stringify(r.artifacts ?? [])],
      );
      return toRequest(rows[0]);
    },
    async byId(id, opts) {
      const { rows } = await db.query(`SELECT * FROM access_requests WHERE id = $1${opts?.forUpdate ? ' FOR UPDATE' : ''}`, [id]);
      return rows[0] ? toRequest(rows[0]) : null;
    },
    async list(f) {
      const { rows } = await db.query(
        `SELECT r.* FROM access_requests r JOIN devices d ON d.id = r.device_id
          WHERE ($1::text IS NULL OR r.status = $1) AND ($2::uuid IS NULL OR r.technician_id = $2)
            AND ($3::uuid IS NULL OR r.device_id = $3) AND ($4::text IS NULL OR d.approver_department = $4)
          ORDER BY r.created_at DESC LIMIT $5`,
        [f.status ?? null, f.technicianId ?? null, f.deviceId ?? null, f.approverDepartment ?? null, f.limit],
      );
      return rows.map(toRequest);
    },
    async close(id, status, at) {
      const { rows } = await db.query(
        `UPDATE access_requests SET status = $2, closed_at = $3 WHERE id = $1 AND status = 'pending' RETURNING *`,
        [id, status, at],
      );
      return rows[0] ? toRequest(rows[0]) : null;
    },
    async pendingFor(s) {
      const { rows } = await db.query(
        `SELECT r.* FROM access_requests r JOIN users u ON u.id = r.technician_id
          WHERE r.status = 'pending' AND ($1::uuid IS NULL OR r.technician_id = $1)
            AND ($2::uuid IS NULL OR r.device_id = $2) AND ($3::uuid IS NULL OR u.vendor_id = $3)
            AND ($4::uuid IS NULL OR r.extends_grant_id = $4)
          ORDER BY r.created_at`,
        [s.technicianId ?? null, s.deviceId ?? null, s.vendorId ?? null, s.extendsGrantId ?? null],
      );
      return rows.map(toRequest);
    },
    async lapsed(now) {
      const { rows } = await db.query(
        `SELECT * FROM access_requests WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at`,
        [now],
      );
      return rows.map(toRequest);
    },
  };
}
