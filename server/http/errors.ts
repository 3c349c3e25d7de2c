/** Maps domain errors to HTTP once. Unknown errors are logged and become a 500 without their message. */
import type { ErrorRequestHandler } from 'express';
import { isAppError, type ErrorKind } from '../core/errors.js';

export const statusOf: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
};

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (isAppError(err)) {
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
  req.log?.error({ err }, 'unhandled error');
  res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
};
