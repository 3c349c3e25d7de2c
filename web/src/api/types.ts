// The API's shapes as the browser receives them: the server's domain types after JSON, so times
// are ISO strings. The enumerations and records come from the server's core, never copied.
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import type * as Core from '../../../server/core/types';

export {
  CRITICALITIES,
  GRANT_STATUSES,
  LIFECYCLE_STATES,
  REQUEST_STATUSES,
  ROLES,
  SESSION_END_REASONS as END_REASONS,
} from '../../../server/core/types';

/** A value as JSON carries it: dates become ISO strings, everything else keeps its shape. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

export type Role = Core.RoleName;
export type LifecycleState = Core.LifecycleState;
export type Criticality = Core.Criticality;
export type RequestStatus = Core.RequestStatus;
export type GrantStatus = Core.GrantStatus;
export type EndReason = Core.SessionEndReason;

/** `mfaEnrolmentRequired`: the user's role needs a second factor they have not set up; until they do, the
 *  broker allows only the enrolment routes (GET /api/me says so) */
export type User = Wire<Core.User> & { mfaEnrolmentRequired?: boolean };

/** The login locks in force on a user (GET /api/users, admins): the account's own and per source address. */
export interface LoginLock {
  accountLockedUntil: string | null;
  lockedSources: { address: string; lockedUntil: string }[];
}
export type UserView = User & { loginLock?: LoginLock | null };
export type Vendor = Wire<Core.Vendor>;
/** single sign-on on the login page (GET /api/auth/config) */
export interface AuthConfig { oidc: { enabled: boolean; displayName: string | null } }
/** a vendor invitation (admins: GET /api/invitations) */
export type Invitation = Wire<Core.Invitation>;
/** what an invitation link offers (GET /api/invitations/accept/:token) */
export interface InvitationView {
  username: string; displayName: string; roles: Role[]; vendor: { id: string; name: string }; expiresAt: string; accountExpiresAt: string;
}
export type MaintenanceWindow = Core.MaintenanceWindow;
export type DevicePolicy = Core.DevicePolicy;
export type Device = Wire<Core.Device>;

/** Names the broker may attach to a request (the notifications' request context). */
export interface RequestContext {
  device?: { id: string; name: string; department?: string; criticality?: string };
  vendor?: { id: string; name: string } | null;
  technician?: { id: string; username: string; displayName: string };
  approvalsSoFar?: number;
}

export type AccessRequest = Wire<Core.AccessRequest> & { context?: RequestContext };

export type Decision = Wire<Core.Decision> & { approver?: { id: string; displayName: string; username?: string } };

export type Grant = Wire<Core.Grant> & {
  /** names the broker embeds (GET /api/grants, GET /api/grants/:id) */
  device?: { id: string; name: string };
  technician?: { id: string; username: string; displayName: string };
  vendor?: { id: string; name: string } | null;
  revoker?: { id: string; displayName: string } | null;
  request?: { id: string; reason: string; ticketRef: string } | null;
};

export type RequestView = AccessRequest & {
  decisions: Decision[];
  grant: Grant | null;
};

export type Recording = Wire<Core.Recording>;

export type Transfer = Wire<Core.Transfer>;

export type Session = Wire<Core.Session> & {
  recording?: Recording | null;
  /** files moved through the SFTP relay in this session (GET /api/sessions/:id) */
  transfers?: Transfer[];
  /** names the broker embeds (approvers and auditors cannot list users) */
  technician?: { id: string; username: string; displayName: string; vendorId?: string | null };
  device?: { id: string; name: string };
  /** the access it ran under: the grant's window and the request's reason and ticket */
  access?: {
    grantId: string; status: GrantStatus; startsAt: string; endsAt: string; emergency: boolean;
    vendor: { id: string; name: string } | null; reason: string | null; ticketRef: string | null;
  } | null;
  /** who cut it and why (GET /api/sessions/:id, for a session that ended as revoked) */
  cut?: { kind: 'terminated' | 'grant_revoked'; by: { id: string; displayName: string } | null; reason: string; at: string } | null;
  /** who supervises it now (GET /api/sessions/:id, live sessions of devices whose policy requires supervision) */
  supervisors?: { userId: string; displayName: string; username: string }[];
};

export type AuditEvent = Wire<Core.AuditEvent>;

export interface AuditVerify {
  ok: boolean;
  count: number;
  headHash: string;
  firstBadSeq?: number;
}

export interface SshCertificate {
  certificate: string;
  principal: string;
  validBefore: string;
  sshCommand: string;
  knownHostsLine: string;
  keyFingerprint: string;
  serial: number;
}

export interface TerminalToken {
  token: string;
  expiresAt: string;
  url: string;
}

export interface Items<T> {
  items: T[];
}

/** The second factors the broker may ask for at login and for step-up. */
export type MfaMethod = 'totp' | 'webauthn' | 'recovery';

/** POST /api/auth/login when the user has a second factor: no session yet, prove it with POST /api/auth/login/mfa. */
export interface MfaChallenge {
  mfaRequired: true;
  /** short-lived (5 min), single-use */
  mfaToken: string;
  methods: MfaMethod[];
  webauthnOptions?: PublicKeyCredentialRequestOptionsJSON;
}

/** The proof of a second factor, at login (beside mfaToken) and as `stepUp` when deciding. */
export type MfaProof = { code: string } | { recoveryCode: string } | { webauthn: AuthenticationResponseJSON };

/** GET /api/me/mfa: the caller's own factors (never their secrets). */
export interface MfaStatus {
  totp: { enrolled: boolean; confirmedAt: string | null } | null;
  passkeys: Passkey[];
  recoveryCodesLeft: number;
  /** the user's role requires a second factor */
  required: boolean;
}

export interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** POST /api/me/mfa/totp: a new, unconfirmed authenticator-app secret (qrSvg: an SVG document of the otpauth URL). */
export interface TotpSetup {
  secret: string;
  otpauthUrl: string;
  qrSvg: string;
}

/** What enrolling the first factor (or regenerating) may return: recovery codes, shown once. */
export interface RecoveryCodes {
  recoveryCodes?: string[];
}

/** GET /api/device-ca (admins): what a certificate device needs to trust the proxy's device certificates (§8.4). */
export interface DeviceCaSetup {
  publicKey: string;
  sshdConfig: string;
  caFile: string;
  installCommands: string[];
}

export type CredentialKind = Core.CredentialKind;

/** GET /api/reports/credentials: a device whose credential is static, overdue or whose rotation failed. */
export interface CredentialReportItem {
  deviceId: string;
  name: string;
  department: string;
  lifecycleState: LifecycleState;
  credentialKind: CredentialKind;
  username: string;
  credentialIssuedAt: string;
  credentialRotatedAt: string | null;
  ageDays: number;
  concern: 'static' | 'overdue' | 'rotation_failed';
  detail: string;
  /** kind password: whether the broker rotates it */
  passwordRotation: boolean | null;
}

export interface HostKeyInfo {
  keyType: string;
  fingerprint: string;
  publicKey: string;
}

/** A host key a device presented instead of its pin, waiting for a re-pin (§8.4). */
export interface HostKeyChange extends HostKeyInfo {
  id: string;
  deviceId: string;
  pinnedFingerprint: string;
  firstSeenAt: string;
  firstSeenBy: { kind: 'session'; grantId: string; technicianId: string; connection: string } | { kind: 'test'; actorId: string | null } | { kind: 'rotation' };
  lastSeenAt: string;
  timesSeen: number;
}

/** GET /api/devices/:id/host-key and the items of GET /api/host-key-changes. */
export interface HostKeyStatus {
  deviceId: string;
  deviceName: string;
  department: string;
  pinned: HostKeyInfo | null;
  pending: HostKeyChange | null;
  canRepin: boolean;
}
