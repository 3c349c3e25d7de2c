/**
 * RFC 5424 syslog messages with RFC 6587 octet-counting framing (`<length> SP <message>`), the only
 * framing that survives a line break inside a message. Facility 13 (log audit); the severity follows
 * the event's (CEF 10 → 1 alert, 8 → 2 critical, 6 → 4 warning, 5 → 5 notice, else 6 informational).
 * APP-NAME `portcullis`, MSGID the action (at most 32 printable ASCII characters), no structured data.
 */
import { severityOf } from './siem-event.js';

const FACILITY_LOG_AUDIT = 13;

function syslogSeverity(action: string): number {
  const s = severityOf(action);
  return s >= 10 ? 1 : s >= 8 ? 2 : s >= 6 ? 4 : s >= 5 ? 5 : 6;
}

/** Printable US-ASCII without spaces, at most `max` characters, or the NILVALUE `-`. */
function header(value: string, max: number): string {
  const v = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return v.length > 0 ? v : '-';
}

export function syslogMessage(opts: { at: Date; hostname: string; action: string; msg: string }): string {
  const pri = FACILITY_LOG_AUDIT * 8 + syslogSeverity(opts.action);
  return `<${pri}>1 ${opts.at.toISOString()} ${header(opts.hostname, 255)} portcullis - ${header(opts.action, 32)} - ${opts.msg}`;
}

/** One octet-counted frame: the byte length of the UTF-8 message, a space, the message. */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
