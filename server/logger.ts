/** Operator logging (pino). Audit events never go here; secrets are redacted by path. */
import { pino, type Logger } from 'pino';

export type { Logger };

export const redactPaths = [
  'password',
  '*.password',
  'credential',
  '*.credential',
  '*.privateKey',
  '*.secret',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactPaths, censor: '[redacted]' } }, destination);
}
