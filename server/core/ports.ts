/**
 * The ports core entry points depend on. Implementations live in server/db (PostgreSQL),
 * server/crypto (keys, vault, tokens) and server/jobs / server/notify.
 */
import type { Clock } from './clock.js';
import type { Notifier, RevocationBus, Scheduler } from './workflow-ports.js';
import type { SearchRepo } from './search.js';
import type { AuditLogRepo } from './audit-log-view.js';
import type { ReportsRepo } from './reports.js';
import type { SiemSinksRepo } from './siem-sinks.js';
import type { MfaProof, MfaRepo, MfaSettings } from './mfa-ports.js';
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
  Invitation,
  GrantStatus,
  RequestStatus,
  AuditEvent,
  AuditEventInput,
  Device,
  CredentialKind,
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
  /** `forShare`: the row locked (SELECT … FOR SHARE) until the transaction ends — a change to it waits */
  byId(id: string, opts?: { forShare?: boolean }): Promise<User | null>;
  byUsername(username: string): Promise<(User & UserSecret) | null>;
  list(filter: { role?: RoleName; vendorId?: string; includeDisabled: boolean }): Promise<User[]>;
  /** the account row for a login attempt, locked (SELECT … FOR UPDATE) until the transaction ends */
  lockForLogin(username: string): Promise<(User & UserSecret) | null>;
  /** what authenticating a token needs: the user and their current token generation */
  authState(id: string): Promise<{ user: User; tokenGeneration: number } | null>;
  /** ends every login token of the user (raises the token generation) */
  endTokens(id: string): Promise<void>;
  /** the user linked to this OpenID Provider identity, locked (SELECT … FOR UPDATE) until the transaction ends */
  lockByOidcIdentity(issuer: string, subject: string): Promise<(User & UserSecret) | null>;
  /** conditional, once: records that the account's expiry (at or before `now`) was carried out and ends its tokens */
  markExpired(id: string, now: Date): Promise<User | null>;
  /** accounts with an end whose expiry has not been carried out yet */
  pendingExpiry(): Promise<User[]>;
  /** counts a failed login against the account (informational; the locks are in the throttle rows) */
  recordLoginFailure(id: string): Promise<void>;
  recordLoginSuccess(id: string): Promise<void>;
  /** locks the account itself for everyone until `until` */
  lockAccount(id: string, until: Date): Promise<void>;
  /** lock-free read of the throttle state for a quick refusal before any password hashing */
  peekLoginThrottle(username: string, address: string): Promise<{ address: LoginCounter | null; pair: LoginCounter | null; accountLockedUntil: Date | null }>;
  /** the per-address row, created if missing and locked (SELECT … FOR UPDATE) */
  lockLoginAddress(address: string, now: Date): Promise<AddressLoginCounter>;
  saveLoginAddress(address: string, c: AddressLoginCounter): Promise<void>;
  /** the per-(username, address) row, locked; null when there is none */
  lockLoginPair(username: string, address: string): Promise<LoginCounter | null>;
  saveLoginPair(username: string, address: string, c: LoginCounter): Promise<void>;
  clearLoginPair(username: string, address: string): Promise<void>;
  /** distinct source addresses currently locked out of `username` */
  lockedLoginSources(username: string, now: Date): Promise<number>;
  /** drops throttle rows whose window and lock ended before `before` (rows locked by others are skipped) */
  purgeLoginCounters(before: Date): Promise<void>;
  /** the login locks in force at `now`, one entry per locked user (only `userId`'s when given) */
  loginLocks(now: Date, userId?: string): Promise<LoginLock[]>;
  /** clears the account lock and every (username, address) counter of the user; returns the locks in force before (null: no such user) */
  unlockLogin(id: string, now: Date): Promise<LoginLock | null>;
}

/** A user's login locks: the account's own, and the source addresses locked out of it. */
export interface LoginLock {
  userId: string;
  accountLockedUntil: Date | null;
  lockedSources: { address: string; lockedUntil: Date }[];
}

/** Failed logins counted in a window that opened at the first failure. */
export interface LoginCounter {
  failures: number;
  windowStartedAt: Date;
  lockedUntil: Date | null;
}

/** The per-address counter, plus refusals not yet reported in an audit event. */
export interface AddressLoginCounter extends LoginCounter {
  refused: number;
  refusedAuditedAt: Date | null;
}

export interface NewUser {
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId: string | null;
  department: string | null;
  slackUserId: string | null;
  passwordHash: string;
  /** default false */
  passwordChangeRequired?: boolean;
  /** the OpenID Provider identity the user signs in with (default none: a local account) */
  oidc?: { issuer: string; subject: string };
  /** the account stops working then (default never) */
  expiresAt?: Date | null;
}

export interface UserPatch {
  displayName?: string;
  roles?: RoleName[];
  vendorId?: string | null;
  department?: string | null;
  slackUserId?: string | null;
  passwordHash?: string;
  disabled?: boolean;
  passwordChangeRequired?: boolean;
  /** raise the token generation: every login token of the user stops working */
  endTokens?: boolean;
}

export type NewInvitation = Pick<Invitation, 'username' | 'displayName' | 'roles' | 'vendorId' | 'accountExpiresAt' | 'expiresAt' | 'invitedBy'> & {
  /** SHA-256 (hex) of the link's token; the token itself is never stored */
  tokenHash: string;
  createdAt: Date;
};

export interface InvitationRepo {
  insert(i: NewInvitation): Promise<Invitation>;
  byId(id: string): Promise<Invitation | null>;
  byTokenHash(tokenHash: string): Promise<Invitation | null>;
  /** the invitation, locked (SELECT … FOR UPDATE) until the transaction ends */
  lockByTokenHash(tokenHash: string): Promise<Invitation | null>;
  /** not accepted, not revoked and not expired at `now`; oldest first */
  pending(now: Date): Promise<Invitation[]>;
  /** conditional, once: a pending invitation becomes accepted by the account it created */
  markAccepted(id: string, userId: string, at: Date): Promise<Invitation | null>;
  /** conditional, once: an invitation not yet accepted or revoked becomes revoked */
  revoke(id: string, by: string, at: Date): Promise<Invitation | null>;
}

export interface VendorRepo {
  insert(v: Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>): Promise<Vendor>;
  update(id: string, patch: Partial<Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>>): Promise<Vendor | null>;
  /** `forShare`: the row locked (SELECT … FOR SHARE) until the transaction ends — a change to it waits */
  byId(id: string, opts?: { forShare?: boolean }): Promise<Vendor | null>;
  list(): Promise<Vendor[]>;
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

/** What saw a presented host key: a technician's connection, or a connection test. */
export type HostKeySighting =
  | { kind: 'session'; grantId: string; technicianId: string; connection: string }
  | { kind: 'test'; actorId: string | null };

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
  /** the user's token generation when the token was issued (0 for tokens that carry none) */
  generation: number;
  /** the session's last MFA proof (none: signed in without a second factor) */
  mfa: MfaProof | null;
}

export interface TokenIssuer {
  issueSessionToken(userId: string, generation?: number, mfa?: MfaProof | null): Promise<{ token: string; expiresAt: Date }>;
  verifySessionToken(token: string): Promise<SessionTokenClaims>;
  /** a short-lived browser-terminal token bound to one grant; `tokenId` makes it single-use */
  issueTerminalToken(grantId: string, tokenId: string, expiresAt: Date): Promise<string>;
  verifyTerminalToken(token: string): Promise<{ grantId: string; tokenId: string }>;
}

export interface CorePolicy {
  /** failures from one address against one account that lock that pair (LOGIN_MAX_FAILURES) */
  loginMaxFailures: number;
  /** failures from one address across all accounts that throttle the address (LOGIN_MAX_FAILURES_PER_ADDRESS) */
  loginMaxFailuresPerAddress: number;
  /** locked addresses that lock the account itself for everyone (LOGIN_ACCOUNT_LOCK_SOURCES) */
  loginAccountLockSources: number;
  /** the counting window and the length of every lock */
  loginLockoutMinutes: number;
  /** pending requests lapse after this many hours */
  requestTtlHours: number;
  /** a rotated device key is rotated at least this often, in days (CREDENTIAL_MAX_AGE_DAYS) */
  credentialMaxAgeDays: number;
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

/** The broker's audit checkpoint key (Ed25519): signs what the log's head was, so a rewrite shows. */
export interface CheckpointKey {
  /** the public key: base64 of its 32 raw bytes */
  publicKey: string;
  /** base64 of the 64-byte Ed25519 signature over `message` */
  sign(message: Uint8Array): string;
  /** false for a malformed or non-canonical base64 signature, too */
  verify(message: Uint8Array, signature: string): boolean;
}

/** The members of Device that come from its credential record, not from the device row. */
type DeviceCredentialFields = 'credentialKind' | 'credentialIssuedAt' | 'credentialRotatedAt' | 'credentialPublicKey' | 'credentialRotationFailure';

/**
 * The device-access CA (separate from the technicians' user CA and the host CA) and the broker's
 * device login keys. Private keys leave only inside a DeviceCredential, for one connection.
 */
export interface DeviceKeys {
  /** the CA's public key line, for the devices' `TrustedUserCAKeys` file */
  caPublicKeyLine: string;
  /** a fresh ed25519 key pair and a user certificate for it, signed by the device CA */
  issueCertificate(opts: { username: string; keyId: string; validAfter: Date; validBefore: Date; extensions: string[] }):
    { privateKey: string; certificate: string; serial: string; fingerprint: string };
  /** a new ed25519 login key (OpenSSH private key format) and its authorized_keys line */
  newLoginKey(comment: string): { privateKey: string; publicKeyLine: string };
}

/** A command's outcome on a device: it ran (with its exit code), the login was refused, or no connection. */
export type DeviceCommandResult =
  | { kind: 'ran'; code: number | null; stdout: string; stderr: string }
  | { kind: 'login_refused'; reason: string }
  | { kind: 'unreachable'; reason: string };

/** Runs one command on a device over SSH (pinned host key, the given login). Never throws. */
export interface DeviceShell {
  /** `stdin` is written to the command's standard input, then closed (secrets go there, never on the command line) */
  exec(device: Device, login: DeviceCredential, command: string, stdin?: string): Promise<DeviceCommandResult>;
}

/** Where technicians reach the SSH proxy, and how they recognise it. */
export interface SshEndpoint {
  host: string;
  port: number;
  /** the proxy's public host key line, for known_hosts */
  hostKeyLine: string;
  /** the host CA's public key line: the proxy presents a host certificate it signed */
  hostCaLine: string;
}

/** How a device connection test came out: ok, or the reason in words for people. */
export type DeviceTestOutcome = { ok: true } | { ok: false; reason: string;
  /** the device presented another host key than its pin: that key, to record as a pending change */
  presentedHostKey?: PresentedHostKey };

/** A host key as a device presented it: its type, SHA256 fingerprint and OpenSSH public key line. */
export interface PresentedHostKey {
  keyType: string;
  fingerprint: string;
  publicKey: string;
}

/**
 * Tries a device the way the proxy reaches it: connect, check the host key against the pin, log in
 * with the credential, run a no-op command. Never throws: every failure is an outcome with a reason.
 */
export interface DeviceTester {
  test(device: Device, credential: DeviceCredential): Promise<DeviceTestOutcome>;
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
  /** the device connection test (before deployment and on demand) */
  deviceTester: DeviceTester;
  /** signs audit checkpoints; without it no checkpoint can be issued or verified */
  checkpointKey?: CheckpointKey;
  /** the device-access CA and device login keys (§8.4) */
  deviceKeys: DeviceKeys;
  /** runs commands on a device over SSH: the key rotation edits authorized_keys with it */
  deviceShell: DeviceShell;
  /** MFA_REQUIRED_ROLES, STEP_UP_SECONDS and the WebAuthn relying party (§8.5) */
  mfa: MfaSettings;
}
