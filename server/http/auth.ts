/**
 * Who is calling: a bearer token, or the web session cookie. Cookie-authenticated writes must also
 * carry the `X-Requested-With: portcullis` header (a cross-site form cannot set it) and, when the
 * browser sends an Origin, come from our own origin: CSRF-safe on top of SameSite=Strict.
 * A user who must change their password first reaches only the routes in PENDING_PASSWORD_ROUTES; one
 * whose role needs a second factor they have not set up, only the routes in MFA_ENROLMENT_ROUTES.
 */
import type { CookieOptions, Request, Response } from 'express';
import { authenticate } from '../core/auth.js';
import { forbidden, unauthenticated } from '../core/errors.js';
import type { CoreDeps } from '../core/ports.js';
import type { Actor } from '../core/types.js';

export const SESSION_COOKIE = 'portcullis_session';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** what a token of a user who must change their password first may do */
export const PENDING_PASSWORD_ROUTES = new Set(['GET /api/me', 'POST /api/me/password', 'POST /api/auth/logout']);
/** what a token of a user who must set up a second factor first may do (MFA_REQUIRED_ROLES) */
export const MFA_ENROLMENT_ROUTES = new Set([
  ...PENDING_PASSWORD_ROUTES, 'GET /api/me/mfa', 'POST /api/me/mfa/totp', 'POST /api/me/mfa/totp/confirm',
  'POST /api/me/mfa/recovery-codes', 'POST /api/me/webauthn/register/options', 'POST /api/me/webauthn/register/verify',
]);

export function sessionCookieOptions(secure: boolean, expires?: Date): CookieOptions {
  return { httpOnly: true, sameSite: 'strict', secure, path: '/', ...(expires ? { expires } : {}) };
}

/**
 * A marker beside the session cookie that the console's script can read (it holds nothing secret):
 * with no marker the console knows nobody is signed in and skips the GET /api/me that would answer 401.
 */
export const SIGNED_IN_COOKIE = 'portcullis_signed_in';

/** Sets the session cookie and its readable marker, with the token's expiry. */
export function setSessionCookies(res: Response, secure: boolean, token: string, expires: Date): void {
  res.cookie(SESSION_COOKIE, token, sessionCookieOptions(secure, expires));
  res.cookie(SIGNED_IN_COOKIE, '1', { ...sessionCookieOptions(secure, expires), httpOnly: false });
}

export function clearSessionCookies(res: Response, secure: boolean): void {
  res.clearCookie(SESSION_COOKIE, sessionCookieOptions(secure));
  res.clearCookie(SIGNED_IN_COOKIE, { ...sessionCookieOptions(secure), httpOnly: false });
}

/** An Origin we can read that is ours (the public URL, or the host the browser talked to); `null` and garbage are foreign. */
function sameOrigin(origin: string, ownOrigin: string, host: string | undefined): boolean {
  try {
    const u = new URL(origin);
    return u.origin === ownOrigin || (host !== undefined && u.host === host);
  } catch {
    return false;
  }
}

export function actorResolver(deps: CoreDeps, publicUrl: string) {
  const ownOrigin = new URL(publicUrl).origin;
  return async (req: Request): Promise<Actor> => {
    // the route's declared path (req.route inside a route handler), so /api/me/ or a query cannot widen it
    const routePath = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const opts = {
      allowPendingPasswordChange: PENDING_PASSWORD_ROUTES.has(`${req.method} ${routePath}`),
      allowMfaEnrolment: MFA_ENROLMENT_ROUTES.has(`${req.method} ${routePath}`),
    };
    const header = req.get('authorization');
    if (header) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) throw unauthenticated('Authorization must be "Bearer <token>"');
      return authenticate(deps, m[1]!, opts);
    }
    const cookie = (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    if (!cookie) throw unauthenticated();
    if (!SAFE.has(req.method)) {
      const origin = req.get('origin');
      if (req.get('x-requested-with') !== 'portcullis' || (origin !== undefined && !sameOrigin(origin, ownOrigin, req.get('host')))) {
        throw forbidden('cross-site request refused');
      }
    }
    return authenticate(deps, cookie, opts);
  };
}
