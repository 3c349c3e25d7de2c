/**
 * Second factors through the API for tests: set up an authenticator app (codes computed with otpauth at
 * the fake clock's time), register a passkey with the software authenticator, and log in with either.
 */
import { expect } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import type { Harness } from './harness.js';
import { SoftAuthenticator } from './soft-authenticator.js';

export type Auth = { Authorization: string };

/** The authenticator app: the code for the fake clock's now, moved by `offsetSteps` 30-second steps. */
export function totpApp(secret: string, clock: { now(): Date }) {
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
  return { code: (offsetSteps = 0) => totp.generate({ timestamp: clock.now().getTime() + offsetSteps * 30_000 }) };
}

/** Sets up and confirms an authenticator app for the token's user; the app and the recovery codes. */
export async function enrolTotp(h: Harness, auth: Auth) {
  const started = await h.http.post('/api/me/mfa/totp').set(auth).send({});
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const app = totpApp(started.body.secret as string, h.clock);
  const confirmed = await h.http.post('/api/me/mfa/totp/confirm').set(auth).send({ code: app.code() });
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
  // the confirming code is spent: the next one comes from the next step
  h.clock.advance(30_000);
  return { app, secret: started.body.secret as string, recoveryCodes: confirmed.body.recoveryCodes as string[] };
}

/** Registers a passkey (software authenticator) for the token's user. */
export async function enrolPasskey(h: Harness, auth: Auth, authenticator = new SoftAuthenticator('http://127.0.0.1', '127.0.0.1')) {
  const options = await h.http.post('/api/me/webauthn/register/options').set(auth).send({});
  expect(options.status, JSON.stringify(options.body)).toBe(200);
  const verified = await h.http.post('/api/me/webauthn/register/verify').set(auth)
    .send({ response: authenticator.create(options.body), name: 'test key' });
  expect(verified.status, JSON.stringify(verified.body)).toBe(200);
  return { authenticator, passkey: verified.body.passkey as { id: string; name: string }, recoveryCodes: verified.body.recoveryCodes as string[] | undefined };
}

/** Password then second factor (`proof`: {code} | {recoveryCode} | {webauthn}); returns the final response. */
export async function loginWithMfa(h: Harness, username: string, password: string, proof: (first: { mfaToken: string; webauthnOptions?: unknown }) => object, from = '127.0.0.1') {
  const first = await h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username, password });
  expect(first.status, JSON.stringify(first.body)).toBe(200);
  expect(first.body.mfaRequired).toBe(true);
  return h.http.post('/api/auth/login/mfa').set('X-Forwarded-For', from).send({ mfaToken: first.body.mfaToken, ...proof(first.body) });
}
