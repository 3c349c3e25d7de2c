/**
 * The ports core entry points depend on. Implementations live in server/db (PostgreSQL),
 * server/crypto (keys, vault, tokens) and server/jobs / server/notify. The repositories (Tx, Store and
 * one interface per aggregate) are in repositories.ts and people-repos.ts, re-exported here.
 */
import type { Clock } from './clock.js';
import type { Notifier, RevocationBus, Scheduler } from './workflow-ports.js';
import type { MfaProof, MfaSettings } from './mfa-ports.js';
import type { Device, DeviceCredential } from './types.js';
import type { SealedSecret, Store } from './repositories.js';

export type * from './repositories.js';
export type * from './people-repos.js';

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

/**
 * A command's outcome on a device: it ran (with its exit code), the login was refused, the device
 * presented a host key other than its pin (nothing was sent to it), or no connection.
 */
export type DeviceCommandResult =
  | { kind: 'ran'; code: number | null; stdout: string; stderr: string }
  | { kind: 'login_refused'; reason: string }
  | { kind: 'host_key_mismatch'; reason: string; presented: PresentedHostKey }
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
