/**
 * ArcSight Common Event Format (CEF rev. 25) for one audit event:
 * `CEF:0|Portcullis|Portcullis|<version>|<action>|<name>|<severity>|<extension>`.
 * Escaping per the CEF spec: in the header `\` and `|` are escaped with a backslash (a header holds no
 * line break: any becomes a space); in extension values `\`, `=` and line breaks (`\n`, `\r`) are.
 *
 * Extension keys: rt (event time, ms since the epoch), act (the action), suser / suid (the actor),
 * duser / duid (the technician or user the event is about), src (the client address), dvchost (the
 * device's name), deviceExternalId (the device id), outcome (success | failure), externalId and cn1
 * (the audit seq), msg (the event's details as canonical JSON), and six labelled custom strings:
 * cs1 device manufacturer, cs2 device model, cs3 device serial, cs4 device department, cs5 the subject
 * (`<type>:<id>`), cs6 the event's hash in the audit chain.
 */
import { canonicalJson } from '../core/audit-chain.js';
import { actorNameOf, nameOf, outcomeOf, severityOf, sourceAddressOf, type SiemEvent } from './siem-event.js';

/** Escapes a CEF header field. */
export function cefHeader(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
}

/** Escapes a CEF extension value. */
export function cefValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r\n|\n/g, '\\n').replace(/\r/g, '\\r');
}

/** A CEF line for one event (no trailing newline). */
export function toCef(e: SiemEvent, productVersion: string): string {
  const ev = e.event;
  const ext: [string, string | number | null | undefined][] = [
    ['rt', ev.at.getTime()],
    ['act', ev.action],
    ['suser', actorNameOf(e)],
    ['suid', ev.actorId],
    ['duser', e.subjectUser?.username],
    ['duid', e.subjectUser?.id],
    ['src', sourceAddressOf(ev)],
    ['dvchost', e.device?.name],
    ['deviceExternalId', e.device?.id],
    ['outcome', outcomeOf(ev.action)],
    ['externalId', ev.seq],
    ['cn1', ev.seq],
    ['cn1Label', 'auditSeq'],
    ['cs1', e.device?.manufacturer],
    ['cs1Label', e.device ? 'deviceManufacturer' : undefined],
    ['cs2', e.device?.model],
    ['cs2Label', e.device ? 'deviceModel' : undefined],
    ['cs3', e.device?.serialNumber],
    ['cs3Label', e.device?.serialNumber ? 'deviceSerial' : undefined],
    ['cs4', e.device?.department],
    ['cs4Label', e.device ? 'deviceDepartment' : undefined],
    ['cs5', ev.subjectType ? `${ev.subjectType}:${ev.subjectId ?? ''}` : undefined],
    ['cs5Label', ev.subjectType ? 'subject' : undefined],
    ['cs6', ev.hash],
    ['cs6Label', 'auditHash'],
    ['msg', canonicalJson(ev.details)],
  ];
  const extension = ext
    .filter((kv): kv is [string, string | number] => kv[1] !== undefined && kv[1] !== null && kv[1] !== '')
    .map(([k, v]) => `${k}=${cefValue(String(v))}`)
    .join(' ');
  const header = ['CEF:0', 'Portcullis', 'Portcullis', productVersion, ev.action, nameOf(ev.action), String(severityOf(ev.action))].map((f, i) => (i === 0 ? f : cefHeader(f)));
  return `${header.join('|')}|${extension}`;
}

/** Parses a CEF line back into header fields and extension pairs (tests and the receiver side). */
export function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let i = 0;
  let field = '';
  while (header.length < 7 && i < line.length) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      field += line[i + 1];
      i += 2;
    } else if (c === '|') {
      header.push(field);
      field = '';
      i++;
    } else {
      field += c;
      i++;
    }
  }
  if (header.length < 7) throw new Error('not a CEF line: fewer than 8 fields');
  const rest = line.slice(i);
  const ext: Record<string, string> = {};
  // a key starts after a space (or at the start) and ends at an unescaped '='
  const re = /(?:^|\s)([A-Za-z0-9_]+)=((?:\\.|[^\\=])*?)(?=\s+[A-Za-z0-9_]+=|$)/g;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    ext[m[1]!] = m[2]!.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 'r' ? '\r' : ch));
  }
  return { header, ext };
}
