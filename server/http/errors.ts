/**
 * Maps domain errors to HTTP once. Unknown errors are logged and become a 500 without their message.
 * Bad input is worded for people here too: zod's issues become `error.details.fields` ({path: message})
 * with messages such as "must be at least 1", never the library's "Too small: expected number to be >=1".
 */
import type { ErrorRequestHandler } from 'express';
import type { z } from 'zod';
import { invalid, isAppError, type AppError, type ErrorKind } from '../core/errors.js';

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

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

const TYPE_WORDS: Record<string, string> = {
  number: 'a number', int: 'a whole number', string: 'text', boolean: 'true or false', array: 'a list', object: 'an object',
  date: 'a date', bigint: 'a whole number',
};
const FORMAT_WORDS: Record<string, string> = {
  uuid: 'an id (a UUID)', datetime: 'a date and time with zone, e.g. 2026-12-01T09:00:00Z', date: 'a date YYYY-MM-DD',
  email: 'an email address', url: 'a URL', regex: 'in the expected format',
};
const unit = (origin: string | undefined, n: number | bigint) =>
  origin === 'string' ? `${n} character${n === 1 ? '' : 's'}` : origin === 'array' || origin === 'set' ? `${n} entr${n === 1 ? 'y' : 'ies'}` : String(n);
const list = (values: readonly unknown[]) => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');

/**
 * zod's error map for request input: a message for every issue a schema did not word itself. The
 * message completes a sentence that starts with the field's name ("durationMinutes: must be at least 1").
 */
export function humanIssue(iss: RawIssue): string {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'is required';
      return `must be ${TYPE_WORDS[iss.expected] ?? iss.expected}`;
    case 'too_small':
      if (iss.origin === 'string' && Number(iss.minimum) === 1) return 'must not be empty';
      if ((iss.origin === 'array' || iss.origin === 'set') && Number(iss.minimum) === 1) return 'needs at least one entry';
      return `must be ${iss.inclusive === false ? 'more than' : 'at least'} ${unit(iss.origin, iss.minimum)}`;
    case 'too_big':
      return `must be ${iss.inclusive === false ? 'less than' : 'at most'} ${unit(iss.origin, iss.maximum)}`;
    case 'invalid_format':
      return `must be ${FORMAT_WORDS[iss.format] ?? `a valid ${iss.format}`}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(iss.divisor)}`;
    case 'invalid_value':
      return iss.values.length === 1 ? `must be ${list(iss.values)}` : `must be one of: ${list(iss.values)}`;
    case 'unrecognized_keys':
      return `unknown field${iss.keys.length === 1 ? '' : 's'}: ${iss.keys.join(', ')}`;
    case 'invalid_union': {
      // a choice of literals (approvalsRequired: 1 | 2) reads as one list of allowed values
      const values = iss.errors.every((e) => e.length === 1 && e[0]!.code === 'invalid_value')
        ? iss.errors.flatMap((e) => (e[0] as { values: unknown[] }).values) : null;
      return values?.length ? `must be one of: ${list(values)}` : 'is not in an accepted form';
    }
    case 'invalid_key':
    case 'invalid_element':
      return 'contains an entry that is not valid';
    default:
      return 'is not valid';
  }
}

const dotted = (path: readonly PropertyKey[]) => path.map(String).join('.');

/**
 * The 400 for input that failed its schema: `details.fields` maps each field's path (inside the body,
 * query or parameters, named by `details.in`) to what is wrong with it; the message lists the same.
 */
export function invalidInput(where: 'params' | 'query' | 'body', issues: readonly Issue[]): AppError {
  const fields: Record<string, string> = {};
  const problems: string[] = [];
  const prefix = where === 'body' ? '' : `${where}.`;
  for (const i of issues) {
    const path = dotted(i.path);
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) fields[path ? `${path}.${k}` : k] ??= 'is not a field this accepts';
    } else if (path) {
      fields[path] = fields[path] ? `${fields[path]}; ${i.message}` : i.message;
    }
    problems.push(path ? `${prefix}${path}: ${i.message}` : prefix ? `${where}: ${i.message}` : i.message);
  }
  return invalid(problems.join('; '), { in: where, fields, problems });
}
