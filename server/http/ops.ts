/**
 * Operator endpoints every broker process serves: liveness (/healthz, 503 when the database does
 * not answer) and Prometheus metrics (/metrics). A process without the api role serves only these.
 * /metrics answers only `Authorization: Bearer $METRICS_TOKEN`; without a METRICS_TOKEN, only callers on
 * a loopback address (behind a reverse proxy on the same host, the forwarded client address counts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import express, { type Request } from 'express';
import type { Registry } from 'prom-client';

export interface OpsOptions {
  metricsToken?: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  return a === '::1' || (isIPv4(a) && a.startsWith('127.'));
}

/** Null when the caller may read the metrics; otherwise the status and error to answer. */
function metricsRefusal(req: Request, token: string | undefined): { status: number; code: string; message: string } | null {
  if (!token) {
    return isLoopback(req.ip)
      ? null
      : { status: 403, code: 'forbidden', message: 'metrics are served to loopback callers only; set METRICS_TOKEN to scrape from elsewhere' };
  }
  const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  // compare digests: constant time whatever the length of what was sent
  if (m && timingSafeEqual(digest(m[1]!), digest(token))) return null;
  return { status: 401, code: 'unauthenticated', message: 'metrics need Authorization: Bearer <METRICS_TOKEN>' };
}

export function opsRouter(metrics: Registry, healthy: () => Promise<boolean>, opts: OpsOptions = {}): express.Router {
  const router = express.Router();
  router.get('/healthz', async (_req, res) => {
    const db = await healthy().catch(() => false);
    res.status(db ? 200 : 503).json({ status: db ? 'ok' : 'unavailable', database: db });
  });
  router.get('/metrics', async (req, res) => {
    const refusal = metricsRefusal(req, opts.metricsToken);
    if (refusal) {
      if (refusal.status === 401) res.setHeader('www-authenticate', 'Bearer realm="metrics"');
      res.status(refusal.status).json({ error: { code: refusal.code, message: refusal.message } });
      return;
    }
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  return router;
}

/** The app of a process without the api role: operator endpoints only. */
export function createOpsApp(metrics: Registry, healthy: () => Promise<boolean>, opts: OpsOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // as the API app: a reverse proxy on this host may say who the client is, nobody else may
  app.set('trust proxy', 'loopback');
  app.use(opsRouter(metrics, healthy, opts));
  app.use((_req, res) => res.status(404).json({ error: { code: 'not_found', message: 'this process serves /healthz and /metrics only' } }));
  return app;
}
