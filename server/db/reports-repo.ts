/** The reports' queries (server/core/reports.ts): aggregates over sessions, decisions, grants, transfers. */
import type { ReportsRepo, VendorAccessRow } from '../core/reports.js';
import type { Queryable } from './pool.js';

export function reportsRepo(db: Queryable): ReportsRepo {
  return {
    async vendorAccess(from, to, now) {
      const { rows } = await db.query(
        `WITH s AS (
           SELECT COALESCE(g.vendor_id, u.vendor_id) AS vendor_id, s.device_id, count(*) AS sessions,
                  sum(extract(epoch FROM (COALESCE(s.ended_at, $3) - s.started_at))) AS seconds
             FROM sessions s JOIN grants g ON g.id = s.grant_id JOIN users u ON u.id = s.technician_id
            WHERE s.started_at >= $1 AND s.started_at < $2 GROUP BY 1, 2),
         a AS (
           SELECT u.vendor_id, r.device_id, count(*) AS approvals
             FROM decisions d JOIN access_requests r ON r.id = d.request_id JOIN users u ON u.id = r.technician_id
            WHERE d.decision = 'approve' AND d.created_at >= $1 AND d.created_at < $2 GROUP BY 1, 2),
         b AS (
           SELECT COALESCE(g.vendor_id, u.vendor_id) AS vendor_id, g.device_id, count(*) AS break_glass
             FROM grants g JOIN users u ON u.id = g.technician_id
            WHERE g.emergency AND g.starts_at >= $1 AND g.starts_at < $2 GROUP BY 1, 2),
         t AS (
           SELECT COALESCE(g.vendor_id, u.vendor_id) AS vendor_id, t.device_id, count(*) AS transfers, sum(t.bytes) AS bytes
             FROM transfers t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = t.technician_id
            WHERE t.started_at >= $1 AND t.started_at < $2 GROUP BY 1, 2),
         k AS (SELECT vendor_id, device_id FROM s UNION SELECT vendor_id, device_id FROM a
               UNION SELECT vendor_id, device_id FROM b UNION SELECT vendor_id, device_id FROM t)
         SELECT k.vendor_id, v.name AS vendor_name, k.device_id, d.name AS device_name, d.department,
                COALESCE(s.sessions, 0) AS sessions, COALESCE(s.seconds, 0) AS seconds, COALESCE(a.approvals, 0) AS approvals,
                COALESCE(b.break_glass, 0) AS break_glass, COALESCE(t.transfers, 0) AS transfers, COALESCE(t.bytes, 0) AS bytes
           FROM k
           JOIN devices d ON d.id = k.device_id
           LEFT JOIN vendors v ON v.id = k.vendor_id
           LEFT JOIN s ON s.vendor_id IS NOT DISTINCT FROM k.vendor_id AND s.device_id = k.device_id
           LEFT JOIN a ON a.vendor_id IS NOT DISTINCT FROM k.vendor_id AND a.device_id = k.device_id
           LEFT JOIN b ON b.vendor_id IS NOT DISTINCT FROM k.vendor_id AND b.device_id = k.device_id
           LEFT JOIN t ON t.vendor_id IS NOT DISTINCT FROM k.vendor_id AND t.device_id = k.device_id
          ORDER BY v.name NULLS LAST, d.name`,
        [from, to, now],
      );
      return rows.map((r): VendorAccessRow => ({
        vendorId: (r.vendor_id as string | null) ?? null, vendorName: (r.vendor_name as string | null) ?? '(no vendor)',
        deviceId: r.device_id as string, deviceName: r.device_name as string, department: r.department as string,
        sessions: Number(r.sessions), sessionSeconds: Math.round(Number(r.seconds)), approvals: Number(r.approvals),
        breakGlass: Number(r.break_glass), transfers: Number(r.transfers), transferBytes: Number(r.bytes),
      }));
    },
    async unusedAccounts(since) {
      const { rows } = await db.query(
        `WITH logins AS (
           SELECT actor_id, max(at) AS at FROM audit_events WHERE action = 'auth.login' AND actor_type = 'user' GROUP BY actor_id),
         sessions AS (SELECT technician_id, max(started_at) AS at FROM sessions GROUP BY technician_id)
         SELECT u.id, u.username, u.display_name, u.vendor_id, v.name AS vendor_name, u.created_at,
                NULLIF(GREATEST(COALESCE(l.at, '-infinity'), COALESCE(s.at, '-infinity')), '-infinity') AS last_active_at
           FROM users u
           LEFT JOIN vendors v ON v.id = u.vendor_id
           LEFT JOIN logins l ON l.actor_id = u.id::text
           LEFT JOIN sessions s ON s.technician_id = u.id
          WHERE 'technician' = ANY (u.roles) AND u.disabled_at IS NULL AND u.created_at < $1
            AND COALESCE(l.at, '-infinity') < $1 AND COALESCE(s.at, '-infinity') < $1
          ORDER BY v.name NULLS LAST, u.username`,
        [since],
      );
      return rows.map((r) => ({
        userId: r.id as string, username: r.username as string, displayName: r.display_name as string,
        vendorId: (r.vendor_id as string | null) ?? null, vendorName: (r.vendor_name as string | null) ?? null,
        lastActiveAt: (r.last_active_at as Date | null) ?? null, createdAt: r.created_at as Date,
      }));
    },
  };
}
