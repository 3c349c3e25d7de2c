/** Runs the node-pg-migrate migrations under ./migrations (SQL files, one change each). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export interface MigrateLog {
  info(msg: string): void;
}

export async function runMigrations(databaseUrl: string, log?: MigrateLog): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    singleTransaction: true,
    checkOrder: true,
    advisoryLockMode: 'wait',
    log: () => undefined,
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) log?.info(`applied ${names.length} migration(s): ${names.join(', ')}`);
  return names;
}
