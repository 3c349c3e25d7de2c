import { changeOwnPassword, login, loginWithMfa, logout, mfaEnrolmentRequired } from '../../core/auth.js';
import { loginPasskeyOptions } from '../../core/mfa-login.js';
import { requireUser } from '../../core/access.js';
import type { HttpDeps } from '../deps.js';
import { actorResolver, clearSessionCookies, setSessionCookies } from '../auth.js';
import { route } from '../route.js';
import { changePasswordBody, loginBody, loginMfaBody, loginPasskeyOptionsBody } from '../schemas.js';

export const authRoutes = (deps: HttpDeps) => {
  const resolveActor = actorResolver(deps, deps.web.publicUrl);
  return [
    route({
      method: 'post', path: '/api/auth/login', tag: 'auth', auth: false, body: loginBody,
      summary: 'Log in with username and password; returns a bearer token and sets the web session cookie ' +
        '(plus portcullis_signed_in=1, readable by the console, so it probes GET /api/me only when signed in). ' +
        'With passwordChangeRequired the token only allows POST /api/me/password, GET /api/me and logout. ' +
        'Repeated failures answer 429 throttled with error.details.retryAt and a Retry-After header. ' +
        'A user with a second factor gets {mfaRequired: true, mfaToken, methods, webauthnOptions?} instead (no cookie): ' +
        'finish with POST /api/auth/login/mfa. With user.mfaEnrolmentRequired the token only allows setting one up',
      async handler({ body, req, res }) {
        const r = await login(deps, { ...body, clientAddress: req.ip });
        if ('mfaRequired' in r) return r;
        setSessionCookies(res, deps.web.cookieSecure, r.token, r.expiresAt);
        return { token: r.token, expiresAt: r.expiresAt, user: r.user, passwordChangeRequired: r.passwordChangeRequired };
      },
    }),
    route({
      method: 'post', path: '/api/auth/login/mfa', tag: 'auth', auth: false, body: loginMfaBody,
      summary: 'Second step of a login: the mfaToken (5 minutes, single-use) with a code from the authenticator app, ' +
        'a recovery code or a passkey response (webauthn); returns the token and sets the session cookies. ' +
        'Wrong proofs count against the login throttle like wrong passwords',
      async handler({ body, req, res }) {
        const proof = body.code !== undefined ? { code: body.code }
          : body.recoveryCode !== undefined ? { recoveryCode: body.recoveryCode } : { webauthn: body.webauthn! };
        const r = await loginWithMfa(deps, { mfaToken: body.mfaToken, proof, clientAddress: req.ip });
        setSessionCookies(res, deps.web.cookieSecure, r.token, r.expiresAt);
        return { token: r.token, expiresAt: r.expiresAt, user: r.user, passwordChangeRequired: r.passwordChangeRequired };
      },
    }),
    route({
      method: 'post', path: '/api/auth/login/webauthn/options', tag: 'auth', auth: false, body: loginPasskeyOptionsBody,
      summary: 'A fresh passkey challenge for a pending login (PublicKeyCredentialRequestOptionsJSON); the last one issued is the one to sign',
      handler: ({ body }) => loginPasskeyOptions(deps, body.mfaToken),
    }),
    route({
      method: 'post', path: '/api/auth/logout', tag: 'auth', auth: false,
      summary: 'End every login token of the caller (all devices) and clear the web session cookie and its marker',
      async handler({ req, res }) {
        // a caller whose token is already gone is simply logged out
        const actor = await resolveActor(req).catch(() => null);
        if (actor) await logout(deps, actor);
        clearSessionCookies(res, deps.web.cookieSecure);
        res.status(204).end();
        return undefined;
      },
    }),
    route({
      method: 'get', path: '/api/me', tag: 'auth',
      summary: 'The calling user; mfaEnrolmentRequired: their role needs a second factor they have not set up (GET /api/me/mfa)',
      handler: async ({ actor }) => {
        const user = requireUser(actor);
        return { ...user, mfaEnrolmentRequired: await mfaEnrolmentRequired(deps, user, actor.type === 'user' ? actor.mfa : null) };
      },
    }),
    route({
      method: 'post', path: '/api/me/password', tag: 'auth', body: changePasswordBody,
      summary: 'Change your own password with the current one; ends your other tokens and returns a new one (and cookie)',
      async handler({ actor, body, req, res }) {
        const r = await changeOwnPassword(deps, actor, { ...body, clientAddress: req.ip });
        setSessionCookies(res, deps.web.cookieSecure, r.token, r.expiresAt);
        return { token: r.token, expiresAt: r.expiresAt, user: r.user };
      },
    }),
  ];
};
