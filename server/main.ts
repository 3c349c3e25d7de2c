/** The single entry point: `npm start`. Starts the roles in ROLES (all by default); Ctrl-C stops cleanly. */
import { startBroker } from './broker.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';

let config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const log = createLogger(config.logLevel);
const broker = await startBroker(config, log).catch((err) => {
  log.fatal({ err }, 'could not start');
  process.exit(1);
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  await broker.stop();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
