/**
 * Starts the roles asked for (api, proxy, worker) over one database: the embedded PostgreSQL when
 * no DATABASE_URL is set. Returns a handle that stops everything in reverse order.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFirstAdmin } from './bootstrap.js';
import { systemClock, type Clock } from './core/clock.js';
import type { CoreDeps } from './core/ports.js';
import type { Config } from './config.js';
import { createCertificateAuthority } from './crypto/certificate-authority.js';
import { publicKeyToSshLine } from './crypto/ssh-cert.js';
import { hostKeyLine, loadKeys, type KeyMaterial } from './crypto/keys.js';
import { scryptHasher } from './crypto/passwords.js';
import { createTokenIssuer } from './crypto/tokens.js';
import { createVault } from './crypto/vault.js';
import { createCheckpointKey } from './crypto/checkpoint-key.js';
import { startAuditCheckpoints } from './jobs/audit-checkpoints.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { runMigrations } from './db/migrate.js';
import { assertMigrated } from './db/migration-check.js';
import { createPool, type Pool } from './db/pool.js';
import { createStore } from './db/store.js';
import { createRevocationBus } from './bus/create-bus.js';
import { handleJob, reconcile } from './core/reconcile.js';
import { createApp } from './http/app.js';
import { createOidcSignIn } from './http/oidc-flow.js';
import { createBullmqScheduler } from './jobs/bullmq-scheduler.js';
import { startJobWorker } from './jobs/job-worker.js';
import { createQueueConnection } from './jobs/queue-connection.js';
import { createLogNotifier } from './notify/log-notifier.js';
import { composeNotifiers } from './notify/slack-notifier.js';
import { createSlackIntegration } from './notify/slack-setup.js';
import { slackRoutes } from './http/routes/slack.js';
import { createProxyContext } from '../proxy/context.js';
import { startSshProxy } from '../proxy/ssh-server.js';
import { createDeviceTester } from '../proxy/device-tester.js';
import { createDeviceShell } from '../proxy/device-shell.js';
import { ssh2PatchApplied } from '../proxy/ssh2-patch.js';
import { createDeviceKeys } from './crypto/device-keys.js';
import { startCredentialSweep } from './jobs/credential-sweep.js';
import { handleTerminalSocket } from '../proxy/ws-terminal.js';
import { attachWebSockets } from './http/websockets.js';
import { createOpsApp } from './http/ops.js';
import type { Logger } from './logger.js';
import { tellFirstPassword } from './first-password.js';
import { createMetrics, sshCryptoBindingAvailable } from './metrics.js';
import { sinksFromConfig, startSiemStreaming } from './siem/start-siem.js';
import { startSearchIndexer } from './jobs/search-indexer.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

const JOB_QUEUE = 'portcullis-workflow';

export interface Broker {
  config: Config;
  deps: CoreDeps;
  pool: Pool;
  keys: KeyMaterial;
  /** the HTTP address: the API with the api role, /healthz and /metrics always */
  httpUrl?: string;
  /** the SSH proxy's port when the proxy role runs */
  sshPort?: number;
  stop(): Promise<void>;
}

export async function startBroker(config: Config, log: Logger, opts: { clock?: Clock } = {}): Promise<Broker> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => log.error({ err }, 'error while stopping'));
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
      stops.push(() => embedded.stop());
      databaseUrl = embedded.url;
    }
    // a broker running as the non-owner role (MIGRATE_ON_START=false) leaves migrations to the owner
    if (config.migrateOnStart || !config.databaseUrl) await runMigrations(databaseUrl, log);
    else await assertMigrated(databaseUrl);
    const pool = createPool(databaseUrl, config.databasePoolSize);
    stops.push(() => pool.end());

    const keys = await loadKeys(config.keysDir, config.keyOverrides);
    const clock = opts.clock ?? systemClock;
    const queues = createQueueConnection({ redisUrl: config.redisUrl, databaseUrl, queuePrefix: config.jobQueuePrefix });
    const scheduler = createBullmqScheduler(queues, { queueName: JOB_QUEUE, clock });
    stops.push(() => scheduler.close());
    const bus = createRevocationBus({ redisUrl: config.redisUrl, databaseUrl, logger: log });
    stops.push(() => bus.close());
    log.info({ jobs: queues.backendName, revocations: bus.backendName }, 'workflow backends');
    // Slack approvals: built only when SLACK_BOT_TOKEN is set (null otherwise); links are signed with the token key
    const slack = createSlackIntegration({
      slack: config.slack, publicUrl: config.publicUrl, queues, clock, logger: log,
      keys: { signing: keys.tokenSigning, verifying: keys.tokenVerifying },
    });
    if (slack) stops.push(() => slack.close());
    const deps: CoreDeps = {
      store: createStore(pool),
      clock,
      vault: createVault(keys.vaultKey),
      passwords: scryptHasher,
      tokens: createTokenIssuer({ signing: keys.tokenSigning, verifying: keys.tokenVerifying }, config.tokenTtlMinutes, clock),
      policy: {
        loginMaxFailures: config.loginMaxFailures,
        loginLockoutMinutes: config.loginLockoutMinutes,
        loginMaxFailuresPerAddress: config.loginMaxFailuresPerAddress,
        loginAccountLockSources: config.loginAccountLockSources,
        requestTtlHours: config.requestTtlHours,
        credentialMaxAgeDays: config.credentialMaxAgeDays,
      },
      scheduler,
      bus,
      notifier: slack ? composeNotifiers(createLogNotifier(log), slack.notifier) : createLogNotifier(log),
      problems: { warn: (ctx, msg) => log.warn(ctx, msg) },
      ca: createCertificateAuthority(keys.sshUserCa),
      sshEndpoint: { host: config.sshPublicHost, port: config.sshPort, hostKeyLine: hostKeyLine(keys.sshHostKey), hostCaLine: publicKeyToSshLine(keys.sshHostCa) },
      checkpointKey: createCheckpointKey(keys.auditCheckpoint),
      deviceTester: createDeviceTester(),
      deviceKeys: createDeviceKeys(keys.sshDeviceCa),
      deviceShell: createDeviceShell(),
      mfa: config.mfa,
    };
    const broker: Broker = { config, deps, pool, keys, stop };

    const admin = await ensureFirstAdmin(deps, config.adminPassword);
    if (admin?.password) {
      // shown once, on the operator's terminal (or in a 0600 file): never on stdout, where the log goes
      const told = tellFirstPassword(
        `\n  First start: log in at ${config.publicUrl} as "${admin.username}" with password ${admin.password}\n` +
          `  (shown once, and valid for that first login only: you will choose your own password then)\n\n`,
        config.dataDir,
      );
      if (told.where === 'terminal') log.info('first start: created user "admin"; its one-time password is shown on the terminal');
      else log.warn({ file: told.file }, 'first start: created user "admin"; no terminal to show its one-time password on: read it from this file (mode 0600), log in, then delete the file');
    } else if (admin) {
      log.info('first start: created user "admin" with ADMIN_PASSWORD');
    }

    if (!sshCryptoBindingAvailable()) log.warn('ssh2 native crypto binding missing: the proxy will be slow');
    if (!ssh2PatchApplied()) log.warn('ssh2 is not patched (.ci/patches, applied by npm ci): the proxy works but costs more CPU per packet');
    const metrics = createMetrics({ busPublish: bus.publishStats });
    // the data plane (SSH proxy, browser terminal) shares one live-session registry per process
    const dataPlane =
      config.roles.includes('api') || config.roles.includes('proxy')
        ? await createProxyContext(deps, log, metrics, {
            instanceId: config.proxyInstance,
            recordingsDir: config.recordingsDir, recordInput: config.recordInput, warningMinutes: config.sessionWarningMinutes,
            recheckSeconds: config.sessionRecheckSeconds, maxConnectionsPerGrant: config.sshMaxConnectionsPerGrant,
          })
        : undefined;

    // every process serves /healthz and /metrics on PORT; with the api role also the API, the
    // console and the WebSockets
    const healthy = async () => (await pool.query('SELECT 1')).rowCount === 1;
    const app = config.roles.includes('api')
      ? createApp({
          ...deps,
          logger: log,
          metrics,
          web: { cookieSecure: config.cookieSecure, publicUrl: config.publicUrl, staticDir: path.join(root, 'web', 'dist') },
          healthy,
          version,
          metricsToken: config.metricsToken,
          oidc: config.oidc
            ? createOidcSignIn(config.oidc, { publicUrl: config.publicUrl, keys: { signing: keys.tokenSigning, verifying: keys.tokenVerifying } })
            : undefined,
        }, slack ? slackRoutes({ core: deps, publicUrl: config.publicUrl, links: slack.links, signingSecret: slack.signingSecret }) : [])
      : createOpsApp(metrics, healthy, { metricsToken: config.metricsToken });
    const server = http.createServer(app);
    if (config.roles.includes('api')) {
      const detachSockets = attachWebSockets(server, deps, log, {
        publicUrl: config.publicUrl,
        terminal: (ws, url, clientAddress) => handleTerminalSocket(dataPlane!, ws, url, clientAddress),
      });
      stops.push(async () => detachSockets());
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, resolve);
    });
    const addr = server.address() as AddressInfo;
    broker.httpUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    stops.push(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
    log.info({ url: broker.httpUrl, api: config.roles.includes('api') }, 'http listening');
    if (config.roles.includes('proxy')) {
      const proxy = await startSshProxy(dataPlane!, {
        host: config.host, port: config.sshPort, hostKey: keys.sshHostKey, caKey: keys.sshUserCa,
        hostCertificate: { caKey: keys.sshHostCa, publicHosts: [config.sshPublicHost] },
        limits: { authTimeoutMs: config.sshPreauth.authTimeoutSeconds * 1000, maxUnauthenticatedPerIp: config.sshPreauth.maxUnauthenticatedPerIp },
        auditWindowMs: config.sshPreauth.auditWindowSeconds * 1000,
      });
      broker.sshPort = proxy.port;
      // SSH_PORT=0 picks a free port: certificates must then advertise the one actually bound
      if (config.sshPort === 0) deps.sshEndpoint.port = proxy.port;
      stops.push(() => proxy.close());
    }
    if (config.roles.includes('worker')) {
      // reconcile before taking jobs: expire what ended while nothing ran, restore lost jobs
      const report = await reconcile(deps);
      log.info(report, 'reconciled grants and requests');
      const worker = await startJobWorker(queues, { queueName: JOB_QUEUE, handler: (job, attempt) => handleJob(deps, job, attempt), logger: log });
      stops.push(() => worker.close());
      // rotated device keys reaching CREDENTIAL_MAX_AGE_DAYS (reconcile above did the first pass)
      const sweep = startCredentialSweep(deps, { logger: log.child({ component: 'credential-sweep' }) });
      stops.push(() => sweep.close());
      // a signed checkpoint of the audit log now and every AUDIT_CHECKPOINT_MINUTES, kept in the log and in DATA_DIR
      const checkpoints = startAuditCheckpoints(deps, {
        file: config.auditCheckpointsFile, intervalMs: config.auditCheckpointMinutes * 60_000, logger: log.child({ component: 'audit-checkpoints' }),
      });
      stops.push(() => checkpoints.close());
      // SIEM streaming (§8.7): every audit event, in seq order, to each configured sink from its own cursor
      const siem = startSiemStreaming({ pool, logger: log, registry: metrics }, sinksFromConfig(config.siem, version));
      stops.push(() => siem.close());
      // the search index (§8.7): ended sessions' recordings and transfers, back-filled on the first passes.
      // Its own few connections: indexing a burst of recordings never takes the connections that
      // revocations, logins and the other jobs of this process need (its lanes and its live pass: 3)
      const indexPool = createPool(databaseUrl, 3);
      stops.push(() => indexPool.end());
      const indexer = startSearchIndexer({ pool: indexPool, clock, logger: log.child({ component: 'search-indexer' }) });
      stops.push(() => indexer.close());
      if (slack) {
        const slackWorker = await slack.startWorker(deps);
        stops.push(() => slackWorker.close());
      }
      log.info('worker running');
    }
    // stopped first (stops run in reverse): live sessions are cut and finalised while everything still runs
    if (dataPlane) stops.push(() => dataPlane.close());
    return broker;
  } catch (err) {
    await stop();
    throw err;
  }
}
