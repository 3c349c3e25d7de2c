import type { GrantRepo } from '../core/ports.js';
import type { Grant } from '../core/types.js';
import type { Queryable } from './pool.js';

export function toGrant(r: Record<string, unknown>): Grant {
  return {
    id: r.id as string,
    requestId: r.request_id as string,
    technicianId: r.technician_id as string,
    deviceId: r.device_id as string,
    vendorId: (r.vendor_id as string | null) ?? null,
    status: r.status as Grant['status'],
    startsAt: r.starts_at as Date,
    endsAt: r.ends_at as Date,
    activatedAt: (r.activated_at as Date | null) ?? null,
    endedAt: (r.ended_at as Date | null) ?? null,
    revokedBy: (r.revoked_by as string | null) ?? null,
    endReason: (r.end_reason as string | null) ?? null,
    warned5At: (r.warned_5_at as Date | null) ?? null,
    warned1At: (r.warned_1_at as Date | null) ?? null,
    emergency: (r.emergency as boolean | undefined) ?? false,
    reviewDueAt: (r.review_due_at as Date | null) ?? null,
    reviewedAt: (r.reviewed_at as Date | null) ?? null,
    reviewedBy: (r.reviewed_by as string | null) ?? null,
    reviewOutcome: (r.review_outcome as Grant['reviewOutcome']) ?? null,
    reviewComment: (r.review_comment as string | null) ?? null,
    reviewEscalatedAt: (r.review_escalated_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
  };
}

export function grantsRepo(db: Queryable): GrantRepo {
  return {
    async insert(g) {
      const { rows } = await db.query(
        // the grant's vendor is the technician's at this moment (checked by the approval in the same transaction)
        `INSERT INTO grants (request_id, technician_id, device_id, status, starts_at, ends_at, activated_at, vendor_id, emergency, review_due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT vendor_id FROM users WHERE id = $2), $8, $9) RETURNING *`,
        [g.requestId, g.technicianId, g.deviceId, g.status, g.startsAt, g.endsAt, g.activatedAt, g.emergency ?? false, g.reviewDueAt ?? null],
      );
      return toGrant(rows[0]);
    },
    async byId(id, opts) {
      const { rows } = await db.query(`SELECT * FROM grants WHERE id = $1${opts?.forUpdate ? ' FOR UPDATE' : ''}`, [id]);
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async byRequest(requestId) {
      const { rows } = await db.query('SELECT * FROM grants WHERE request_id = $1', [requestId]);
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async list(f) {
      const { rows } = await db.query(
        `SELECT g.* FROM grants g JOIN devices d ON d.id = g.device_id
          WHERE ($1::text IS NULL OR g.status = $1) AND ($2::uuid IS NULL OR g.technician_id = $2)
            AND ($3::uuid IS NULL OR g.device_id = $3) AND ($4::text IS NULL OR d.approver_department = $4)
            AND ($6::text IS NULL OR (g.emergency AND ($6 = 'emergency' OR g.reviewed_at IS NULL)))
          ORDER BY g.starts_at DESC LIMIT $5`,
        [f.status ?? null, f.technicianId ?? null, f.deviceId ?? null, f.approverDepartment ?? null, f.limit, f.emergency ?? null],
      );
      return rows.map(toGrant);
    },
    async activate(id, at) {
      const { rows } = await db.query(
        `UPDATE grants SET status = 'active', activated_at = $2 WHERE id = $1 AND status = 'scheduled' RETURNING *`,
        [id, at],
      );
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async end(s, status, at, reason, by) {
      const { rows } = await db.query(
        `UPDATE grants g SET status = $6, ended_at = $7, end_reason = $8, revoked_by = $9
          WHERE g.status IN ('scheduled', 'active')
            AND ($1::uuid IS NULL OR g.id = $1) AND ($2::uuid IS NULL OR g.device_id = $2)
            AND ($3::uuid IS NULL OR g.technician_id = $3)
            AND ($4::uuid IS NULL OR g.vendor_id = $4 OR g.technician_id IN (SELECT id FROM users WHERE vendor_id = $4))
            AND ($5::timestamptz IS NULL OR g.ends_at > $5)
          RETURNING *`,
        [s.grantId ?? null, s.deviceId ?? null, s.technicianId ?? null, s.vendorId ?? null, s.endingAfter ?? null,
          status, at, reason, by],
      );
      return rows.map(toGrant);
    },
    async extend(id, endsAt) {
      const { rows } = await db.query(
        `UPDATE grants SET ends_at = $2, warned_5_at = NULL, warned_1_at = NULL
          WHERE id = $1 AND status IN ('scheduled', 'active') AND ends_at < $2 RETURNING *`,
        [id, endsAt],
      );
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async markWarned(id, minutesLeft, at) {
      const column = minutesLeft === 5 ? 'warned_5_at' : 'warned_1_at';
      const { rows } = await db.query(
        `UPDATE grants SET ${column} = $2 WHERE id = $1 AND status = 'active' AND ${column} IS NULL RETURNING *`,
        [id, at],
      );
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async review(id, r) {
      const { rows } = await db.query(
        `UPDATE grants SET reviewed_at = $2, reviewed_by = $3, review_outcome = $4, review_comment = $5
          WHERE id = $1 AND emergency AND reviewed_at IS NULL RETURNING *`,
        [id, r.at, r.by, r.outcome, r.comment],
      );
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async markReviewEscalated(id, at) {
      const { rows } = await db.query(
        `UPDATE grants SET review_escalated_at = $2
          WHERE id = $1 AND emergency AND reviewed_at IS NULL AND review_escalated_at IS NULL RETURNING *`,
        [id, at],
      );
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async unreviewedEmergencyOf(technicianId) {
      const { rows } = await db.query(
        'SELECT * FROM grants WHERE technician_id = $1 AND emergency AND reviewed_at IS NULL LIMIT 1',
        [technicianId],
      );
      return rows[0] ? toGrant(rows[0]) : null;
    },
    async open() {
      const { rows } = await db.query(`SELECT * FROM grants WHERE status IN ('scheduled', 'active') ORDER BY ends_at`);
      return rows.map(toGrant);
    },
    async openFor(technicianId, deviceId) {
      const { rows } = await db.query(
        `SELECT * FROM grants WHERE technician_id = $1 AND device_id = $2 AND status IN ('scheduled', 'active') LIMIT 1`,
        [technicianId, deviceId],
      );
      return rows[0] ? toGrant(rows[0]) : null;
    },
  };
}
