/** One audit event in the configured SIEM format: a CEF line, or a JSON / OCSF object. */
import { toCef } from './cef.js';
import { toOcsf } from './ocsf.js';
import type { SiemEvent, SiemFormat } from './siem-event.js';

/** The plain JSON form: the stored event (seq, hash, prev_hash, details) with the joined names. */
export function toJsonEvent(e: SiemEvent): Record<string, unknown> {
  const ev = e.event;
  return JSON.parse(JSON.stringify({
    seq: ev.seq, at: ev.at.toISOString(), action: ev.action,
    actor: { type: ev.actorType, id: ev.actorId, username: e.actor?.username, displayName: e.actor?.displayName },
    subject: { type: ev.subjectType, id: ev.subjectId },
    user: e.subjectUser ?? undefined,
    device: e.device ?? undefined,
    details: ev.details, prevHash: ev.prevHash, hash: ev.hash,
  })) as Record<string, unknown>;
}

export function formatEvent(format: SiemFormat, e: SiemEvent, productVersion: string): string | Record<string, unknown> {
  if (format === 'cef') return toCef(e, productVersion);
  if (format === 'ocsf') return toOcsf(e, productVersion);
  return toJsonEvent(e);
}

/** The format's text (JSON objects serialised on one line). */
export function formatEventText(format: SiemFormat, e: SiemEvent, productVersion: string): string {
  const v = formatEvent(format, e, productVersion);
  return typeof v === 'string' ? v : JSON.stringify(v);
}
