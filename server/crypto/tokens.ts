/**
 * Bearer/cookie session tokens: short-lived EdDSA JWTs (jose). A session token carries the user's token
 * generation and its last MFA proof (`mfa: {m: method, c: credential id or null, t: epoch seconds}`).
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { Clock } from '../core/clock.js';
import type { MfaProof } from '../core/mfa-ports.js';
import type { TokenIssuer } from '../core/ports.js';

const ISSUER = 'portcullis';
const SESSION_AUDIENCE = 'portcullis-api';
const TERMINAL_AUDIENCE = 'portcullis-terminal';

export function createTokenIssuer(keys: { signing: KeyObject; verifying: KeyObject }, ttlMinutes: number, clock: Clock): TokenIssuer {
  return {
    async issueSessionToken(userId, generation = 0, mfa = null) {
      const now = Math.floor(clock.now().getTime() / 1000);
      const exp = now + ttlMinutes * 60;
      // gen: the user's token generation; authentication refuses tokens of an older one
      const claims = mfa
        ? { typ: 'session', gen: generation, mfa: { m: mfa.method, c: mfa.credentialId, t: Math.floor(mfa.at.getTime() / 1000) } }
        : { typ: 'session', gen: generation };
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA' })
        .setSubject(userId)
        .setIssuer(ISSUER)
        .setAudience(SESSION_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(keys.signing);
      return { token, expiresAt: new Date(exp * 1000) };
    },
    async issueTerminalToken(grantId, tokenId, expiresAt) {
      return new SignJWT({ typ: 'terminal' })
        .setProtectedHeader({ alg: 'EdDSA' })
        .setSubject(grantId)
        .setIssuer(ISSUER)
        .setAudience(TERMINAL_AUDIENCE)
        .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .setJti(tokenId)
        .sign(keys.signing);
    },
    async verifyTerminalToken(token) {
      const { payload } = await jwtVerify(token, keys.verifying, {
        issuer: ISSUER,
        audience: TERMINAL_AUDIENCE,
        algorithms: ['EdDSA'],
        currentDate: clock.now(),
      });
      if (payload.typ !== 'terminal' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') throw new Error('not a terminal token');
      return { grantId: payload.sub, tokenId: payload.jti };
    },
    async verifySessionToken(token) {
      const { payload } = await jwtVerify(token, keys.verifying, {
        issuer: ISSUER,
        audience: SESSION_AUDIENCE,
        algorithms: ['EdDSA'],
        currentDate: clock.now(),
      });
      if (payload.typ !== 'session' || typeof payload.sub !== 'string') throw new Error('not a session token');
      const gen = payload.gen === undefined ? 0 : payload.gen;
      if (typeof gen !== 'number' || !Number.isInteger(gen) || gen < 0) throw new Error('bad token generation');
      return { userId: payload.sub, generation: gen, mfa: mfaClaim(payload.mfa) };
    },
  };
}

const MFA_METHODS = new Set<MfaProof['method']>(['totp', 'webauthn', 'recovery', 'oidc']);

/** The `mfa` claim read back; anything malformed is no proof at all. */
function mfaClaim(raw: unknown): MfaProof | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const { m, c, t } = raw as Record<string, unknown>;
  if (typeof m !== 'string' || !MFA_METHODS.has(m as MfaProof['method'])) return null;
  if (c !== null && typeof c !== 'string') return null;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) return null;
  return { method: m as MfaProof['method'], credentialId: c, at: new Date(t * 1000) };
}
