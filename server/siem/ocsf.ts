/**
 * Audit events as OCSF 1.1 events (https://schema.ocsf.io). The mapping, by action family:
 *
 * | actions                                   | OCSF class                 | class_uid | category          |
 * |-------------------------------------------|----------------------------|-----------|-------------------|
 * | auth.* (login, logout, failures, locks)   | Authentication             | 3002      | 3 IAM             |
 * | user.* (created, updated, disabled, …)    | Account Change             | 3001      | 3 IAM             |
 * | device.*, vendor.*, request.*, grant.*,   | Entity Management          | 3004      | 3 IAM             |
 * | credential.*, recording.*                 |                            |           |                   |
 * | everything else: session.*, transfer.*,   | API Activity               | 6003      | 6 Application     |
 * | audit.*, slack.*, system.*                |                            |           |                   |
 *
 * activity_id: Authentication 1 Logon (auth.login, and the failed / refused attempts at it), 2 Logoff,
 * 99 Other; Account Change 1 Create, 3 Password Change, 5 Disable, 2 Enable, 99 Other; Entity
 * Management and API Activity 1 Create (`*.created`, `*.enrolled`, `*.issued`, `*.started`), 2 Read
 * (`*.accessed`, `*.watched`), 3 Update, 4 Delete (`*.destroyed`, `*.retired`, `*.revoked`,
 * `*.terminated`), 99 Other. type_uid = class_uid × 100 + activity_id. status_id 1 Success / 2
 * Failure; severity_id from the CEF severity (1 Informational … 5 Critical). The device the event
 * concerns is `device` (uid, name, vendor_name = manufacturer, model, hw_info.serial_number,
 * org.ou_name = department); the entity of Entity Management is `entity` {uid, type}; the audit
 * seq and hash are metadata.uid and metadata.correlation_uid / unmapped.hash; the details are
 * `unmapped.details`.
 */
import { actorNameOf, outcomeOf, severityOf, sourceAddressOf, type SiemEvent } from './siem-event.js';

interface OcsfClass {
  classUid: number;
  className: string;
  categoryUid: number;
  categoryName: string;
}

const AUTHENTICATION: OcsfClass = { classUid: 3002, className: 'Authentication', categoryUid: 3, categoryName: 'Identity & Access Management' };
const ACCOUNT_CHANGE: OcsfClass = { classUid: 3001, className: 'Account Change', categoryUid: 3, categoryName: 'Identity & Access Management' };
const ENTITY_MANAGEMENT: OcsfClass = { classUid: 3004, className: 'Entity Management', categoryUid: 3, categoryName: 'Identity & Access Management' };
const API_ACTIVITY: OcsfClass = { classUid: 6003, className: 'API Activity', categoryUid: 6, categoryName: 'Application Activity' };

const ENTITY_FAMILIES = new Set(['device', 'vendor', 'request', 'grant', 'credential', 'recording']);

export function ocsfClassOf(action: string): OcsfClass {
  const family = action.split('.')[0]!;
  if (family === 'auth') return AUTHENTICATION;
  if (family === 'user') return ACCOUNT_CHANGE;
  if (ENTITY_FAMILIES.has(family)) return ENTITY_MANAGEMENT;
  return API_ACTIVITY;
}

function activityOf(cls: OcsfClass, action: string): { id: number; name: string } {
  const verb = action.slice(action.indexOf('.') + 1);
  if (cls === AUTHENTICATION) {
    if (verb === 'logout') return { id: 2, name: 'Logoff' };
    if (verb.startsWith('login')) return { id: 1, name: 'Logon' };
    return { id: 99, name: 'Other' };
  }
  if (cls === ACCOUNT_CHANGE) {
    if (verb === 'created') return { id: 1, name: 'Create' };
    if (verb === 'password_changed') return { id: 3, name: 'Password Change' };
    if (verb === 'disabled') return { id: 5, name: 'Disable' };
    if (verb === 'enabled') return { id: 2, name: 'Enable' };
    return { id: 99, name: 'Other' };
  }
  if (/(^|_)(created|enrolled|issued|started|scheduled)$/.test(verb)) return { id: 1, name: 'Create' };
  if (/(^|_)(accessed|watched)$/.test(verb)) return { id: 2, name: 'Read' };
  if (/(^|_)(destroyed|retired|revoked|terminated)$/.test(verb)) return { id: 4, name: 'Delete' };
  if (/(^|_)(updated|changed|set|rotated|extended|activated|finalised|ended|reviewed)$/.test(verb)) return { id: 3, name: 'Update' };
  return { id: 99, name: 'Other' };
}

function severityId(action: string): number {
  const s = severityOf(action);
  return s >= 10 ? 5 : s >= 8 ? 4 : s >= 6 ? 3 : s >= 5 ? 2 : 1;
}

/** One OCSF event object. */
export function toOcsf(e: SiemEvent, productVersion: string): Record<string, unknown> {
  const ev = e.event;
  const cls = ocsfClassOf(ev.action);
  const activity = activityOf(cls, ev.action);
  const failed = outcomeOf(ev.action) === 'failure';
  const src = sourceAddressOf(ev);
  const out: Record<string, unknown> = {
    class_uid: cls.classUid,
    class_name: cls.className,
    category_uid: cls.categoryUid,
    category_name: cls.categoryName,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: cls.classUid * 100 + activity.id,
    time: ev.at.getTime(),
    severity_id: severityId(ev.action),
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    message: ev.action,
    metadata: {
      version: '1.1.0',
      product: { name: 'Portcullis', vendor_name: 'Portcullis', version: productVersion },
      uid: String(ev.seq),
      correlation_uid: ev.hash,
      event_code: ev.action,
    },
    actor: { user: { uid: ev.actorId ?? undefined, name: actorNameOf(e), type: ev.actorType } },
    unmapped: { seq: ev.seq, hash: ev.hash, prev_hash: ev.prevHash, subject_type: ev.subjectType, subject_id: ev.subjectId, details: ev.details },
  };
  if (e.subjectUser) out.user = { uid: e.subjectUser.id, name: e.subjectUser.username, full_name: e.subjectUser.displayName, org: e.subjectUser.vendor ? { name: e.subjectUser.vendor } : undefined };
  if (e.device) {
    out.device = {
      uid: e.device.id, name: e.device.name, vendor_name: e.device.manufacturer, model: e.device.model,
      hw_info: e.device.serialNumber ? { serial_number: e.device.serialNumber } : undefined,
      org: { ou_name: e.device.department },
    };
  }
  if (src) out.src_endpoint = { ip: src };
  if (cls === ENTITY_MANAGEMENT && ev.subjectType) out.entity = { uid: ev.subjectId ?? undefined, type: ev.subjectType };
  if (cls === API_ACTIVITY) out.api = { operation: ev.action };
  if (cls === AUTHENTICATION) out.is_mfa = false;
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}
