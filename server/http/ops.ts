/**
 * Operator endpoints every broker process serves: liveness (/healthz, 503 when the database does
 * not answer) and Prometheus metrics (/metrics). A process without the api role serves only these.
 */
import express from 'express';
import type { Registry } from 'prom-client';

export function opsRouter(metrics: Registry, healthy: () => Promise<boolean>): express.Router {
  const router = express.Router();
  router.get('/healthz', async (_req, res) => {
    const db = await healthy().catch(() => false);
    res.status(db ? 200 : 503).json({ status: db ? 'ok' : 'unavailable', database: db });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  return router;
}

/** The app of a process without the api role: operator endpoints only. */
export function createOpsApp(metrics: Registry, healthy: () => Promise<boolean>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(opsRouter(metrics, healthy));
  app.use((_req, res) => res.status(404).json({ error: { code: 'not_found', message: 'this process serves /healthz and /metrics only' } }));
  return app;
}
