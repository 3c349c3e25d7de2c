/**
 * The second step of a login (§8.5): after the password, a user with a confirmed factor gets an
 * mfaToken instead of a session, and proves a code, a recovery code or a passkey with it.
 * Invariants: the mfaToken is random, stored only as its SHA-256, good for 5 minutes and for one
 * completed login; a passkey must sign the challenge last issued for that token; every attempt is
 * checked under the login throttle (wrong codes lock the same way as wrong passwords) and at most
 * MAX_ATTEMPTS per token; every failure is audited (auth.mfa_failed) and so is the login.
 */
import { createHash, randomBytes } from 'node:crypto';
import { generateAuthenticationOptions, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { unauthenticated } from './errors.js';
import { guardedFactorCheck, withoutSecrets, type Account } from './login-guard.js';
import { availableMethods, verifyFactor, type FactorOutcome, type FactorProof } from './mfa-factors.js';
import type { FactorSummary, MfaProof } from './mfa-ports.js';
import type { CoreDeps, Tx } from './ports.js';
import type { User } from './types.js';

const TOKEN_MINUTES = 5;
/** wrong proofs one mfaToken takes before it is spent (the throttle counts them too) */
const MAX_ATTEMPTS = 5;

export interface MfaLoginChallenge {
  mfaRequired: true;
  mfaToken: string;
  methods: ('totp' | 'webauthn' | 'recovery')[];
  /** present when the user has a passkey: sign its challenge and send the response as `webauthn` */
  webauthnOptions?: PublicKeyCredentialRequestOptionsJSON;
}

const tokenHash = (mfaToken: string) => createHash('sha256').update(mfaToken).digest('hex');
const expired = () => unauthenticated('this sign-in has expired or was already completed: enter your password again');

async function passkeyOptions(deps: CoreDeps, tx: Tx, userId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const passkeys = await tx.mfa.passkeys(userId);
  return generateAuthenticationOptions({
    rpID: deps.mfa.rpId, userVerification: 'preferred',
    allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports })),
  });
}

/** After a right password (inside the login's transaction): the mfaToken for the second step. */
export async function beginMfaLogin(deps: CoreDeps, tx: Tx, account: Account, summary: FactorSummary, clientAddress: string | null): Promise<MfaLoginChallenge> {
  const now = deps.clock.now();
  const mfaToken = randomBytes(32).toString('base64url');
  const methods = availableMethods(summary);
  const webauthnOptions = summary.passkeys > 0 ? await passkeyOptions(deps, tx, account.id) : undefined;
  await tx.mfa.purgeChallenges(now);
  await tx.mfa.insertChallenge({ userId: account.id, purpose: 'login', tokenHash: tokenHash(mfaToken), challenge: webauthnOptions?.challenge ?? null,
    createdAt: now, expiresAt: new Date(now.getTime() + TOKEN_MINUTES * 60_000) });
  await tx.audit.append(
    { actorType: 'user', actorId: account.id, action: 'auth.mfa_required', subjectType: 'user', subjectId: account.id,
      details: { username: account.username, clientAddress, methods } },
    now,
  );
  return { mfaRequired: true, mfaToken, methods, ...(webauthnOptions ? { webauthnOptions } : {}) };
}

/** A fresh passkey challenge for a pending login (the last one issued is the one a passkey must sign). */
export async function loginPasskeyOptions(deps: CoreDeps, mfaToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const pending = await tx.mfa.loginChallenge(tokenHash(mfaToken), now);
    if (!pending) throw expired();
    const options = await passkeyOptions(deps, tx, pending.userId);
    if (options.allowCredentials?.length === 0) throw unauthenticated('you have no passkey: use a code from your authenticator app');
    await tx.mfa.setChallenge(pending.id, options.challenge);
    return options;
  });
}

export interface CompleteMfaLoginInput {
  mfaToken: string;
  proof: FactorProof;
  clientAddress?: string;
}

/** The second step: the proof for a pending login; the signed-in user and the proof the session carries. */
export async function completeMfaLogin(deps: CoreDeps, input: CompleteMfaLoginInput): Promise<{ user: User; generation: number; mfa: MfaProof }> {
  const now = deps.clock.now();
  const hash = tokenHash(input.mfaToken);
  const pending = await deps.store.read.mfa.loginChallenge(hash, now);
  const who = pending ? await deps.store.read.users.byId(pending.userId) : null;
  if (!pending || !who) throw expired();
  const clientAddress = input.clientAddress ?? null;
  let accepted: (FactorOutcome & { ok: true }) | null = null;
  const signedIn = await guardedFactorCheck(
    deps,
    { username: who.username, clientAddress, actor: { type: 'anonymous' }, failureAction: 'auth.mfa_failed',
      refused: (reason) => (reason === 'sign-in expired' ? expired() : unauthenticated('that code or passkey was not accepted')) },
    async (tx, account) => {
      const challenge = await tx.mfa.loginChallenge(hash, now);
      if (!challenge || !account || challenge.userId !== account.id) return { ok: false, reason: 'sign-in expired' };
      if (account.disabledAt) return { ok: false, reason: 'user disabled' };
      const outcome = await verifyFactor(deps, tx, withoutSecrets(account), input.proof, challenge.challenge);
      if (!outcome.ok) {
        if ((await tx.mfa.countChallengeFailure(challenge.id)) >= MAX_ATTEMPTS) await tx.mfa.useChallenge(challenge.id, now);
        return outcome;
      }
      if (!(await tx.mfa.useChallenge(challenge.id, now))) return { ok: false, reason: 'sign-in expired' };
      accepted = outcome;
      return { ok: true };
    },
    async (tx, account) => {
      const ok = accepted as (FactorOutcome & { ok: true }) | null;
      await tx.users.recordLoginSuccess(account.id);
      await tx.audit.append(
        { actorType: 'user', actorId: account.id, action: 'auth.login', subjectType: 'user', subjectId: account.id,
          details: { username: account.username, clientAddress, mfa: { method: ok!.method, credentialId: ok!.credentialId },
            passwordChangeRequired: account.passwordChangeRequired } },
        now,
      );
      return { ok: true, value: { user: withoutSecrets(account), generation: account.tokenGeneration } };
    },
  );
  const ok = accepted as (FactorOutcome & { ok: true }) | null;
  return { ...signedIn, mfa: { method: ok!.method, credentialId: ok!.credentialId, at: now } };
}
