/**
 * The ports core entry points depend on. Implementations live in server/db (PostgreSQL),
 * server/crypto (keys, vault, tokens) and server/jobs / server/notify.
 */
import type { Clock } from './clock.js';
import type { Notifier, RevocationBus, Scheduler } from './workflow-ports.js';
import type {
  AccessRequest,
  CredentialIssue,
  Decision,
  Recording,
  Session,
  SessionEndReason,
  Grant,
  GrantStatus,
  RequestStatus,
  AuditEvent,
  AuditEventInput,
  Device,
  DeviceCredential,
  DevicePolicy,
  LifecycleState,
  RoleName,
  User,
  UserSecret,
  Vendor,
} from './types.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface UserRepo {
  insert(u: NewUser): Promise<User>;
  update(id: string, patch: UserPatch): Promise<User | null>;
  byId(id: string): Promise<User | null>;
  byUsername(username: string): Promise<(User & UserSecret) | null>;
  list(filter: { role?: RoleName; vendorId?: string; includeDisabled: boolean }): Promise<User[]>;
  recordLoginFailure(id: string, maxFailures: number, lockUntil: Date, now: Date): Promise<{ failedLogins: number; lockedUntil: Date | null }>;
  recordLoginSuccess(id: string): Promise<void>;
}

export interface NewUser {
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId: string | null;
  department: string | null;
  slackUserId: string | null;
  passwordHash: string;
}

export interface UserPatch {
  displayName?: string;
  roles?: RoleName[];
  vendorId?: string | null;
  department?: string | null;
  slackUserId?: string | null;
  passwordHash?: string;
  disabled?: boolean;
}

export interface VendorRepo {
  insert(v: Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>): Promise<Vendor>;
  update(id: string, patch: Partial<Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>>): Promise<Vendor | null>;
  byId(id: string): Promise<Vendor | null>;
  list(): Promise<Vendor[]>;
}

export type NewDevice = Omit<
  Device,
  'id' | 'lifecycleState' | 'vendorIds' | 'hasCredential' | 'retiredAt' | 'createdAt' | 'updatedAt'
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
  byId(id: string, opts?: { forUpdate?: boolean }): Promise<Device | null>;
  byName(name: string): Promise<Device | null>;
  list(filter: DeviceFilter): Promise<Device[]>;
  setVendors(id: string, vendorIds: string[]): Promise<void>;
}

export interface SealedSecret {
  nonce: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export interface CredentialRepo {
  upsert(deviceId: string, username: string, kind: DeviceCredential['kind'], sealed: SealedSecret): Promise<{ rotated: boolean }>;
  get(deviceId: string): Promise<{ username: string; kind: DeviceCredential['kind']; sealed: SealedSecret } | null>;
  destroy(deviceId: string): Promise<boolean>;
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
  /** appends one event to the chain; serialised so that concurrent writers never fork it */
  append(e: AuditEventInput, at: Date): Promise<AuditEvent>;
  list(q: AuditQuery): Promise<AuditEvent[]>;
  /** streams the whole chain in seq order, in batches */
  forEach(fn: (e: AuditEvent) => void, batchSize?: number): Promise<void>;
}

export type NewAccessRequest = Omit<AccessRequest, 'id' | 'status' | 'closedAt' | 'createdAt'> & { createdAt: Date };

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
  /** grants held by technicians of this vendor */
  vendorId?: string;
  /** only grants ending after this instant */
  endingAfter?: Date;
}

export interface GrantFilter {
  status?: GrantStatus;
  technicianId?: string;
  deviceId?: string;
  approverDepartment?: string;
  limit: number;
}

export interface GrantRepo {
  insert(g: Pick<Grant, 'requestId' | 'technicianId' | 'deviceId' | 'status' | 'startsAt' | 'endsAt' | 'activatedAt'>): Promise<Grant>;
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

/** Repositories bound to one transaction (or to the pool, for reads). */
export interface Tx {
  users: UserRepo;
  vendors: VendorRepo;
  devices: DeviceRepo;
  credentials: CredentialRepo;
  audit: AuditRepo;
  requests: RequestRepo;
  decisions: DecisionRepo;
  grants: GrantRepo;
  sessions: SessionRepo;
  recordings: RecordingRepo;
  credentialIssues: CredentialIssueRepo;
}

export interface Store {
  /** all-or-nothing: the repositories passed to fn share one transaction */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** repositories for reads outside a transaction */
  read: Tx;
}

export interface Vault {
  seal(plaintext: string, associatedData: string): SealedSecret;
  open(sealed: SealedSecret, associatedData: string): string;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

export interface SessionTokenClaims {
  userId: string;
}

export interface TokenIssuer {
  issueSessionToken(userId: string): Promise<{ token: string; expiresAt: Date }>;
  verifySessionToken(token: string): Promise<SessionTokenClaims>;
  /** a short-lived browser-terminal token bound to one grant; `tokenId` makes it single-use */
  issueTerminalToken(grantId: string, tokenId: string, expiresAt: Date): Promise<string>;
  verifyTerminalToken(token: string): Promise<{ grantId: string; tokenId: string }>;
}

export interface CorePolicy {
  loginMaxFailures: number;
  loginLockoutMinutes: number;
  /** pending requests lapse after this many hours */
  requestTtlHours: number;
}

/** Where core reports failures of after-commit effects (scheduling, publishing, notifying). */
export interface ProblemReporter {
  warn(context: Record<string, unknown>, message: string): void;
}

/** The broker's SSH user CA. */
export interface CertificateAuthority {
  /** parses an authorized_keys-style public key line; throws `invalid` for unusable keys */
  inspectPublicKey(line: string): { type: string; fingerprint: string };
  signUserCertificate(opts: {
    publicKeyLine: string;
    serial: number;
    keyId: string;
    principals: string[];
    validAfter: Date;
    validBefore: Date;
    extensions: string[];
  }): string;
}

/** Where technicians reach the SSH proxy, and how they recognise it. */
export interface SshEndpoint {
  host: string;
  port: number;
  /** the proxy's public host key line, for known_hosts */
  hostKeyLine: string;
}

/** Everything core entry points need, built once by the entry point. */
export interface CoreDeps {
  store: Store;
  clock: Clock;
  vault: Vault;
  passwords: PasswordHasher;
  tokens: TokenIssuer;
  policy: CorePolicy;
  scheduler: Scheduler;
  bus: RevocationBus;
  notifier: Notifier;
  problems: ProblemReporter;
  ca: CertificateAuthority;
  sshEndpoint: SshEndpoint;
}
