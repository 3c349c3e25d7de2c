/** `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database. */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { startEmbeddedPostgres } from './embedded.js';
import { runMigrations } from './migrate.js';

const config = loadConfig();
const log = createLogger(config.logLevel);
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
try {
  const applied = await runMigrations(config.databaseUrl ?? embedded!.url, log);
  log.info(applied.length ? `migrated: ${applied.join(', ')}` : 'database already up to date');
} finally {
  await embedded?.stop();
}
