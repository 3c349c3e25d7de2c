/** The express app factory (no listen): security headers, request ids, JSON API, error mapping. */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import cookieParser from 'cookie-parser';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { actorResolver } from './auth.js';
import type { HttpDeps } from './deps.js';
import { errorHandler } from './errors.js';
import { opsRouter } from './ops.js';
import { buildOpenApi } from './openapi.js';
import { register, type AnyRoute } from './route.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { mfaRoutes } from './routes/mfa.js';
import { breakGlassRoutes } from './routes/break-glass.js';
import { deviceRoutes } from './routes/devices.js';
import { grantRoutes } from './routes/grants.js';
import { requestRoutes } from './routes/requests.js';
import { sessionRoutes } from './routes/sessions.js';
import { requestLogOptions } from './request-log.js';
import { DECIDE_PATH, INTERACTIONS_PATH } from './routes/slack.js';
import { transferRoutes } from './routes/transfers.js';
import { userRoutes } from './routes/users.js';
import { vendorRoutes } from './routes/vendors.js';
import { evidenceRoutes } from './routes/evidence.js';
import { searchRoutes } from './routes/search.js';
import { credentialRoutes } from './routes/credentials.js';
import { auditLogRoutes } from './routes/audit-log.js';
import { reportRoutes } from './routes/reports.js';
import { oidcRoutes } from './routes/oidc.js';
import { invitationRoutes } from './routes/invitations.js';

export function apiRoutes(deps: HttpDeps): AnyRoute[] {
  return [...authRoutes(deps), ...mfaRoutes(deps), ...userRoutes(deps), ...vendorRoutes(deps), ...deviceRoutes(deps),
    ...requestRoutes(deps), ...grantRoutes(deps), ...breakGlassRoutes(deps), ...sessionRoutes(deps), ...transferRoutes(deps), ...auditRoutes(deps), ...evidenceRoutes(deps), ...searchRoutes(deps), ...auditLogRoutes(deps), ...reportRoutes(deps),
    ...credentialRoutes(deps), ...oidcRoutes(deps), ...invitationRoutes(deps)];
}

export function createApp(deps: HttpDeps, extraRoutes: AnyRoute[] = []): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const https = deps.web.publicUrl.startsWith('https:');
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          // the recording player (asciinema-player) runs WebAssembly
          scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
          // over plain http (a LAN address, a lab set-up) upgrading would break the console's own assets
          upgradeInsecureRequests: https ? [] : null,
        },
      },
      strictTransportSecurity: https,
    }),
  );
  app.use(
    pinoHttp({
      // successful reads at debug, no headers at info (request-log.ts)
      ...requestLogOptions(deps.logger),
      genReqId: (req, res) => {
        const id = randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      // health probes and metrics scrapes would drown the log
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
    }),
  );
  // Slack: the interactions signature covers the raw body, and the link confirm page posts a form
  app.use(INTERACTIONS_PATH, express.raw({ type: () => true, limit: '100kb' }));
  app.use(DECIDE_PATH, express.urlencoded({ extended: false, limit: '20kb' }));
  app.use(express.json({ limit: '100kb' }));
  app.use(cookieParser());

  app.use(opsRouter(deps.metrics, deps.healthy, { metricsToken: deps.metricsToken }));

  const routes = [...apiRoutes(deps), ...extraRoutes];
  const openapi = buildOpenApi(routes, deps.version);
  app.get('/api/openapi.json', (_req, res) => res.json(openapi));

  const api = express.Router();
  register(api, routes, actorResolver(deps, deps.web.publicUrl));
  app.use(api);
  app.use('/api', (_req, res) => res.status(404).json({ error: { code: 'not_found', message: 'no such API route' } }));
  if (deps.web.staticDir && existsSync(path.join(deps.web.staticDir, 'index.html'))) {
    const index = path.join(deps.web.staticDir, 'index.html');
    app.use(express.static(deps.web.staticDir, { index: 'index.html' }));
    // the console routes in the browser: any other page path gets the app shell
    app.get(/^\/(?!api\/|healthz$|metrics$).*/, (_req, res) => res.sendFile(index));
  }
  app.use(errorHandler);
  return app;
}
