/**
 * The repositories core entry points read and write through: one interface per aggregate, bound together
 * in `Tx` (one transaction) and `Store` — those of people and vendors in people-repos.ts. Implemented in
 * server/db (PostgreSQL); both files are re-exported by ports.ts.
 */
import type { SearchRepo } from './search.js';
import type { AuditLogRepo } from './audit-log-view.js';
import type { ReportsRepo } from './reports.js';
import type { SiemSinksRepo } from './siem-sinks.js';
import type { MfaRepo } from './mfa-ports.js';
import type { ApprovalLinkRepo, SlackMessageRepo } from './slack-ports.js';
import type {
  AccessRequest,
  CredentialIssue,
  DeviceTestResult,
  DeclaredArtifact,
  Decision,
  Recording,
  Session,
  SessionEndReason,
  Transfer,
  Grant,
  GrantReviewOutcome,
  GrantStatus,
  RequestStatus,
  AuditEvent,
  AuditEventInput,
  Device,
  CredentialKind,
  DevicePolicy,
  LifecycleState,
} from './types.js';
import type { UserRepo, InvitationRepo, VendorRepo } from './people-repos.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type NewDevice = Omit<
  Device,
  'id' | 'lifecycleState' | 'vendorIds' | 'hasCredential' | 'lastTest' | 'retiredAt' | 'createdAt' | 'updatedAt' | DeviceCredentialFields
>;
export type DevicePatch = Partial<Omit<NewDevice, 'policy'>> & { policy?: Partial<DevicePolicy> };

export interface DeviceFilter {
  vendorId?: string;
  department?: string;
  state?: LifecycleState;
}

export interface DeviceRepo {
  insert(d: NewDevice): Promise<Device>;
  update(id: string, patch: DevicePatch): Promise<Device | null>;
  /** conditional write: moves only if the device is still in `from` */
  transition(id: string, from: LifecycleState, to: LifecycleState, at: Date): Promise<Device | null>;
  /** `forUpdate` / `forShare`: the row locked until the transaction ends (FOR SHARE: other readers too, a change waits) */
  byId(id: string, opts?: { forUpdate?: boolean; forShare?: boolean }): Promise<Device | null>;
  byName(name: string): Promise<Device | null>;
  list(filter: DeviceFilter): Promise<Device[]>;
  setVendors(id: string, vendorIds: string[]): Promise<void>;
  /** keeps the last connection test's result on the device */
  recordTest(id: string, result: DeviceTestResult): Promise<void>;
}

/** The members of Device that come from its credential record, not from the device row. */
export type DeviceCredentialFields = 'credentialKind' | 'credentialIssuedAt' | 'credentialRotatedAt' | 'credentialPublicKey' | 'credentialRotationFailure';

export interface SealedSecret {
  nonce: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export interface CredentialRepo {
  /**
   * Sets the device's credential (a `certificate` row has no secret: `sealed` null), replacing any
   * other: the pending key and the rotation flag go with it. `rotated` when one was replaced.
   */
  upsert(deviceId: string, username: string, kind: CredentialKind, sealed: SealedSecret | null,
    extra?: { publicKey?: string | null; at?: Date; passwordRotation?: PasswordRotation | null }): Promise<{ rotated: boolean }>;
  /** the vaulted secret (null when none: no credential, or a `certificate` device) */
  get(deviceId: string): Promise<{ username: string; kind: Exclude<CredentialKind, 'certificate'>; sealed: SealedSecret } | null>;
  /** the whole credential record, with the pending key of a rotation in progress */
  record(deviceId: string): Promise<CredentialRecord | null>;
  /** every credential record without secrets (for the report and the rotation sweep) */
  list(): Promise<CredentialSummary[]>;
  destroy(deviceId: string): Promise<boolean>;
  /**
   * conditional: seals the next secret of a rotated credential (a `key` device's key with its public
   * half, or a rotated password with none) only while none is pending; false when one is
   */
  setPending(deviceId: string, sealed: SealedSecret, publicKey: string | null, at: Date): Promise<boolean>;
  /** conditional: the pending secret sealed as `pendingCiphertext` becomes the current one; clears the flag */
  promotePending(deviceId: string, pendingCiphertext: Buffer, at: Date): Promise<boolean>;
  /** flags the device: its rotation failed after the retries */
  markRotationFailed(deviceId: string, reason: string, at: Date): Promise<void>;
}

/** A device's credential without its secrets. */
export interface CredentialSummary {
  deviceId: string;
  username: string;
  kind: CredentialKind;
  publicKey: string | null;
  issuedAt: Date;
  rotatedAt: Date | null;
  rotationFailure: { at: Date; reason: string } | null;
  /** a rotation is in progress (its key is sealed, not yet proven) */
  pendingSince: Date | null;
  /** kind `password`: how the device lets its login change its own password (null: a static password) */
  passwordRotation: PasswordRotation | null;
}

/** A device's password rotation: a chpasswd-style command that reads `user:newpassword` on stdin. */
export interface PasswordRotation {
  command: string;
}

export interface CredentialRecord extends CredentialSummary {
  sealed: SealedSecret | null;
  /** the next secret of a rotation in progress; `publicKey` null for a password */
  pending: { sealed: SealedSecret; publicKey: string | null; createdAt: Date } | null;
}

/** A host key a device presented instead of its pin (§8.4), kept until someone re-pins or it changes again. */
export interface HostKeyChange {
  id: string;
  deviceId: string;
  keyType: string;
  fingerprint: string;
  /** the OpenSSH public key line the device presented */
  publicKey: string;
  pinnedFingerprint: string;
  firstSeenAt: Date;
  firstSeenBy: HostKeySighting;
  lastSeenAt: Date;
  timesSeen: number;
  status: 'pending' | 'repinned' | 'superseded';
  resolvedAt: Date | null;
  resolvedBy: string | null;
}

/** What saw a presented host key: a technician's connection, a connection test, or a credential rotation. */
export type HostKeySighting =
  | { kind: 'session'; grantId: string; technicianId: string; connection: string }
  | { kind: 'test'; actorId: string | null }
  | { kind: 'rotation' };

export interface HostKeyChangeRepo {
  /**
   * Records a sighting of `key` on the device: the pending change's count when it is that key, else
   * the pending one (if any) is superseded and a new pending change inserted. `created` when new.
   */
  recordSighting(deviceId: string, key: { keyType: string; fingerprint: string; publicKey: string; pinnedFingerprint: string },
    by: HostKeySighting, at: Date): Promise<{ change: HostKeyChange; created: boolean; superseded: HostKeyChange | null }>;
  pending(deviceId: string): Promise<HostKeyChange | null>;
  listPending(): Promise<HostKeyChange[]>;
  /** conditional: the pending change with this fingerprint becomes repinned; null when there is none */
  resolve(deviceId: string, fingerprint: string, by: string, at: Date): Promise<HostKeyChange | null>;
}

export interface AuditQuery {
  afterSeq?: number;
  limit: number;
  action?: string;
  subjectType?: string;
  subjectId?: string;
  actorId?: string;
}

export interface AuditRepo {
  /**
   * appends one event to the chain; serialised so that concurrent writers never fork it. In a
   * transaction the event is linked and written when the transaction commits (a rollback drops it).
   */
  append(e: AuditEventInput, at: Date): Promise<void>;
  list(q: AuditQuery): Promise<AuditEvent[]>;
  /** streams the whole chain in seq order, in batches */
  forEach(fn: (e: AuditEvent) => void, batchSize?: number): Promise<void>;
  /** the last event's seq and hash (null for an empty log); `lock` holds appends off until the transaction ends */
  head(opts?: { lock?: boolean }): Promise<{ seq: number; hash: string } | null>;
}

export type NewAccessRequest = Omit<AccessRequest, 'id' | 'status' | 'closedAt' | 'createdAt' | 'artifacts'> & {
  createdAt: Date;
  /** declared artifacts (§8.3); default none */
  artifacts?: DeclaredArtifact[];
};

export interface RequestFilter {
  status?: RequestStatus;
  technicianId?: string;
  deviceId?: string;
  /** requests whose device's approver department is this */
  approverDepartment?: string;
  limit: number;
}

export interface RequestRepo {
  insert(r: NewAccessRequest): Promise<AccessRequest>;
  byId(id: string, opts?: { forUpdate?: boolean }): Promise<AccessRequest | null>;
  list(f: RequestFilter): Promise<AccessRequest[]>;
  /** conditional write: closes the request only while it is still pending */
  close(id: string, status: Exclude<RequestStatus, 'pending'>, at: Date): Promise<AccessRequest | null>;
  /** pending requests of a technician or on a device */
  pendingFor(scope: { technicianId?: string; deviceId?: string; vendorId?: string; extendsGrantId?: string }): Promise<AccessRequest[]>;
  /** pending requests whose expiry has passed */
  lapsed(now: Date): Promise<AccessRequest[]>;
}

export interface DecisionRepo {
  insert(d: Omit<Decision, 'id'>): Promise<Decision>;
  forRequest(requestId: string): Promise<Decision[]>;
}

export interface GrantScope {
  grantId?: string;
  deviceId?: string;
  technicianId?: string;
  /** grants given through this vendor, or held by its technicians */
  vendorId?: string;
  /** only grants ending after this instant */
  endingAfter?: Date;
}

export interface GrantFilter {
  status?: GrantStatus;
  /** `emergency`: break-glass grants only; `unreviewed`: those not yet reviewed */
  emergency?: 'emergency' | 'unreviewed';
  technicianId?: string;
  deviceId?: string;
  approverDepartment?: string;
  limit: number;
}

export interface GrantRepo {
  insert(g: Pick<Grant, 'requestId' | 'technicianId' | 'deviceId' | 'status' | 'startsAt' | 'endsAt' | 'activatedAt'> &
    Partial<Pick<Grant, 'emergency' | 'reviewDueAt'>>): Promise<Grant>;
  /** conditional write: records the review of an emergency grant, only once */
  review(id: string, r: { outcome: GrantReviewOutcome; comment: string | null; by: string; at: Date }): Promise<Grant | null>;
  /** conditional write: marks an unreviewed emergency grant's review as escalated, only once */
  markReviewEscalated(id: string, at: Date): Promise<Grant | null>;
  /** the technician's emergency grant still waiting for its review, if any */
  unreviewedEmergencyOf(technicianId: string): Promise<Grant | null>;
  byId(id: string, opts?: { forUpdate?: boolean }): Promise<Grant | null>;
  /** the grant an access request created */
  byRequest(requestId: string): Promise<Grant | null>;
  list(f: GrantFilter): Promise<Grant[]>;
  /** scheduled → active, only if still scheduled */
  activate(id: string, at: Date): Promise<Grant | null>;
  /** scheduled|active → expired|revoked, only if not already ended; returns the grants it ended */
  end(scope: GrantScope, status: 'expired' | 'revoked', at: Date, reason: string, by: string | null): Promise<Grant[]>;
  /** moves the end of an active grant; resets the warnings */
  extend(id: string, endsAt: Date): Promise<Grant | null>;
  /** marks a warning as given, once: null when it already was */
  markWarned(id: string, minutesLeft: 5 | 1, at: Date): Promise<Grant | null>;
  /** grants that are scheduled or active (for reconciliation) */
  open(): Promise<Grant[]>;
  /** the technician's scheduled/active grant on a device, if any */
  openFor(technicianId: string, deviceId: string): Promise<Grant | null>;
}

export interface SessionFilter {
  grantId?: string;
  deviceId?: string;
  technicianId?: string;
  vendorId?: string;
  approverDepartment?: string;
  endReason?: SessionEndReason;
  live?: boolean;
  startedAfter?: Date;
  startedBefore?: Date;
  limit: number;
}

export interface SessionRepo {
  insert(s: Pick<Session, 'grantId' | 'technicianId' | 'deviceId' | 'channel' | 'command' | 'clientAddress' | 'startedAt'> & { proxyInstance: string }): Promise<Session>;
  /** conditional: ends a session only once */
  end(id: string, e: { endedAt: Date; endReason: SessionEndReason; bytesIn: number; bytesOut: number }): Promise<Session | null>;
  byId(id: string): Promise<Session | null>;
  list(f: SessionFilter): Promise<Session[]>;
  /** sessions a proxy process left open (it died): closed when that process starts again */
  unfinished(proxyInstance: string): Promise<Session[]>;
}

export interface RecordingRepo {
  insert(sessionId: string, path: string): Promise<Recording>;
  finalise(sessionId: string, r: { sizeBytes: number; durationMs: number; sha256: string; at: Date }): Promise<Recording | null>;
  bySession(sessionId: string): Promise<Recording | null>;
}

export interface CredentialIssueRepo {
  /** reserves the next serial; the row is written with it */
  insert(c: Pick<CredentialIssue, 'grantId' | 'kind' | 'keyFingerprint' | 'tokenId' | 'validAfter' | 'validBefore' | 'issuedAt'>): Promise<CredentialIssue>;
  bySerial(serial: number): Promise<CredentialIssue | null>;
  /** one-use tokens: marks used, only once */
  consumeToken(tokenId: string, at: Date): Promise<CredentialIssue | null>;
  forGrant(grantId: string): Promise<CredentialIssue[]>;
}

export interface TransferFilter {
  deviceId?: string;
  sessionId?: string;
  sha256?: string;
  /** transfers on devices whose approver department is this */
  approverDepartment?: string;
  technicianId?: string;
  limit: number;
}

export interface TransferRepo {
  insert(t: Omit<Transfer, 'id'>): Promise<Transfer>;
  /** a session's transfers in the order they started */
  forSession(sessionId: string): Promise<Transfer[]>;
  /** newest first */
  list(f: TransferFilter): Promise<Transfer[]>;
}

/** Who supervises a live session: watches by eligible approvers, kept fresh while open. */
export interface SupervisorRepo {
  /** a new supervising watch; its id */
  join(sessionId: string, userId: string, at: Date): Promise<string>;
  /** the watch is still open */
  seen(id: string, at: Date): Promise<void>;
  /** the watch ended (once): whose it was */
  leave(id: string, at: Date): Promise<{ sessionId: string; userId: string } | null>;
  /** distinct users with an open watch seen since `seenSince` */
  active(sessionId: string, seenSince: Date): Promise<{ userId: string; displayName: string; username: string }[]>;
}

/** Repositories bound to one transaction (or to the pool, for reads). */
export interface Tx {
  users: UserRepo;
  vendors: VendorRepo;
  /** vendor invitations (§8.5) */
  invitations: InvitationRepo;
  devices: DeviceRepo;
  credentials: CredentialRepo;
  audit: AuditRepo;
  requests: RequestRepo;
  decisions: DecisionRepo;
  grants: GrantRepo;
  sessions: SessionRepo;
  recordings: RecordingRepo;
  credentialIssues: CredentialIssueRepo;
  transfers: TransferRepo;
  supervisors: SupervisorRepo;
  /** the full-text index of sessions (§8.7) */
  search: SearchRepo;
  /** the audit log with names, for people */
  auditLog: AuditLogRepo;
  /** aggregates for the auditors' reports */
  reports: ReportsRepo;
  /** SIEM delivery cursors (read side) */
  siemSinks: SiemSinksRepo;
  /** second factors: TOTP, passkeys, recovery codes, challenges (§8.5) */
  mfa: MfaRepo;
  /** single-use Slack approval links */
  approvalLinks: ApprovalLinkRepo;
  /** Slack messages posted about requests */
  slackMessages: SlackMessageRepo;
  /** host keys devices presented instead of their pin (§8.4) */
  hostKeyChanges: HostKeyChangeRepo;
}

export interface Store {
  /** all-or-nothing: the repositories passed to fn share one transaction */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** repositories for reads outside a transaction */
  read: Tx;
}
