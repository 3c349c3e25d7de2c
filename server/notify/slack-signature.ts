/**
 * Slack request signing (v0): `v0=` + hex(HMAC-SHA256(signing secret, `v0:${timestamp}:${rawBody}`)),
 * sent in X-Slack-Signature with X-Slack-Request-Timestamp. The timestamp must be within five minutes
 * of our clock in either direction (Bolt checks only the past; a timestamp from the future is just as
 * replayable later). The comparison is constant-time. Pure: no I/O, the caller passes the time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-slack-signature';
export const TIMESTAMP_HEADER = 'x-slack-request-timestamp';
/** how far (seconds) a request's timestamp may be from our clock, either way */
export const MAX_SKEW_SECONDS = 5 * 60;

export type SignatureRefusal = 'missing_signature' | 'missing_timestamp' | 'stale_timestamp' | 'bad_signature';

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureRefusal };

/** The v0 signature of a body, as Slack computes it. */
export function slackSignature(secret: string, timestamp: string, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`v0:${timestamp}:`);
  mac.update(rawBody);
  return `v0=${mac.digest('hex')}`;
}

/**
 * Checks a request's signature headers against its raw body. `now` is the current time; the
 * signature is computed only once the timestamp is known to be fresh.
 */
export function verifySlackSignature(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: Buffer | string,
  now: Date,
): SignatureCheck {
  const { signature, timestamp } = headers;
  if (!signature) return { ok: false, reason: 'missing_signature' };
  if (!timestamp) return { ok: false, reason: 'missing_timestamp' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'stale_timestamp' };
  const skew = Math.abs(Math.floor(now.getTime() / 1000) - Number(timestamp));
  if (skew > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale_timestamp' };
  const expected = Buffer.from(slackSignature(secret, timestamp, rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // timingSafeEqual needs equal lengths; a length mismatch reveals nothing about the secret
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  return { ok: true };
}
