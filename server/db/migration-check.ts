/**
 * For a broker that does not migrate (MIGRATE_ON_START=false: it runs as a role that owns nothing):
 * refuses to start on a database the owner has not migrated to this version.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** Names of this version's migrations that the database has not applied (in order). */
export async function pendingMigrations(databaseUrl: string): Promise<string[]> {
  const files = (await fs.readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4)).sort();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT name FROM pgmigrations`).catch((err: { code?: string }) => {
      if (err.code === '42P01') return { rows: [] }; // never migrated
      throw err;
    });
    const applied = new Set(rows.map((r) => r.name));
    return files.filter((f) => !applied.has(f));
  } finally {
    await client.end();
  }
}

export async function assertMigrated(databaseUrl: string): Promise<void> {
  const pending = await pendingMigrations(databaseUrl);
  if (pending.length) {
    throw new Error(`the database is missing ${pending.length} migration(s) (${pending.join(', ')}): run \`npm run migrate\` as the database owner first`);
  }
}
