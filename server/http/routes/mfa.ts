/** The caller's own second factors (§8.5): authenticator app, passkeys, recovery codes. */
import {
  confirmTotp, mfaStatus, passkeyRegistrationOptions, regenerateRecoveryCodes, registerPasskey, removePasskey, removeTotp, startTotp,
} from '../../core/mfa.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { confirmTotpBody, factorChangeBody, passkeyOptionsBody, passkeyParams, registerPasskeyBody } from '../schemas.js';

const STEP_UP = 'Needs a recent MFA proof: the sign-in\'s own if younger than STEP_UP_SECONDS, or stepUp {code} / {recoveryCode} ' +
  'in the body; otherwise 403 with error.details.stepUpRequired';

export const mfaRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/me/mfa', tag: 'auth',
    summary: 'Your second factors: {totp: {enrolled, confirmedAt} | null, passkeys: [{id, name, createdAt, lastUsedAt}], recoveryCodesLeft, required}',
    handler: ({ actor }) => mfaStatus(deps, actor),
  }),
  route({
    method: 'post', path: '/api/me/mfa/totp', tag: 'auth',
    summary: 'Start setting up an authenticator app: {secret, otpauthUrl, qrSvg} (shown once; replaces an unconfirmed one; 409 when one is set up)',
    handler: ({ actor }) => startTotp(deps, actor),
  }),
  route({
    method: 'post', path: '/api/me/mfa/totp/confirm', tag: 'auth', body: confirmTotpBody,
    summary: 'Confirm the authenticator app with its current code; {recoveryCodes} (shown once) when you had none',
    handler: ({ actor, body }) => confirmTotp(deps, actor, body.code),
  }),
  route({
    method: 'delete', path: '/api/me/mfa/totp', tag: 'auth', body: factorChangeBody, status: 204,
    summary: `Remove the authenticator app. ${STEP_UP}`,
    async handler({ actor, body, res }) {
      await removeTotp(deps, actor, body.stepUp);
      res.status(204).end();
      return undefined;
    },
  }),
  route({
    method: 'post', path: '/api/me/mfa/recovery-codes', tag: 'auth', body: factorChangeBody,
    summary: `A new set of recovery codes {recoveryCodes} (shown once); the old ones stop working. ${STEP_UP}`,
    handler: ({ actor, body }) => regenerateRecoveryCodes(deps, actor, body.stepUp),
  }),
  route({
    method: 'post', path: '/api/me/webauthn/register/options', tag: 'auth', body: passkeyOptionsBody,
    summary: 'Options to create a passkey (PublicKeyCredentialCreationOptionsJSON; the challenge is good for 5 minutes, once)',
    handler: ({ actor }) => passkeyRegistrationOptions(deps, actor),
  }),
  route({
    method: 'post', path: '/api/me/webauthn/register/verify', tag: 'auth', body: registerPasskeyBody,
    summary: 'Register the passkey the browser created: {passkey, recoveryCodes?} (recovery codes, shown once, when you had none)',
    handler: ({ actor, body }) => registerPasskey(deps, actor, body.response, body.name),
  }),
  route({
    method: 'delete', path: '/api/me/webauthn/:id', tag: 'auth', params: passkeyParams, body: factorChangeBody, status: 204,
    summary: `Remove one of your passkeys. ${STEP_UP}`,
    async handler({ actor, params, body, res }) {
      await removePasskey(deps, actor, params.id, body.stepUp);
      res.status(204).end();
      return undefined;
    },
  }),
];
