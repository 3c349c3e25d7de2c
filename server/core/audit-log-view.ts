/**
 * The audit log as people read it (§8.7, issue 16): each event with its actor and subject by name,
 * the device and technician it concerns, and where to open it in the console (its request, grant,
 * session or device). Filters by device, vendor, technician and action family. Auditors and admins.
 * The stored event (seq, hash, details) is returned unchanged beside the names.
 */
import { requireOversight } from './scope.js';
import type { CoreDeps } from './ports.js';
import type { Actor, AuditEvent } from './types.js';

export interface AuditContext {
  event: AuditEvent;
  actor: { id: string; username: string; displayName: string } | null;
  /** the technician of the grant, session or request, or the user the event is about */
  subjectUser: { id: string; username: string; displayName: string; vendor: string | null } | null;
  device: { id: string; name: string; manufacturer: string; model: string; serialNumber: string | null; department: string } | null;
  /** the vendor the event is about (its own subject, or the technician's vendor) */
  vendor: { id: string; name: string } | null;
  /** the request, grant and session the event belongs to, when it belongs to one */
  requestId: string | null;
  grantId: string | null;
  sessionId: string | null;
}

export interface AuditLogQuery {
  afterSeq?: number;
  limit: number;
  deviceId?: string;
  vendorId?: string;
  technicianId?: string;
  /** the action family: `session` matches `session.*` */
  family?: string;
}

/** The audit log joined with names (server/db/audit-context.ts). */
export interface AuditLogRepo {
  list(q: AuditLogQuery): Promise<AuditContext[]>;
}

export interface AuditLogEntry {
  seq: number;
  at: Date;
  action: string;
  family: string;
  actor: { type: AuditEvent['actorType']; id: string | null; name: string };
  subject: { type: string | null; id: string | null; name: string | null };
  device: { id: string; name: string } | null;
  technician: { id: string; username: string; displayName: string } | null;
  vendor: { id: string; name: string } | null;
  /** what the event belongs to, by id */
  refs: { requestId: string | null; grantId: string | null; sessionId: string | null; deviceId: string | null };
  /** the console page to open: the session, else the request (which shows its grant), else the device's trail in the log */
  href: string | null;
  details: Record<string, unknown>;
  hash: string;
}

function actorName(c: AuditContext): string {
  if (c.actor) return `${c.actor.displayName} (${c.actor.username})`;
  const e = c.event;
  if (e.actorType === 'system') return e.actorId ? `system: ${e.actorId}` : 'system';
  if (e.actorType === 'anonymous') return e.actorId ? `anonymous (${e.actorId})` : 'anonymous';
  return e.actorId ? `${e.actorType} ${e.actorId} (no longer exists)` : e.actorType;
}

function subjectName(c: AuditContext): string | null {
  const e = c.event;
  switch (e.subjectType) {
    case null:
      return null;
    case 'user':
      return c.subjectUser ? `${c.subjectUser.displayName} (${c.subjectUser.username})` : `user ${e.subjectId}`;
    case 'device':
      return c.device ? c.device.name : `device ${e.subjectId}`;
    case 'vendor':
      return c.vendor ? c.vendor.name : `vendor ${e.subjectId}`;
    case 'access_request':
    case 'grant':
    case 'session': {
      const what = e.subjectType === 'access_request' ? 'request' : e.subjectType;
      const who = c.subjectUser ? ` by ${c.subjectUser.username}` : '';
      return c.device ? `${what} on ${c.device.name}${who}` : `${what} ${e.subjectId}`;
    }
    case 'audit_event':
      return `audit event ${e.subjectId}`;
    case 'login_source':
      return `address ${e.subjectId}`;
    default:
      return `${e.subjectType} ${e.subjectId ?? ''}`.trim();
  }
}

export function toAuditLogEntry(c: AuditContext): AuditLogEntry {
  const e = c.event;
  const deviceId = c.device?.id ?? null;
  const href = c.sessionId ? `/sessions/${c.sessionId}` : c.requestId ? `/approvals/${c.requestId}` : deviceId ? `/audit?deviceId=${deviceId}` : null;
  return {
    seq: e.seq, at: e.at, action: e.action, family: e.action.split('.')[0]!,
    actor: { type: e.actorType, id: e.actorId, name: actorName(c) },
    subject: { type: e.subjectType, id: e.subjectId, name: subjectName(c) },
    device: c.device ? { id: c.device.id, name: c.device.name } : null,
    technician: c.subjectUser ? { id: c.subjectUser.id, username: c.subjectUser.username, displayName: c.subjectUser.displayName } : null,
    vendor: c.vendor,
    refs: { requestId: c.requestId, grantId: c.grantId, sessionId: c.sessionId, deviceId },
    href,
    details: e.details,
    hash: e.hash,
  };
}

/** `GET /api/audit/log`: a page of the log with names, oldest first after `afterSeq`. */
export async function listAuditLog(deps: CoreDeps, actor: Actor, q: AuditLogQuery): Promise<{ items: AuditLogEntry[]; nextAfterSeq: number | null }> {
  requireOversight(actor);
  const rows = await deps.store.read.auditLog.list(q);
  return { items: rows.map(toAuditLogEntry), nextAfterSeq: rows.length === q.limit ? rows[rows.length - 1]!.event.seq : null };
}
