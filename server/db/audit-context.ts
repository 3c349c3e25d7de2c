/**
 * Audit events with the names around them (the SIEM's enrichment and the readable audit log): the
 * acting user; the device, technician and vendor of the grant, session or request the event is about
 * (or the device, user or vendor it names directly); and the ids of its request, grant and session.
 * Sessions are found by subject and by `details.sessionId`; grants by subject, by the session's grant
 * and by `details.grantId`.
 */
import type { AuditContext, AuditLogQuery, AuditLogRepo } from '../core/audit-log-view.js';
import type { AuditEvent } from '../core/types.js';
import type { Queryable } from './pool.js';

const UUID = `'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'`;
const asUuid = (expr: string) => `CASE WHEN ${expr} ~ ${UUID} THEN (${expr})::uuid END`;

export async function auditEventsWithContext(db: Queryable, q: AuditLogQuery): Promise<AuditContext[]> {
  const { rows } = await db.query(
    `WITH ev AS (
       SELECT e.*, ${asUuid('e.subject_id')} AS sid,
              CASE WHEN e.actor_type = 'user' THEN ${asUuid('e.actor_id')} END AS aid,
              ${asUuid("e.details->>'grantId'")} AS dgrant,
              ${asUuid("e.details->>'sessionId'")} AS dsession
         FROM audit_events e WHERE e.seq > $1),
     ctx AS (
       SELECT ev.*,
              s.id AS s_id, COALESCE(g.id, s.grant_id, ev.dgrant) AS g_id,
              COALESCE(r.id, g.request_id, sg.request_id, dg.request_id) AS r_id,
              COALESCE(CASE WHEN ev.subject_type = 'device' THEN ev.sid END, g.device_id, s.device_id, r.device_id, dg.device_id) AS d_id,
              COALESCE(g.technician_id, s.technician_id, r.technician_id, dg.technician_id, CASE WHEN ev.subject_type = 'user' THEN ev.sid END) AS t_id,
              COALESCE(g.vendor_id, sg.vendor_id, dg.vendor_id) AS gv_id
         FROM ev
         LEFT JOIN grants g ON ev.subject_type = 'grant' AND g.id = ev.sid
         LEFT JOIN sessions s ON s.id = COALESCE(CASE WHEN ev.subject_type = 'session' THEN ev.sid END, ev.dsession)
         LEFT JOIN grants sg ON sg.id = s.grant_id
         LEFT JOIN access_requests r ON ev.subject_type = 'access_request' AND r.id = ev.sid
         LEFT JOIN grants dg ON g.id IS NULL AND s.id IS NULL AND dg.id = ev.dgrant)
     SELECT ctx.*, au.username AS a_username, au.display_name AS a_display_name,
            d.name AS d_name, d.manufacturer AS d_manufacturer, d.model AS d_model, d.serial_number AS d_serial, d.department AS d_department,
            t.username AS t_username, t.display_name AS t_display_name,
            v.id AS v_id, v.name AS v_name
       FROM ctx
       LEFT JOIN users au ON au.id = ctx.aid
       LEFT JOIN devices d ON d.id = ctx.d_id
       LEFT JOIN users t ON t.id = ctx.t_id
       LEFT JOIN vendors v ON v.id = COALESCE(CASE WHEN ctx.subject_type = 'vendor' THEN ctx.sid END, ctx.gv_id, t.vendor_id)
      WHERE ($3::uuid IS NULL OR ctx.d_id = $3)
        AND ($4::uuid IS NULL OR v.id = $4)
        AND ($5::uuid IS NULL OR ctx.t_id = $5 OR ctx.aid = $5)
        AND ($6::text IS NULL OR ctx.action = $6 OR starts_with(ctx.action, $6 || '.'))
      ORDER BY ctx.seq
      LIMIT $2`,
    [q.afterSeq ?? 0, q.limit, q.deviceId ?? null, q.vendorId ?? null, q.technicianId ?? null, q.family ?? null],
  );
  return rows.map((r) => {
    const event: AuditEvent = {
      seq: Number(r.seq), at: r.at as Date, actorType: r.actor_type, actorId: r.actor_id ?? null, action: r.action,
      subjectType: r.subject_type ?? null, subjectId: r.subject_id ?? null, details: r.details, prevHash: r.prev_hash, hash: r.hash,
    };
    return {
      event,
      actor: r.a_username ? { id: r.actor_id as string, username: r.a_username as string, displayName: r.a_display_name as string } : null,
      subjectUser: r.t_username ? { id: r.t_id as string, username: r.t_username as string, displayName: r.t_display_name as string, vendor: (r.v_name as string | null) ?? null } : null,
      device: r.d_name ? {
        id: r.d_id as string, name: r.d_name as string, manufacturer: r.d_manufacturer as string, model: r.d_model as string,
        serialNumber: (r.d_serial as string | null) ?? null, department: r.d_department as string,
      } : null,
      vendor: r.v_id ? { id: r.v_id as string, name: r.v_name as string } : null,
      requestId: (r.r_id as string | null) ?? null,
      grantId: (r.g_id as string | null) ?? null,
      sessionId: (r.s_id as string | null) ?? null,
    };
  });
}

export const auditLogRepo = (db: Queryable): AuditLogRepo => ({ list: (q) => auditEventsWithContext(db, q) });
