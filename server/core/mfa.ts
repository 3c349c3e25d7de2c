/**
 * A user's own second factors (§8.5): an authenticator app (TOTP), passkeys (WebAuthn) and recovery codes.
 * Invariants: the TOTP secret is sealed in the vault and shown only when it is created; it counts only
 * once a code from it was confirmed; a passkey is registered only against the registration challenge
 * issued to the same user (single-use, 5 minutes); recovery codes are stored hashed, shown once, issued
 * with the first factor and replaced only with a recent MFA proof; removing a factor needs one too, and
 * the last factor takes the recovery codes with it. Every enrolment, removal and new set of codes is audited.
 */
import {
  generateRegistrationOptions, verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import QRCode from 'qrcode';
import { requireUser } from './access.js';
import { conflict, invalid, notFound } from './errors.js';
import { clientChallenge, hasFactor, mfaRequiredFor, newRecoveryCodes, newTotpSecret, recoveryCodeHash, totpAssociatedData, totpFor, totpStep } from './mfa-factors.js';
import type { Passkey } from './mfa-ports.js';
import type { CoreDeps, Tx } from './ports.js';
import { requireRecentMfa, type StepUpProof } from './step-up.js';
import type { Actor, User } from './types.js';

const REGISTER_MINUTES = 5;

export interface MfaStatus {
  totp: { enrolled: boolean; confirmedAt: Date | null } | null;
  passkeys: Passkey[];
  recoveryCodesLeft: number;
  /** the user's role needs a second factor */
  required: boolean;
}

export async function mfaStatus(deps: CoreDeps, actor: Actor): Promise<MfaStatus> {
  const user = requireUser(actor);
  const [totp, passkeys, summary] = await Promise.all([
    deps.store.read.mfa.totp(user.id), deps.store.read.mfa.passkeys(user.id), deps.store.read.mfa.summary(user.id),
  ]);
  return {
    totp: totp ? { enrolled: totp.confirmedAt !== null, confirmedAt: totp.confirmedAt } : null,
    passkeys: passkeys.map(({ id, name, createdAt, lastUsedAt }) => ({ id, name, createdAt, lastUsedAt })),
    recoveryCodesLeft: summary.recoveryCodesLeft,
    required: mfaRequiredFor(deps, user),
  };
}

/** A new, unconfirmed authenticator-app secret (replacing an unconfirmed one): shown this once. */
export async function startTotp(deps: CoreDeps, actor: Actor): Promise<{ secret: string; otpauthUrl: string; qrSvg: string }> {
  const user = requireUser(actor);
  const secret = newTotpSecret();
  const sealed = deps.vault.seal(secret, totpAssociatedData(user.id));
  const stored = await deps.store.transaction((tx) => tx.mfa.putPendingTotp(user.id, sealed, deps.clock.now()));
  if (!stored) throw conflict('an authenticator app is already set up: remove it first to set up another');
  const otpauthUrl = totpFor(user, secret, deps.mfa.rpName).toString();
  const qrSvg = await QRCode.toString(otpauthUrl, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, otpauthUrl, qrSvg };
}

/** The first code from the app confirms it; the user's first factor comes with recovery codes. */
export async function confirmTotp(deps: CoreDeps, actor: Actor, code: string): Promise<{ recoveryCodes: string[] }> {
  const user = requireUser(actor);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const record = await tx.mfa.totp(user.id);
    if (!record) throw conflict('no authenticator app is being set up: POST /api/me/mfa/totp first');
    if (record.confirmedAt) throw conflict('the authenticator app is already confirmed');
    const step = totpStep(totpFor(user, deps.vault.open(record.sealed, totpAssociatedData(user.id)), deps.mfa.rpName), code, now);
    if (step === null || !(await tx.mfa.confirmTotp(user.id, step, now))) {
      throw invalid('that code is not right: enter the 6 digits the app shows now');
    }
    const recoveryCodes = await firstRecoveryCodes(tx, user, now);
    await tx.audit.append(
      { actorType: 'user', actorId: user.id, action: 'mfa.enrolled', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, method: 'totp', credentialId: null, recoveryCodesIssued: recoveryCodes.length > 0 } },
      now,
    );
    return { recoveryCodes };
  });
}

/** Options for registering a passkey: a single-use challenge for this user; their passkeys excluded. */
export async function passkeyRegistrationOptions(deps: CoreDeps, actor: Actor): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const user = requireUser(actor);
  const now = deps.clock.now();
  const existing = await deps.store.read.mfa.passkeys(user.id);
  const options = await generateRegistrationOptions({
    rpName: deps.mfa.rpName, rpID: deps.mfa.rpId, userName: user.username, userDisplayName: user.displayName,
    userID: new TextEncoder().encode(user.id), attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  await deps.store.transaction(async (tx) => {
    await tx.mfa.purgeChallenges(now);
    await tx.mfa.insertChallenge({ userId: user.id, purpose: 'register', challenge: options.challenge, createdAt: now,
      expiresAt: new Date(now.getTime() + REGISTER_MINUTES * 60_000) });
  });
  return options;
}

/** Verifies a new passkey against the user's registration challenge and keeps it. */
export async function registerPasskey(deps: CoreDeps, actor: Actor, response: RegistrationResponseJSON, name: string | undefined):
  Promise<{ passkey: Passkey; recoveryCodes?: string[] }> {
  const user = requireUser(actor);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const issued = clientChallenge(response);
    const challenge = issued ? await tx.mfa.challengeByValue(user.id, 'register', issued, now) : null;
    if (!challenge || !(await tx.mfa.useChallenge(challenge.id, now))) {
      throw invalid('this passkey registration has expired or was not started here: start again');
    }
    let info;
    try {
      const verified = await verifyRegistrationResponse({
        response, expectedChallenge: challenge.challenge!, expectedOrigin: deps.mfa.origin, expectedRPID: deps.mfa.rpId,
        requireUserVerification: false,
      });
      if (!verified.verified) throw new Error('not verified');
      info = verified.registrationInfo;
    } catch (err) {
      throw invalid(`the passkey could not be registered: ${err instanceof Error ? err.message : 'unreadable response'}`.slice(0, 300));
    }
    if (await tx.mfa.passkey(user.id, info.credential.id)) throw conflict('this passkey is already registered');
    const passkey = await tx.mfa.insertPasskey(user.id, {
      id: info.credential.id, publicKey: info.credential.publicKey, counter: info.credential.counter,
      transports: info.credential.transports ?? [], name: name?.trim() || `Passkey ${now.toISOString().slice(0, 10)}`,
    }, now);
    const recoveryCodes = await firstRecoveryCodes(tx, user, now);
    await tx.audit.append(
      { actorType: 'user', actorId: user.id, action: 'mfa.enrolled', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, method: 'webauthn', credentialId: passkey.id, name: passkey.name, recoveryCodesIssued: recoveryCodes.length > 0 } },
      now,
    );
    return recoveryCodes.length > 0 ? { passkey, recoveryCodes } : { passkey };
  });
}

/** Removes the authenticator app (with a recent MFA proof). */
export async function removeTotp(deps: CoreDeps, actor: Actor, proof: StepUpProof | undefined): Promise<void> {
  const user = requireUser(actor);
  const evidence = await requireRecentMfa(deps, actor, proof);
  await removeFactor(deps, user, (tx) => tx.mfa.deleteTotp(user.id), { method: 'totp', credentialId: null, stepUp: evidence && { method: evidence.method, via: evidence.via } });
}

/** Removes one of the caller's passkeys (with a recent MFA proof). */
export async function removePasskey(deps: CoreDeps, actor: Actor, id: string, proof: StepUpProof | undefined): Promise<void> {
  const user = requireUser(actor);
  if (!(await deps.store.read.mfa.passkey(user.id, id))) throw notFound('passkey');
  const evidence = await requireRecentMfa(deps, actor, proof);
  await removeFactor(deps, user, (tx) => tx.mfa.deletePasskey(user.id, id), { method: 'webauthn', credentialId: id, stepUp: evidence && { method: evidence.method, via: evidence.via } });
}

/** A new set of recovery codes, shown once; the old ones stop working (with a recent MFA proof). */
export async function regenerateRecoveryCodes(deps: CoreDeps, actor: Actor, proof: StepUpProof | undefined): Promise<{ recoveryCodes: string[] }> {
  const user = requireUser(actor);
  if (!hasFactor(await deps.store.read.mfa.summary(user.id))) throw conflict('set up an authenticator app or a passkey first');
  const evidence = await requireRecentMfa(deps, actor, proof);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const recoveryCodes = newRecoveryCodes();
    await tx.mfa.replaceRecoveryCodes(user.id, recoveryCodes.map((c) => recoveryCodeHash(user.id, c)), now);
    await tx.audit.append(
      { actorType: 'user', actorId: user.id, action: 'mfa.recovery_codes_regenerated', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, count: recoveryCodes.length, stepUp: evidence && { method: evidence.method, via: evidence.via } } },
      now,
    );
    return { recoveryCodes };
  });
}

async function removeFactor(deps: CoreDeps, user: User, remove: (tx: Tx) => Promise<boolean>, details: Record<string, unknown>): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    if (!(await remove(tx))) throw notFound(details.method === 'totp' ? 'authenticator app' : 'passkey');
    const left = await tx.mfa.summary(user.id);
    const last = !hasFactor(left);
    if (last) await tx.mfa.deleteRecoveryCodes(user.id);
    await tx.audit.append(
      { actorType: 'user', actorId: user.id, action: 'mfa.removed', subjectType: 'user', subjectId: user.id,
        details: { username: user.username, ...details, lastFactor: last } },
      now,
    );
  });
}

/** Recovery codes for a user who has none left (their first factor): the codes, or none. */
async function firstRecoveryCodes(tx: Tx, user: User, now: Date): Promise<string[]> {
  if ((await tx.mfa.summary(user.id)).recoveryCodesLeft > 0) return [];
  const codes = newRecoveryCodes();
  await tx.mfa.replaceRecoveryCodes(user.id, codes.map((c) => recoveryCodeHash(user.id, c)), now);
  return codes;
}
