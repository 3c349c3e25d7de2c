/**
 * Step-up: a fresh MFA proof before deciding on an access request (§8.5) or removing a factor.
 * Invariants: a session's own proof counts only while it is younger than STEP_UP_SECONDS; a proof given
 * with the decision is checked under the login throttle (per user) and used once; a passkey proof for a
 * decision signs a challenge derived from the request's content (device, technician, window, artifacts)
 * and a single-use server nonce, so a proof made for one request cannot approve another, nor the same
 * request after its content changed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { generateAuthenticationOptions, type AuthenticationResponseJSON, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { isEligibleApprover, requireRole, requireUser } from './access.js';
import { AppError, conflict, forbidden, invalid, notFound } from './errors.js';
import { guardedFactorCheck } from './login-guard.js';
import { clientChallenge, availableMethods, hasFactor, mfaRequiredFor, verifyFactor, type FactorOutcome } from './mfa-factors.js';
import type { FactorSummary } from './mfa-ports.js';
import type { CoreDeps, Tx } from './ports.js';
import type { AccessRequest, Actor, User } from './types.js';

export type StepUpProof = { code: string } | { recoveryCode: string } | { webauthn: AuthenticationResponseJSON };

/** How the decider proved it was them: `at` is when the proof was made. */
export interface StepUpEvidence {
  method: 'totp' | 'webauthn' | 'recovery' | 'oidc' | 'session';
  credentialId: string | null;
  at: Date;
  /** 'session': the sign-in's own proof, recent enough; 'proof': given with this decision */
  via: 'session' | 'proof';
}

const CHALLENGE_MINUTES = 5;

const stepUpRequired = (message: string, methods: string[]) =>
  new AppError('forbidden', message, { stepUpRequired: true, methods });

/**
 * The WebAuthn challenge for deciding on `req`: SHA-256 over the request's content and the nonce.
 * The content is what an approver approves; any change to it gives another challenge.
 */
export function requestChallenge(req: AccessRequest, nonce: string): string {
  const content = JSON.stringify({
    request: req.id, kind: req.kind, device: req.deviceId, technician: req.technicianId, extendsGrant: req.extendsGrantId,
    startsAt: req.startsAt.toISOString(), startsOnApproval: req.startsOnApproval, durationMinutes: req.durationMinutes,
    artifacts: req.artifacts, reason: req.reason, ticketRef: req.ticketRef,
  });
  return createHash('sha256').update(`portcullis-step-up\n${content}\n${nonce}`).digest('base64url');
}

/**
 * Step-up for deciding on access request `requestId`. Returns null when step-up does not apply (the
 * user has no confirmed factor and no role in MFA_REQUIRED_ROLES). With a proof: verifies it (TOTP
 * single-use, ±1 step; a passkey against a challenge from stepUpOptions, bound to this request's
 * content). Without one: accepts the session's MFA proof if younger than STEP_UP_SECONDS. Otherwise
 * throws forbidden with details {stepUpRequired: true, methods}.
 */
export async function requireStepUp(deps: CoreDeps, actor: Actor, requestId: string, proof: StepUpProof | undefined): Promise<StepUpEvidence | null> {
  return stepUp(deps, actor, proof, 'confirm it is you before deciding', true, async (tx, user, response) => {
    const issued = clientChallenge(response);
    const row = issued ? await tx.mfa.challengeByValue(user.id, 'step_up', issued, deps.clock.now()) : null;
    if (!row?.nonce) return null;
    await tx.mfa.useChallenge(row.id, deps.clock.now());
    const req = await tx.requests.byId(requestId);
    // derived from the request being decided, not the one the challenge was issued for: another request's proof fails
    return req ? requestChallenge(req, row.nonce) : null;
  });
}

/**
 * Step-up for changing one's own factors (removing one, new recovery codes): a recent sign-in proof,
 * or a code / recovery code given with the change (no passkey challenge is issued for these: a
 * passkey-only user signs in again, or uses a recovery code).
 */
export async function requireRecentMfa(deps: CoreDeps, actor: Actor, proof: StepUpProof | undefined): Promise<StepUpEvidence | null> {
  return stepUp(deps, actor, proof, 'confirm it is you with a code first, or sign in again', false, async () => null);
}

/**
 * Passkey options for deciding on `requestId` (its eligible approvers only): a fresh challenge bound to
 * the request's content.
 */
export async function stepUpOptions(deps: CoreDeps, actor: Actor, requestId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const user = requireRole(actor, 'approver');
  const now = deps.clock.now();
  const req = await deps.store.read.requests.byId(requestId);
  const device = req ? await deps.store.read.devices.byId(req.deviceId) : null;
  if (!req || !device) throw notFound('access request');
  if (!isEligibleApprover(user, device, req.technicianId)) throw forbidden('only an eligible approver of this request confirms a decision on it');
  if (req.status !== 'pending') throw conflict(`request is already ${req.status}`);
  const passkeys = await deps.store.read.mfa.passkeys(user.id);
  if (passkeys.length === 0) throw invalid('you have no passkey: confirm with a code from your authenticator app instead');
  const nonce = randomBytes(32).toString('base64url');
  const challenge = requestChallenge(req, nonce);
  await deps.store.transaction(async (tx) => {
    await tx.mfa.purgeChallenges(now);
    await tx.mfa.insertChallenge({ userId: user.id, purpose: 'step_up', challenge, nonce, subjectId: req.id, createdAt: now,
      expiresAt: new Date(now.getTime() + CHALLENGE_MINUTES * 60_000) });
  });
  return generateAuthenticationOptions({
    rpID: deps.mfa.rpId, challenge: Buffer.from(challenge, 'base64url'), userVerification: 'preferred',
    allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports })),
  });
}

async function stepUp(
  deps: CoreDeps,
  actor: Actor,
  proof: StepUpProof | undefined,
  message: string,
  /** whether a passkey can prove it here (offered in the refusal's methods) */
  passkeys: boolean,
  expectedChallenge: (tx: Tx, user: User, response: AuthenticationResponseJSON) => Promise<string | null>,
): Promise<StepUpEvidence | null> {
  const user = requireUser(actor);
  const now = deps.clock.now();
  const summary: FactorSummary = await deps.store.read.mfa.summary(user.id);
  if (!hasFactor(summary) && !mfaRequiredFor(deps, user)) return null;
  const methods = availableMethods(summary).filter((m) => passkeys || m !== 'webauthn');
  if (!proof) {
    // the sign-in's own proof (a local factor, or the identity provider's MFA for an SSO user), if recent
    const mfa = actor.type === 'user' ? actor.mfa : undefined;
    const age = mfa ? now.getTime() - mfa.at.getTime() : Infinity;
    if (mfa && age >= 0 && age <= deps.mfa.stepUpSeconds * 1000) {
      return { method: mfa.method, credentialId: mfa.credentialId, at: mfa.at, via: 'session' };
    }
  }
  if (!hasFactor(summary)) throw stepUpRequired('set up a second factor first (authenticator app or passkey)', methods);
  if (!proof) {
    throw stepUpRequired(`${message} (your last confirmation is older than ${deps.mfa.stepUpSeconds} seconds)`, methods);
  }
  let accepted: FactorOutcome & { ok: true } | null = null;
  await guardedFactorCheck(
    deps,
    { username: user.username, actor, failureAction: 'auth.mfa_failed', throttleKey: `step-up:${user.id}`,
      refused: (reason) => stepUpRequired(`that confirmation was not accepted (${reason})`, methods) },
    async (tx, account) => {
      if (!account || account.id !== user.id || account.disabledAt) return { ok: false, reason: 'account changed' };
      const expected = 'webauthn' in proof ? await expectedChallenge(tx, user, proof.webauthn) : null;
      const outcome = await verifyFactor(deps, tx, user, proof, expected);
      if (!outcome.ok) return { ok: false, reason: 'webauthn' in proof && expected === null ? 'no passkey challenge was issued for this' : outcome.reason };
      accepted = outcome;
      return { ok: true };
    },
    async () => ({ ok: true, value: undefined }),
  );
  const ok = accepted as (FactorOutcome & { ok: true }) | null;
  if (!ok) throw stepUpRequired(message, methods);
  return { method: ok.method, credentialId: ok.credentialId, at: now, via: 'proof' };
}
