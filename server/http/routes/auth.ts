import { changeOwnPassword, login, logout } from '../../core/auth.js';
import { requireUser } from '../../core/access.js';
import type { HttpDeps } from '../deps.js';
import { actorResolver, clearSessionCookies, setSessionCookies } from '../auth.js';
import { route } from '../route.js';
import { changePasswordBody, loginBody } from '../schemas.js';

export const authRoutes = (deps: HttpDeps) => {
  const resolveActor = actorResolver(deps, deps.web.publicUrl);
  return [
    route({
      method: 'post', path: '/api/auth/login', tag: 'auth', auth: false, body: loginBody,
      summary: 'Log in with username and password; returns a bearer token and sets the web session cookie ' +
        '(plus portcullis_signed_in=1, readable by the console, so it probes GET /api/me only when signed in). ' +
        'With passwordChangeRequired the token only allows POST /api/me/password, GET /api/me and logout. ' +
        'Repeated failures answer 429 throttled with error.details.retryAt and a Retry-After header',
      async handler({ body, req, res }) {
        const r = await login(deps, { ...body, clientAddress: req.ip });
        setSessionCookies(res, deps.web.cookieSecure, r.token, r.expiresAt);
        return { token: r.token, expiresAt: r.expiresAt, user: r.user, passwordChangeRequired: r.passwordChangeRequired };
      },
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
      method: 'get', path: '/api/me', tag: 'auth', summary: 'The calling user',
      handler: ({ actor }) => requireUser(actor),
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
