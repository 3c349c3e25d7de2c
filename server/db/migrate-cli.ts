/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database; with
 * DATABASE_APP_ROLE, then sets up the non-owner role the broker runs as (see app-role.ts).
 */
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { startEmbeddedPostgres } from './embedded.js';
import { runMigrations } from './migrate.js';
import { ensureAppRoleAt } from './app-role.js';

const config = loadConfig();
const log = createLogger(config.logLevel);
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
try {
  const applied = await runMigrations(config.databaseUrl ?? embedded!.url, log);
  log.info(applied.length ? `migrated: ${applied.join(', ')}` : 'database already up to date');
  if (config.databaseAppRole) {
    await ensureAppRoleAt(config.databaseUrl ?? embedded!.url, config.databaseAppRole);
    log.info(`database role ${config.databaseAppRole.role}: privileges set (audit_events: SELECT, INSERT)`);
  }
} finally {
  await embedded?.stop();
}
