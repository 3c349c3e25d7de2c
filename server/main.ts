/** The single entry point: `npm start`. Starts the roles in ROLES (all by default); Ctrl-C stops cleanly. */
import { startBroker, type Broker } from './broker.js';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const log = createLogger(config.logLevel);

let stopping = false;
// On Ctrl-C the terminal signals the embedded PostgreSQL too, and it ends its connections at once:
// a pooled client of the job queue may then emit an error nobody listens to. While stopping,
// that is expected; at any other time an uncaught error is fatal.
process.on('uncaughtException', (err) => {
  const code = (err as { code?: string }).code;
  if (stopping && (code === '57P01' || code === 'ECONNRESET' || /Connection terminated/.test(err.message))) {
    log.debug({ err: err.message }, 'connection ended during shutdown');
    return;
  }
  log.fatal({ err }, 'uncaught exception');
  process.exit(1);
});

// signals are handled from the first moment: a Ctrl-C during start-up stops once start-up is done
const starting: Promise<Broker> = startBroker(config, log);
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  const broker = await starting.catch(() => undefined);
  await broker?.stop();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await starting.catch((err) => {
  log.fatal({ err }, 'could not start');
  process.exit(1);
});
