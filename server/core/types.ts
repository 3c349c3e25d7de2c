/** Domain types shared by the control plane and the proxy. Plain data: no behaviour, no I/O. */

export const ROLES = ['admin', 'approver', 'auditor', 'technician'] as const;
export type RoleName = (typeof ROLES)[number];

export const LIFECYCLE_STATES = ['staged', 'deployed', 'suspended', 'retired'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];

export interface Vendor {
  id: string;
  name: string;
  contractRef: string;
  /** ISO date (YYYY-MM-DD); the last day access is allowed */
  contractEnd: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId: string | null;
  department: string | null;
  slackUserId: string | null;
  disabledAt: Date | null;
  /** the password was chosen by someone else: until it is changed, the user may only change it */
  passwordChangeRequired: boolean;
  /** the account stops working at this instant (an invited vendor account; null: never) */
  expiresAt: Date | null;
  /** signed in through the hospital's OpenID Provider (linked by issuer and subject), not with a local password */
  sso: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * An invitation to a vendor account: a single-use link (only its SHA-256 is stored) by which the invited
 * person sets the password of the account described here. Pending while not accepted, revoked or expired.
 */
export interface Invitation {
  id: string;
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId: string;
  /** when the account it creates stops working */
  accountExpiresAt: Date;
  /** when the link stops working */
  expiresAt: Date;
  invitedBy: string;
  createdAt: Date;
  acceptedAt: Date | null;
  acceptedUserId: string | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

/** Only what authentication needs; never leaves the core. */
export interface UserSecret {
  passwordHash: string;
  failedLogins: number;
  lockedUntil: Date | null;
  /** login tokens carry the generation they were issued under; a higher one ends them */
  tokenGeneration: number;
}

/** Allowed hours for sessions, in the hospital's time zone. Days: 1 = Monday … 7 = Sunday. */
export interface MaintenanceWindow {
  days: number[];
  start: string; // HH:MM
  end: string; // HH:MM, may be before start to cross midnight
  timezone: string;
}

export interface DevicePolicy {
  maxSessionMinutes: number;
  approvalsRequired: 1 | 2;
  approverDepartment: string;
  maintenanceWindow: MaintenanceWindow | null;
  allowExec: boolean;
  allowPortForwarding: boolean;
  /** the only ports a forward may reach on the device (with allowPortForwarding); default none */
  forwardPorts: number[];
  /** minutes without technician input before a session is cut (0 = off) */
  idleTimeoutMinutes: number;
  /** 'required': the technician's input is held until an approver of the department watches live */
  supervision: 'none' | 'required';
  /** files may be written to the device through the proxy's SFTP (§8.3); default false */
  allowUpload: boolean;
  /** files may be read from the device through the proxy's SFTP; default false */
  allowDownload: boolean;
  /** the directory prefixes on the device transfers may touch (absolute, normalised); empty = any */
  transferPaths: string[];
  /** the largest file one transfer may move; default 4096 */
  maxTransferMiB: number;
  /**
   * @deprecated the alias of both allow flags: reads as `allowUpload && allowDownload`; writing it sets
   * both (an explicit allowUpload / allowDownload in the same change wins)
   */
  allowSftp: boolean;
  /** a technician whose vendor services the device may open emergency access without approval (§8.6); default false */
  breakGlass: boolean;
  /** the longest emergency access, in minutes (1..240); default 30 */
  breakGlassMaxMinutes: number;
}

export interface Device {
  id: string;
  name: string;
  manufacturer: string;
  model: string;
  serialNumber: string | null;
  firmwareBaseline: string;
  department: string;
  clinicalPurpose: string;
  criticality: Criticality;
  address: string;
  sshPort: number;
  /** pinned OpenSSH public host key line ("ssh-ed25519 AAAA…") */
  hostKey: string | null;
  lifecycleState: LifecycleState;
  policy: DevicePolicy;
  vendorIds: string[];
  /** whether a vaulted credential is set; the credential itself never leaves the vault */
  hasCredential: boolean;
  /** how the proxy logs in to the device (§8.4); null when no credential is set */
  credentialKind: CredentialKind | null;
  /** when the current secret (or, for `certificate`, the mode) was set */
  credentialIssuedAt: Date | null;
  /** when the secret last changed after it was first set (rotation or replacement) */
  credentialRotatedAt: Date | null;
  /** kind `key`: the public key to install in the login user's ~/.ssh/authorized_keys (not a secret) */
  credentialPublicKey: string | null;
  /** the last rotation failed after its retries (cleared by the next success): the device is flagged */
  credentialRotationFailure: { at: Date; reason: string } | null;
  /** the last connection test (POST /api/devices/:id/test, or before deployment); null before the first */
  lastTest: DeviceTestResult | null;
  retiredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * How the proxy logs in to a device: a fresh device-CA certificate per connection (`certificate`), a
 * broker-generated key the broker rotates (`key`), or a static secret an admin gave (`password`,
 * `private_key`).
 */
export type CredentialKind = 'certificate' | 'key' | 'password' | 'private_key';

export type DeviceCredentialInput =
  | { username: string; password: string; privateKey?: undefined; kind?: undefined;
      /** the device lets its login change its own password: the broker rotates it with this command (§8.4) */
      passwordRotation?: { command: string } | null }
  | { username: string; privateKey: string; password?: undefined; kind?: undefined }
  | { kind: 'certificate' | 'key'; username: string; password?: undefined; privateKey?: undefined };

/** A device connection test: connect, the host key against the pin, the credential's login, a no-op command. */
export interface DeviceTestResult {
  at: Date;
  ok: boolean;
  /** why it failed, for people ("host key mismatch …"); null when ok */
  reason: string | null;
}

/** A decrypted device credential: lives in memory only, for one onward connection. */
export interface DeviceCredential {
  username: string;
  /** `certificate`: `secret` is an ephemeral private key that lives only for this connection */
  kind: 'password' | 'private_key' | 'certificate';
  secret: string;
  /** kind `certificate`: the OpenSSH certificate line for `secret`, valid for minutes */
  certificate?: string;
  /** kind `certificate`: the certificate's key id, which the device's sshd logs */
  keyId?: string;
  /** kinds `private_key` and `password`: the next secret of a rotation in progress, offered when the device refuses `secret` */
  pendingSecret?: string;
}

export type ActorType = 'user' | 'system' | 'device' | 'anonymous';

/** Who is acting. A user actor carries the roles it was authenticated with. */
export type Actor =
  | { type: 'user'; user: User; mfa?: { method: 'totp' | 'webauthn' | 'recovery' | 'oidc'; credentialId: string | null; at: Date } }
  | { type: 'system'; name: string }
  | { type: 'anonymous'; label?: string };

export interface AuditEventInput {
  actorType: ActorType;
  actorId: string | null;
  action: string;
  subjectType: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export interface AccessRequest {
  id: string;
  /** `break_glass`: the record of an emergency access, closed as approved when it was made */
  kind: 'access' | 'extension' | 'break_glass';
  technicianId: string;
  deviceId: string;
  extendsGrantId: string | null;
  reason: string;
  ticketRef: string;
  /** requested window start; for `startsOnApproval` requests the window starts at the last approval */
  startsAt: Date;
  startsOnApproval: boolean;
  durationMinutes: number;
  approvalsRequired: number;
  status: RequestStatus;
  /** what the vendor declared it will deliver (the published hashes of the patch) */
  artifacts: DeclaredArtifact[];
  expiresAt: Date;
  closedAt: Date | null;
  createdAt: Date;
}

export interface Decision {
  id: string;
  requestId: string;
  approverId: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  /** `web`: the console (its session cookie); `api`: a bearer token; `slack-link`: a signed link from Slack */
  channel: 'web' | 'api' | 'slack-link';
  createdAt: Date;
}

export const GRANT_STATUSES = ['scheduled', 'active', 'expired', 'revoked'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

export interface Grant {
  id: string;
  requestId: string;
  technicianId: string;
  deviceId: string;
  /** the vendor the grant was given through (the technician's at approval); null only for legacy rows */
  vendorId: string | null;
  status: GrantStatus;
  startsAt: Date;
  endsAt: Date;
  activatedAt: Date | null;
  endedAt: Date | null;
  revokedBy: string | null;
  endReason: string | null;
  warned5At: Date | null;
  warned1At: Date | null;
  /** break-glass access (§8.6): opened without approval, to be reviewed by an approver within 24 h */
  emergency: boolean;
  /** when the review of an emergency grant is due (null for ordinary grants) */
  reviewDueAt: Date | null;
  reviewedAt: Date | null;
  reviewedBy: string | null;
  reviewOutcome: GrantReviewOutcome | null;
  reviewComment: string | null;
  /** when the overdue review was escalated to the approvers */
  reviewEscalatedAt: Date | null;
  createdAt: Date;
}

export const GRANT_REVIEW_OUTCOMES = ['justified', 'unjustified'] as const;
export type GrantReviewOutcome = (typeof GRANT_REVIEW_OUTCOMES)[number];

export const SESSION_END_REASONS = ['client_closed', 'device_closed', 'expired', 'revoked', 'idle', 'error'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];
export type SessionChannel = 'shell' | 'exec' | 'browser' | 'sftp' | 'forward';

export interface Session {
  id: string;
  grantId: string;
  technicianId: string;
  deviceId: string;
  channel: SessionChannel;
  command: string | null;
  clientAddress: string | null;
  startedAt: Date;
  endedAt: Date | null;
  endReason: SessionEndReason | null;
  bytesIn: number;
  bytesOut: number;
}

export interface Recording {
  id: string;
  sessionId: string;
  path: string;
  sizeBytes: number | null;
  durationMs: number | null;
  sha256: string | null;
  createdAt: Date;
  finalisedAt: Date | null;
}

export interface CredentialIssue {
  id: string;
  grantId: string;
  kind: 'ssh_certificate' | 'terminal_token';
  serial: number;
  keyFingerprint: string | null;
  tokenId: string | null;
  validAfter: Date;
  validBefore: Date;
  usedAt: Date | null;
  issuedAt: Date;
}

/** A file a request declares it will deliver: an upload with this SHA-256 (and size, if given) is `declared`. */
export interface DeclaredArtifact {
  name: string;
  /** lowercase hex */
  sha256: string;
  sizeBytes?: number;
}

export const TRANSFER_OUTCOMES = ['complete', 'partial', 'refused', 'failed'] as const;
export type TransferOutcome = (typeof TRANSFER_OUTCOMES)[number];

/** One file read or written through the proxy's SFTP relay (§8.3). */
export interface Transfer {
  id: string;
  sessionId: string;
  grantId: string;
  deviceId: string;
  technicianId: string;
  direction: 'upload' | 'download';
  /** the absolute path on the device */
  path: string;
  bytes: number;
  /** SHA-256 over the bytes in file-offset order; null when nothing was hashed (refused) */
  sha256: string | null;
  startedAt: Date;
  endedAt: Date;
  outcome: TransferOutcome;
  reason: string | null;
  /** uploads: the hash matches a declared artifact; null for downloads */
  declared: boolean | null;
  /** the name of the declared artifact it matched */
  artifactName: string | null;
}
