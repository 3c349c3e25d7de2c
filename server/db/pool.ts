/** The pg pool and a transaction helper. Every write that must stay consistent runs inside `transaction`. */
import pg from 'pg';

export type Pool = pg.Pool;
export type Queryable = pg.Pool | pg.PoolClient;

// timestamps come back as Date, bigint (int8) as string unless we say otherwise: counts fit in a JS number
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(connectionString: string, max = 10): Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'portcullis' });
  // an idle client losing its server must not crash the process; queries on it will fail and be reported
  pool.on('error', () => undefined);
  return pool;
}

/** Runs fn in one transaction; commits on success, rolls back on any error. */
export async function transaction<T>(pool: Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
