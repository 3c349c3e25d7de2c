/**
 * The store port of second factors (§8.5): TOTP secrets (sealed), passkeys, recovery code hashes and
 * the short-lived single-use challenges. Every "use" is a conditional write, so a code, a recovery code
 * or a challenge is good once even when two attempts race.
 */
import type { SealedSecret } from './ports.js';

/** The methods a user can prove a second factor with; 'oidc' is an identity provider's own MFA. */
export type MfaMethod = 'totp' | 'webauthn' | 'recovery' | 'oidc';

/** The last MFA proof of a session: carried in its token, set on the user actor. */
export interface MfaProof {
  method: MfaMethod;
  /** the passkey's credential id for webauthn; null otherwise */
  credentialId: string | null;
  at: Date;
}

/** The broker's MFA settings (MFA_REQUIRED_ROLES, STEP_UP_SECONDS, WEBAUTHN_RP_ID/NAME, PUBLIC_URL's origin). */
export interface MfaSettings {
  /** roles whose users must have a second factor; empty: nobody must */
  requiredRoles: string[];
  /** how old an MFA proof may be when deciding on a request */
  stepUpSeconds: number;
  rpId: string;
  rpName: string;
  /** the origin browsers sign WebAuthn assertions for */
  origin: string;
}

export interface TotpRecord {
  sealed: SealedSecret;
  confirmedAt: Date | null;
  /** the last 30-second step whose code was accepted */
  lastStep: number | null;
  createdAt: Date;
}

/** A passkey as its owner sees it. */
export interface Passkey {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface PasskeyRecord extends Passkey {
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
}

export type ChallengePurpose = 'login' | 'register' | 'step_up';

export interface MfaChallenge {
  id: string;
  userId: string;
  purpose: ChallengePurpose;
  /** the WebAuthn challenge last issued for it (base64url) */
  challenge: string | null;
  /** step_up: the server nonce the challenge is derived from */
  nonce: string | null;
  /** step_up: the access request */
  subjectId: string | null;
  failures: number;
  expiresAt: Date;
}

export interface NewChallenge {
  userId: string;
  purpose: ChallengePurpose;
  tokenHash?: string | null;
  challenge?: string | null;
  nonce?: string | null;
  subjectId?: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/** What a user has set up, in one read. */
export interface FactorSummary {
  totpConfirmedAt: Date | null;
  passkeys: number;
  recoveryCodesLeft: number;
}

export interface MfaRepo {
  summary(userId: string): Promise<FactorSummary>;
  totp(userId: string): Promise<TotpRecord | null>;
  /** a new unconfirmed secret, replacing an unconfirmed one; false (nothing written) when a confirmed one exists */
  putPendingTotp(userId: string, sealed: SealedSecret, at: Date): Promise<boolean>;
  /** conditional: confirms the unconfirmed secret with the code of `step`, which then counts as used */
  confirmTotp(userId: string, step: number, at: Date): Promise<boolean>;
  /** conditional: the confirmed secret's last used step moves to `step`; false when `step` is not newer */
  useTotpStep(userId: string, step: number): Promise<boolean>;
  deleteTotp(userId: string): Promise<boolean>;
  passkeys(userId: string): Promise<PasskeyRecord[]>;
  passkey(userId: string, id: string): Promise<PasskeyRecord | null>;
  insertPasskey(userId: string, p: { id: string; publicKey: Uint8Array; counter: number; transports: string[]; name: string }, at: Date): Promise<Passkey>;
  /** records an accepted assertion: its signature counter and when */
  usePasskey(id: string, counter: number, at: Date): Promise<void>;
  deletePasskey(userId: string, id: string): Promise<boolean>;
  /** the user's recovery codes become exactly these (SHA-256 hex of each) */
  replaceRecoveryCodes(userId: string, hashes: string[], at: Date): Promise<void>;
  /** conditional: marks the unused code with this hash used; false when there is none */
  useRecoveryCode(userId: string, hash: string, at: Date): Promise<boolean>;
  deleteRecoveryCodes(userId: string): Promise<void>;
  insertChallenge(c: NewChallenge): Promise<MfaChallenge>;
  /** an unused, unexpired login challenge by its token's hash, locked until the transaction ends */
  loginChallenge(tokenHash: string, now: Date): Promise<MfaChallenge | null>;
  /** an unused, unexpired challenge of the user that issued this WebAuthn challenge, locked */
  challengeByValue(userId: string, purpose: ChallengePurpose, challenge: string, now: Date): Promise<MfaChallenge | null>;
  /** the WebAuthn challenge a login challenge issued last (a fresh one replaces it) */
  setChallenge(id: string, challenge: string): Promise<void>;
  /** counts a failed attempt against the challenge; the new count */
  countChallengeFailure(id: string): Promise<number>;
  /** conditional: marks the challenge used, once */
  useChallenge(id: string, at: Date): Promise<boolean>;
  /** drops challenges that expired before `before` */
  purgeChallenges(before: Date): Promise<void>;
}
