/**
 * The database role the broker runs as in production: not the owner of any table, so it cannot
 * disable the audit log's append-only trigger, and granted only SELECT and INSERT on audit_events.
 * Run by the owner after the migrations (`npm run migrate` with DATABASE_APP_ROLE): idempotent, and
 * re-run on every deploy so tables added by later migrations are granted too.
 */
import pg from 'pg';

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface AppRoleOptions {
  /** the role's name (created when missing) */
  role: string;
  /** its login password (set every time when given) */
  password?: string;
}

/** Creates or updates the application role and sets its privileges; `db` is connected as the owner. */
export async function ensureAppRole(db: pg.ClientBase, opts: AppRoleOptions): Promise<void> {
  await db.query('BEGIN');
  try {
    await grantAppRole(db, opts);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function grantAppRole(db: pg.ClientBase, opts: AppRoleOptions): Promise<void> {
  if (!ROLE_NAME.test(opts.role)) throw new Error(`DATABASE_APP_ROLE ${JSON.stringify(opts.role)}: lowercase letters, digits and _ only`);
  const role = pg.escapeIdentifier(opts.role);
  const { rows: [self] } = await db.query('SELECT current_user AS name, current_database() AS db');
  if (self.name === opts.role) throw new Error('DATABASE_APP_ROLE must not be the role that runs the migrations');
  const { rows: [existing] } = await db.query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1', [opts.role]);
  if (existing?.rolsuper || existing?.rolbypassrls) throw new Error(`database role ${opts.role} is a superuser: it could rewrite the audit log`);
  const login = opts.password !== undefined ? `LOGIN PASSWORD ${pg.escapeLiteral(opts.password)}` : 'LOGIN';
  await db.query(existing ? `ALTER ROLE ${role} ${login}` : `CREATE ROLE ${role} ${login} NOSUPERUSER NOCREATEDB NOCREATEROLE`);
  const { rows: owned } = await db.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = $1`, [opts.role]);
  if (owned.length) throw new Error(`database role ${opts.role} owns ${owned.map((r) => r.relname).join(', ')}: it must own nothing`);

  await db.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${pg.escapeIdentifier(self.db)} TO ${role}`);
  await db.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  await db.query(`REVOKE CREATE ON SCHEMA public FROM ${role}`);
  await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  await db.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  // the audit log: read and append, nothing else
  await db.query(`REVOKE ALL ON audit_events FROM ${role}`);
  await db.query(`GRANT SELECT, INSERT ON audit_events TO ${role}`);
  // the broker checks at start that nothing is pending; applying migrations is the owner's job
  await db.query(`REVOKE ALL ON pgmigrations FROM ${role}`);
  await db.query(`GRANT SELECT ON pgmigrations TO ${role}`);
}

/** `ensureAppRole` on a connection of its own. */
export async function ensureAppRoleAt(ownerUrl: string, opts: AppRoleOptions): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await ensureAppRole(client, opts);
  } finally {
    await client.end();
  }
}
