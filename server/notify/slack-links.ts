/**
 * Approval link tokens: EdDSA JWTs (jose, the broker's token-signing key) bound to one request, one
 * approver and one action, valid ~30 minutes. They are secrets inside a Slack DM, but no longer bearer
 * ones: only their approver, signed in on the link's page, decides with one. What makes them single use
 * is the `approval_links` row of their jti (the store's approvalLinks, consumed by the core's
 * decideByLink). Their own audience and type keep them from ever being accepted as session or terminal
 * tokens, and vice versa.
 *
 * The confirm page carries a CSRF value derived from the jti with a key only the broker holds, so a
 * POST must come from a page we rendered for that very link.
 */
import { createHmac, hkdfSync, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../core/clock.js';
import type { ApprovalLinkBinding, LinkAction } from '../core/slack-ports.js';

const ISSUER = 'portcullis';
const AUDIENCE = 'portcullis-slack-link';
const TYPE = 'slack-link';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type { LinkAction };

/** What a verified token says: exactly the binding its `approval_links` row holds. */
export type LinkClaims = ApprovalLinkBinding;

/** `expired` tokens were signed by us (so their claims are known); `invalid` ones were not, or are malformed. */
export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; reason: 'expired'; claims: LinkClaims } | { ok: false; reason: 'invalid' };

export interface LinkTokens {
  readonly ttlMinutes: number;
  mint(input: { requestId: string; approverId: string; action: LinkAction }): Promise<{ token: string; claims: LinkClaims }>;
  verify(token: string): Promise<LinkCheck>;
  /** the CSRF value a confirm page for this link carries */
  csrfFor(jti: string): string;
  checkCsrf(jti: string, value: unknown): boolean;
}

function claimsOf(p: JWTPayload): LinkClaims | null {
  const { jti, sub, rid, act, exp, typ } = p as JWTPayload & { rid?: unknown; act?: unknown; typ?: unknown };
  if (typ !== TYPE || typeof jti !== 'string' || !UUID.test(jti) || typeof sub !== 'string' || !UUID.test(sub)) return null;
  if (typeof rid !== 'string' || !UUID.test(rid) || (act !== 'approve' && act !== 'deny') || typeof exp !== 'number') return null;
  return { jti, requestId: rid, approverId: sub, action: act, expiresAt: new Date(exp * 1000) };
}

export function createLinkTokens(keys: { signing: KeyObject; verifying: KeyObject }, clock: Clock, opts: { ttlMinutes?: number } = {}): LinkTokens {
  const ttlMinutes = opts.ttlMinutes ?? 30;
  // a key of its own for CSRF values, derived from the signing key: every API process derives the same one
  const csrfKey = Buffer.from(
    hkdfSync('sha256', keys.signing.export({ format: 'der', type: 'pkcs8' }), 'portcullis', 'slack-link-csrf', 32),
  );
  const csrfFor = (jti: string) => createHmac('sha256', csrfKey).update(jti).digest('base64url');

  return {
    ttlMinutes,
    async mint({ requestId, approverId, action }) {
      const now = Math.floor(clock.now().getTime() / 1000);
      const exp = now + ttlMinutes * 60;
      const jti = randomUUID();
      const token = await new SignJWT({ typ: TYPE, rid: requestId, act: action })
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(approverId)
        .setJti(jti)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(keys.signing);
      return { token, claims: { jti, requestId, approverId, action, expiresAt: new Date(exp * 1000) } };
    },
    async verify(token) {
      if (typeof token !== 'string' || token.length > 4096) return { ok: false, reason: 'invalid' };
      try {
        const { payload } = await jwtVerify(token, keys.verifying, {
          issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'], currentDate: clock.now(),
        });
        const claims = claimsOf(payload);
        return claims ? { ok: true, claims } : { ok: false, reason: 'invalid' };
      } catch (err) {
        // jose checks the signature before the claims: an expired token's payload is ours
        if (err instanceof joseErrors.JWTExpired) {
          const claims = claimsOf(err.payload);
          if (claims) return { ok: false, reason: 'expired', claims };
        }
        return { ok: false, reason: 'invalid' };
      }
    },
    csrfFor,
    checkCsrf(jti, value) {
      if (typeof value !== 'string') return false;
      const expected = Buffer.from(csrfFor(jti));
      const given = Buffer.from(value);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
