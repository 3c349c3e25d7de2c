/**
 * Checking a second factor, the one place for it (login, step-up, factor removal).
 * Invariants: a TOTP code (SHA1, 6 digits, 30 s, ±1 step) is accepted once — its step must be newer than
 * the last accepted one, moved forward by a conditional write; a recovery code is marked used by a
 * conditional write; a passkey assertion is verified against the challenge the caller expects and its
 * counter stored. Secrets are opened from the vault only here and never leave.
 */
import { createHash, randomBytes } from 'node:crypto';
import { verifyAuthenticationResponse, type AuthenticationResponseJSON, type AuthenticatorTransport } from '@simplewebauthn/server';
import { Secret, TOTP } from 'otpauth';
import type { MfaMethod } from './mfa-ports.js';
import type { CoreDeps, Tx } from './ports.js';
import type { User } from './types.js';

/** A second factor offered as proof: a TOTP code, a recovery code or a passkey assertion. */
export type FactorProof = { code: string } | { recoveryCode: string } | { webauthn: AuthenticationResponseJSON };

export const TOTP_PERIOD_SECONDS = 30;
const TOTP_DIGITS = 6;
const RECOVERY_CODES = 10;

/** The vault binds a TOTP secret to its user: a sealed secret copied to another user fails to open. */
export const totpAssociatedData = (userId: string) => `mfa-totp:${userId}`;

export function totpFor(user: Pick<User, 'username'>, secretBase32: string, issuer: string): TOTP {
  return new TOTP({ issuer, label: user.username, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32) });
}

/** A fresh 160-bit TOTP secret (base32). */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The 30-second step whose code `code` is (within ±1 step of `now`), or null. */
export function totpStep(totp: TOTP, code: string, now: Date): number | null {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const delta = totp.validate({ token, timestamp: now.getTime(), window: 1 });
  if (delta === null) return null;
  return Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

/** Recovery codes are 12 random base32 characters (60 bits), shown as xxxx-xxxx-xxxx. */
export function newRecoveryCodes(): string[] {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return Array.from({ length: RECOVERY_CODES }, () => {
    const chars = [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
  });
}

/** What is stored of a recovery code: SHA-256 over the user and the code as typed in any case, with or without dashes. */
export function recoveryCodeHash(userId: string, code: string): string {
  const normalised = code.toLowerCase().replace(/[\s-]+/g, '');
  return createHash('sha256').update(`${userId}:${normalised}`).digest('hex');
}

/** The challenge inside a passkey response's client data (null when it cannot be read). */
export function clientChallenge(response: { response: { clientDataJSON: string } }): string | null {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' ? data.challenge : null;
  } catch {
    return null;
  }
}

export type FactorOutcome = { ok: true; method: MfaMethod; credentialId: string | null } | { ok: false; reason: string };

/**
 * Verifies `proof` for `user` inside `tx`. `expectedChallenge` is what a passkey must have signed
 * (null: no passkey assertion is expected here). Uses the code / recovery code / counter when accepted.
 */
export async function verifyFactor(deps: CoreDeps, tx: Tx, user: User, proof: FactorProof, expectedChallenge: string | null): Promise<FactorOutcome> {
  const now = deps.clock.now();
  if ('code' in proof) {
    const record = await tx.mfa.totp(user.id);
    if (!record?.confirmedAt) return { ok: false, reason: 'no authenticator app set up' };
    const totp = totpFor(user, deps.vault.open(record.sealed, totpAssociatedData(user.id)), deps.mfa.rpName);
    const step = totpStep(totp, proof.code, now);
    if (step === null) return { ok: false, reason: 'wrong code' };
    if (!(await tx.mfa.useTotpStep(user.id, step))) return { ok: false, reason: 'code already used' };
    return { ok: true, method: 'totp', credentialId: null };
  }
  if ('recoveryCode' in proof) {
    if (!(await tx.mfa.useRecoveryCode(user.id, recoveryCodeHash(user.id, proof.recoveryCode), now))) {
      return { ok: false, reason: 'wrong or used recovery code' };
    }
    const left = (await tx.mfa.summary(user.id)).recoveryCodesLeft;
    await tx.audit.append(
      { actorType: 'user', actorId: user.id, action: 'mfa.recovery_code_used', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, recoveryCodesLeft: left } },
      now,
    );
    return { ok: true, method: 'recovery', credentialId: null };
  }
  if (expectedChallenge === null) return { ok: false, reason: 'no passkey challenge was issued' };
  const passkey = await tx.mfa.passkey(user.id, proof.webauthn.id);
  if (!passkey) return { ok: false, reason: 'unknown passkey' };
  try {
    const result = await verifyAuthenticationResponse({
      response: proof.webauthn, expectedChallenge, expectedOrigin: deps.mfa.origin, expectedRPID: deps.mfa.rpId,
      credential: { id: passkey.id, publicKey: new Uint8Array(passkey.publicKey), counter: passkey.counter,
        transports: passkey.transports as AuthenticatorTransport[] },
      requireUserVerification: false,
    });
    if (!result.verified) return { ok: false, reason: 'passkey not accepted' };
    await tx.mfa.usePasskey(passkey.id, result.authenticationInfo.newCounter, now);
    return { ok: true, method: 'webauthn', credentialId: passkey.id };
  } catch (err) {
    return { ok: false, reason: `passkey not accepted: ${err instanceof Error ? err.message : 'unreadable'}`.slice(0, 300) };
  }
}

/** The methods a user can prove a second factor with now. */
export function availableMethods(s: { totpConfirmedAt: Date | null; passkeys: number; recoveryCodesLeft: number }): ('totp' | 'webauthn' | 'recovery')[] {
  const methods: ('totp' | 'webauthn' | 'recovery')[] = [];
  if (s.totpConfirmedAt) methods.push('totp');
  if (s.passkeys > 0) methods.push('webauthn');
  if (s.recoveryCodesLeft > 0 && methods.length > 0) methods.push('recovery');
  return methods;
}

/** Whether the user has a confirmed factor (a confirmed authenticator app or a passkey). */
export const hasFactor = (s: { totpConfirmedAt: Date | null; passkeys: number }): boolean => s.totpConfirmedAt !== null || s.passkeys > 0;

/** Whether the user's roles oblige them to have a second factor. */
export const mfaRequiredFor = (deps: CoreDeps, user: Pick<User, 'roles'>): boolean =>
  user.roles.some((r) => deps.mfa.requiredRoles.includes(r));
