/**
 * Bearer values in URLs that must never reach the request log: invitation tokens (in the console's
 * /invite/<token> page and the API path that reads it) and the provider's authorization code and state
 * on the single sign-on callback. Applied to the URL and to a Referer that carries one.
 */
const INVITE_TOKEN = /^(\/invite\/|\/api\/invitations\/accept\/)[^/?#]+/;
const OIDC_CALLBACK = '/api/auth/oidc/callback';

function redactPath(url: string): string {
  if (url.startsWith(OIDC_CALLBACK)) return url.split('?')[0]!;
  return url.replace(INVITE_TOKEN, '$1[redacted]');
}

function redactReferer(referer: string): string {
  try {
    const u = new URL(referer);
    return `${u.origin}${redactPath(`${u.pathname}${u.search}`)}`;
  } catch {
    return '[redacted]';
  }
}

/** pino-http's request, with invitation tokens and sign-in codes taken out of the URL, query and Referer. */
export function redactSignInSecrets<T extends { url?: string; query?: unknown; headers?: Record<string, unknown> }>(req: T): T {
  const url = req.url === undefined ? undefined : redactPath(req.url);
  const referer = req.headers?.referer;
  const newReferer = typeof referer === 'string' ? redactReferer(referer) : referer;
  if (url === req.url && newReferer === referer) return req;
  return {
    ...req,
    url,
    ...(req.url?.startsWith(OIDC_CALLBACK) ? { query: {} } : {}),
    ...(req.headers ? { headers: { ...req.headers, referer: newReferer } } : {}),
  };
}
