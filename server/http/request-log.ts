/**
 * The request log: one line per request, for operators. Writes and failures are `info` (5xx
 * `error`); reads that succeed are `debug`, because the console polls lists and session status every
 * few seconds. A line names the method, path, status, time and caller's address, never headers;
 * with LOG_LEVEL=debug it carries the headers too, without cookies and authorization.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Options } from 'pino-http';
import type { Logger } from '../logger.js';
import { redactLinkTokens } from './routes/slack.js';
import { redactSignInSecrets } from './url-redaction.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', 'x-slack-signature']);

interface SerializedReq {
  id?: unknown;
  method?: string;
  url?: string;
  headers?: Record<string, unknown>;
  remoteAddress?: string;
  query?: unknown;
}

/** `info` for writes and refusals, `debug` for successful reads, `error` for failures of ours. */
export function requestLogLevel(method: string | undefined, status: number, err?: Error): 'debug' | 'info' | 'error' {
  if (err || status >= 500) return 'error';
  return READS.has(method ?? '') && status < 400 ? 'debug' : 'info';
}

export function requestLogOptions(logger: Logger): Options {
  const details = logger.isLevelEnabled('debug');
  const pathOf = (req: IncomingMessage) => redactSignInSecrets(redactLinkTokens({ url: req.url })).url ?? '';
  return {
    logger,
    customLogLevel: (req: IncomingMessage, res: ServerResponse, err?: Error) => requestLogLevel(req.method, res.statusCode, err),
    customSuccessMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customErrorMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    serializers: {
      req: (raw: SerializedReq) => {
        // Slack approval links carry a bearer token in the query (and then in the referer): never written
        const req = redactSignInSecrets(redactLinkTokens(raw));
        const out: Record<string, unknown> = { id: req.id, method: req.method, url: req.url, remoteAddress: req.remoteAddress };
        if (details && req.headers) {
          out.headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !SECRET_HEADERS.has(name.toLowerCase())));
        }
        return out;
      },
      res: (res: { statusCode?: number; headers?: Record<string, unknown> }) =>
        details ? { statusCode: res.statusCode, contentLength: res.headers?.['content-length'] } : { statusCode: res.statusCode },
    },
  };
}
