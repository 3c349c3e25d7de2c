import { login } from '../../core/auth.js';
import { requireUser } from '../../core/access.js';
import type { HttpDeps } from '../deps.js';
import { SESSION_COOKIE, sessionCookieOptions } from '../auth.js';
import { route } from '../route.js';
import { loginBody } from '../schemas.js';

export const authRoutes = (deps: HttpDeps) => [
  route({
    method: 'post', path: '/api/auth/login', tag: 'auth', auth: false, body: loginBody,
    summary: 'Log in with username and password; returns a bearer token and sets the web session cookie',
    async handler({ body, req, res }) {
      const r = await login(deps, { ...body, clientAddress: req.ip });
      res.cookie(SESSION_COOKIE, r.token, sessionCookieOptions(deps.web.cookieSecure, r.expiresAt));
      return { token: r.token, expiresAt: r.expiresAt, user: r.user };
    },
  }),
  route({
    method: 'post', path: '/api/auth/logout', tag: 'auth', auth: false,
    summary: 'Clear the web session cookie',
    handler({ res }) {
      res.clearCookie(SESSION_COOKIE, sessionCookieOptions(deps.web.cookieSecure));
      res.status(204).end();
      return undefined;
    },
  }),
  route({
    method: 'get', path: '/api/me', tag: 'auth', summary: 'The calling user',
    handler: ({ actor }) => requireUser(actor),
  }),
];
