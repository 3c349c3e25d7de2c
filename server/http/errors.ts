/** Maps domain errors to HTTP once. Unknown errors are logged and become a 500 without their message. */
import type { ErrorRequestHandler } from 'express';
import { isAppError, type ErrorKind } from '../core/errors.js';

export const statusOf: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  throttled: 429,
};

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (isAppError(err)) {
    const retryAfter = err.details?.retryAfterSeconds;
    if (err.kind === 'throttled' && typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
    res.status(statusOf[err.kind]).json({ error: { code: err.kind, message: err.message, ...(err.details ? { details: err.details } : {}) } });
    return;
  }
  const e = err as { type?: string; status?: number; message?: string };
  // body-parser's own errors: malformed JSON, too large
  if (e?.type === 'entity.parse.failed') {
    res.status(400).json({ error: { code: 'invalid', message: 'request body is not valid JSON' } });
    return;
  }
  if (e?.type === 'entity.too.large') {
    res.status(413).json({ error: { code: 'invalid', message: 'request body too large' } });
    return;
  }
  // the framework's other client errors (an undecodable path parameter, an unsupported charset, an
  // aborted or badly chunked body) carry their 4xx status: the request's fault, not ours (SPEC §8.1)
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    res.status(e.status).json({ error: { code: 'invalid', message: 'malformed request' } });
    return;
  }
  // PostgreSQL refuses a NUL character in text (22021) or jsonb (22P05) wherever one reaches it
  // unchecked, reads included (a login name with one was a 500): the request's fault
  const code = (err as { code?: unknown } | null)?.code;
  if (code === '22021' || code === '22P05') {
    res.status(400).json({ error: { code: 'invalid', message: 'the request contains a character that cannot be stored' } });
    return;
  }
  // the client broke its connection while being answered (e.g. garbage pipelined after the request):
  // nobody is left to answer, and it is not the server's error
  if (req.socket.destroyed && typeof code === 'string' && code.startsWith('HPE_')) {
    req.log?.debug({ err }, 'client connection broke during the request');
    return;
  }
  req.log?.error({ err }, 'unhandled error');
  res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
};
