/**
 * What a SIEM receives for one audit event: the event as stored (seq, hash and all) with the names a
 * SIEM rule needs already joined in — the actor, the technician and the device's identity (name,
 * manufacturer, model, serial, department) when the subject is a device, session, grant or request —
 * so no rule has to look anything up. Plain data and pure helpers shared by every format.
 */
import type { AuditEvent } from '../core/types.js';

export interface SiemDevice {
  id: string;
  name: string;
  manufacturer: string;
  model: string;
  serialNumber: string | null;
  department: string;
}

export interface SiemPerson {
  id: string;
  username: string;
  displayName: string;
}

export interface SiemEvent {
  event: AuditEvent;
  /** the acting user, when the actor is a user that still exists */
  actor: SiemPerson | null;
  /** the technician of the grant, session or request, or the user the event is about */
  subjectUser: (SiemPerson & { vendor: string | null }) | null;
  device: SiemDevice | null;
}

export type SiemFormat = 'cef' | 'json' | 'ocsf';

const FAILURE = /(^|[._])(failed|refused|denied|denied_by|locked|throttled|rejected|verification_failed|unjustified)($|[._])/;

/** `failure` for refusals and failed attempts, `success` otherwise (the action already happened). */
export function outcomeOf(action: string): 'success' | 'failure' {
  return FAILURE.test(action) ? 'failure' : 'success';
}

/** CEF severity 0–10: a broken audit chain is the worst news, then emergency access, then refusals. */
export function severityOf(action: string): number {
  if (action === 'audit.verification_failed') return 10;
  if (action.includes('break_glass') || action === 'grant.review_overdue') return 8;
  if (action.endsWith('.revoked') || action === 'session.terminated' || action === 'transfer.undeclared') return 6;
  if (outcomeOf(action) === 'failure') return 5;
  return 3;
}

/** "grant.break_glass" → "grant break glass": a human name for the event class. */
export function nameOf(action: string): string {
  return action.replace(/[._]+/g, ' ');
}

/** The client address the event names, if any (the keys the proxy and the login guard use). */
export function sourceAddressOf(e: AuditEvent): string | null {
  const d = e.details;
  for (const key of ['clientAddress', 'address', 'ip', 'remoteAddress']) {
    const v = d[key];
    if (typeof v === 'string' && v.length > 0 && v.length <= 64) return v;
  }
  if (e.subjectType === 'login_source' && e.subjectId) return e.subjectId;
  return null;
}

/** The actor as a name: the username for users, `system:<name>` and the like otherwise. */
export function actorNameOf(e: SiemEvent): string {
  if (e.actor) return e.actor.username;
  return e.event.actorId ? `${e.event.actorType}:${e.event.actorId}` : e.event.actorType;
}
