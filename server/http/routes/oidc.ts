/**
 * Single sign-on routes (§8.5): GET /api/auth/config (what the login page offers), GET
 * /api/auth/oidc/login (to the provider) and GET /api/auth/oidc/callback (back; session cookies, then
 * the console). These are browser navigations: a refusal is an HTML page, never JSON.
 */
import type { Response } from 'express';
import { z } from 'zod';
import { isAppError } from '../../core/errors.js';
import { recordOidcFlowFailure, signInWithOidc, type OidcRefusalReason } from '../../core/oidc-sign-in.js';
import { setSessionCookies, sessionCookieOptions } from '../auth.js';
import type { HttpDeps } from '../deps.js';
import { OIDC_CALLBACK_PATH, OIDC_FLOW_COOKIE, OIDC_FLOW_SECONDS, OidcFlowError, type OidcSignIn } from '../oidc-flow.js';
import { route, type AnyRoute } from '../route.js';
import { renderSignInRefusal } from '../sign-in-pages.js';

const FLOW_COOKIE_PATH = '/api/auth/oidc';

/** Only a path on this site: never an absolute URL (or //host) someone put in a link. */
const safeNext = (next: unknown) =>
  typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') && next.length <= 1000 ? next : '/';

function sendRefusal(res: Response, status: number, reason: Parameters<typeof renderSignInRefusal>[0], message: string) {
  res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
  res.status(status).type('html').send(renderSignInRefusal(reason, message));
}

/** GET /api/auth/config always; the sign-in routes only when single sign-on is configured (OIDC_ISSUER). */
export const oidcRoutes = (deps: HttpDeps): AnyRoute[] => {
  const config = route({
    method: 'get', path: '/api/auth/config', tag: 'auth', auth: false,
    summary: 'What the login page offers: {oidc: {enabled, displayName}} (single sign-on through the hospital\'s identity provider)',
    handler: () => ({ oidc: { enabled: Boolean(deps.oidc), displayName: deps.oidc?.settings.displayName ?? null } }),
  });
  return deps.oidc ? [config, ...signInRoutes(deps, deps.oidc)] : [config];
};

function signInRoutes(deps: HttpDeps, oidc: OidcSignIn): AnyRoute[] {
  // the callback is a top-level navigation from the provider's site: SameSite=Lax, or the browser would not send it
  const flowCookie = { ...sessionCookieOptions(deps.web.cookieSecure), sameSite: 'lax' as const, path: FLOW_COOKIE_PATH };
  return [
    route({
      method: 'get', path: '/api/auth/oidc/login', tag: 'auth', auth: false, query: z.object({ next: z.string().max(1000).optional() }),
      summary: 'Starts a single sign-on: 302 to the identity provider (code flow with PKCE, state and nonce, kept in a signed 10-minute cookie)',
      async handler({ query, req, res }) {
        try {
          const { url, cookie } = await oidc.start(safeNext(query.next));
          res.cookie(OIDC_FLOW_COOKIE, cookie, { ...flowCookie, maxAge: OIDC_FLOW_SECONDS * 1000 });
          res.set('Cache-Control', 'no-store').redirect(302, url.href);
        } catch (err) {
          if (!(err instanceof OidcFlowError)) throw err;
          await recordOidcFlowFailure(deps, err.reason, { issuer: oidc.settings.issuer, message: err.message, clientAddress: req.ip });
          sendRefusal(res, 502, err.reason, err.message);
        }
        return undefined;
      },
    }),
    route({
      method: 'get', path: OIDC_CALLBACK_PATH, tag: 'auth', auth: false,
      summary: 'The identity provider sends the browser back here: on success the session cookies are set and the browser goes to the console (302); ' +
        'a refusal (no mapped role, disabled, expired, a local account of the same name, wrong state or nonce) is an HTML page',
      async handler({ req, res }) {
        const cookie = (req.cookies as Record<string, string> | undefined)?.[OIDC_FLOW_COOKIE];
        // a flow is good for one callback
        res.clearCookie(OIDC_FLOW_COOKIE, flowCookie);
        try {
          const { identity, next } = await oidc.finish(new URL(req.originalUrl, deps.web.publicUrl), cookie);
          const { user, generation } = await signInWithOidc(deps, { ...identity, clientAddress: req.ip }, oidc.settings);
          const mfa = identity.mfa ? { method: 'oidc' as const, credentialId: null, at: deps.clock.now() } : null;
          const { token, expiresAt } = await deps.tokens.issueSessionToken(user.id, generation, mfa);
          setSessionCookies(res, deps.web.cookieSecure, token, expiresAt);
          res.set('Cache-Control', 'no-store').redirect(302, next);
        } catch (err) {
          if (err instanceof OidcFlowError) {
            await recordOidcFlowFailure(deps, err.reason, { issuer: oidc.settings.issuer, message: err.message, clientAddress: req.ip });
            sendRefusal(res, err.reason === 'provider_unreachable' ? 502 : 400, err.reason, err.message);
          } else if (isAppError(err) && typeof err.details?.oidcRefusal === 'string') {
            sendRefusal(res, 403, err.details.oidcRefusal as OidcRefusalReason, err.message);
          } else {
            throw err;
          }
        }
        return undefined;
      },
    }),
  ];
}
