import type { AddressLoginCounter, LoginCounter, LoginLock, NewUser, UserPatch, UserRepo } from '../core/ports.js';
import type { RoleName, User, UserSecret } from '../core/types.js';
import type { Queryable } from './pool.js';

type Row = Record<string, unknown>;

export function toUser(r: Row): User {
  return {
    id: r.id as string,
    username: r.username as string,
    displayName: r.display_name as string,
    roles: r.roles as RoleName[],
    vendorId: (r.vendor_id as string | null) ?? null,
    department: (r.department as string | null) ?? null,
    slackUserId: (r.slack_user_id as string | null) ?? null,
    disabledAt: (r.disabled_at as Date | null) ?? null,
    passwordChangeRequired: r.password_change_required === true,
    expiresAt: (r.expires_at as Date | null) ?? null,
    sso: r.oidc_issuer != null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

const columns: Record<keyof Omit<UserPatch, 'disabled' | 'endTokens'>, string> = {
  displayName: 'display_name',
  roles: 'roles',
  vendorId: 'vendor_id',
  department: 'department',
  slackUserId: 'slack_user_id',
  passwordHash: 'password_hash',
  passwordChangeRequired: 'password_change_required',
};

function withSecret(r: Row): User & UserSecret {
  return {
    ...toUser(r),
    passwordHash: r.password_hash as string,
    failedLogins: r.failed_logins as number,
    lockedUntil: (r.locked_until as Date | null) ?? null,
    tokenGeneration: r.token_generation as number,
  };
}

function toLoginLock(r: Row): LoginLock {
  const sources = (r.sources as { address: string; lockedUntil: string }[] | null) ?? [];
  return {
    userId: r.id as string,
    accountLockedUntil: (r.account_locked_until as Date | null) ?? null,
    lockedSources: sources.map((x) => ({ address: x.address, lockedUntil: new Date(x.lockedUntil) }))
      .sort((a, b) => a.lockedUntil.getTime() - b.lockedUntil.getTime()),
  };
}

// users with an account lock or a locked (username, address) pair in force at $1
const LOGIN_LOCKS = `
  SELECT u.id, CASE WHEN u.locked_until > $1 THEN u.locked_until END AS account_locked_until,
         (SELECT json_agg(json_build_object('address', f.address, 'lockedUntil', f.locked_until))
            FROM login_account_failures f WHERE f.username = u.username AND f.locked_until > $1) AS sources
    FROM users u
   WHERE ($2::uuid IS NULL OR u.id = $2)
     AND (u.locked_until > $1 OR EXISTS (SELECT 1 FROM login_account_failures f WHERE f.username = u.username AND f.locked_until > $1))`;

const toCounter = (r: Row | undefined): LoginCounter | null =>
  r ? { failures: r.failures as number, windowStartedAt: r.window_started_at as Date, lockedUntil: (r.locked_until as Date | null) ?? null } : null;

export function usersRepo(db: Queryable): UserRepo {
  return {
    async insert(u: NewUser) {
      const { rows } = await db.query(
        `INSERT INTO users (username, display_name, roles, vendor_id, department, slack_user_id, password_hash, password_change_required,
                            oidc_issuer, oidc_subject, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [u.username, u.displayName, u.roles, u.vendorId, u.department, u.slackUserId, u.passwordHash, u.passwordChangeRequired ?? false,
          u.oidc?.issuer ?? null, u.oidc?.subject ?? null, u.expiresAt ?? null],
      );
      return toUser(rows[0]);
    },
    async update(id, patch) {
      const sets: string[] = [];
      const values: unknown[] = [id];
      for (const [key, column] of Object.entries(columns)) {
        const v = patch[key as keyof typeof columns];
        if (v !== undefined) {
          values.push(v);
          sets.push(`${column} = $${values.length}`);
        }
      }
      if (patch.disabled !== undefined) {
        sets.push(patch.disabled ? 'disabled_at = COALESCE(disabled_at, now())' : 'disabled_at = NULL');
      }
      if (patch.passwordHash !== undefined) sets.push('failed_logins = 0', 'locked_until = NULL', 'password_changed_at = now()');
      if (patch.endTokens) sets.push('token_generation = token_generation + 1');
      sets.push('updated_at = now()');
      const { rows } = await db.query(`UPDATE users SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, values);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async byId(id, opts) {
      const { rows } = await db.query(`SELECT * FROM users WHERE id = $1${opts?.forShare ? ' FOR SHARE' : ''}`, [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async byUsername(username) {
      const { rows } = await db.query('SELECT * FROM users WHERE username = $1', [username]);
      return rows[0] ? withSecret(rows[0]) : null;
    },
    async lockForLogin(username) {
      const { rows } = await db.query('SELECT * FROM users WHERE username = $1 FOR UPDATE', [username]);
      return rows[0] ? withSecret(rows[0]) : null;
    },
    async authState(id) {
      const { rows } = await db.query('SELECT * FROM users WHERE id = $1', [id]);
      return rows[0] ? { user: toUser(rows[0]), tokenGeneration: rows[0].token_generation as number } : null;
    },
    async lockByOidcIdentity(issuer, subject) {
      const { rows } = await db.query('SELECT * FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2 FOR UPDATE', [issuer, subject]);
      return rows[0] ? withSecret(rows[0]) : null;
    },
    async markExpired(id, now) {
      // once: only an account whose end has come and whose expiry was not carried out yet
      const { rows } = await db.query(
        `UPDATE users SET expired_at = $2, token_generation = token_generation + 1, updated_at = now()
          WHERE id = $1 AND expires_at <= $2 AND expired_at IS NULL RETURNING *`,
        [id, now],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },
    async pendingExpiry() {
      const { rows } = await db.query('SELECT * FROM users WHERE expires_at IS NOT NULL AND expired_at IS NULL ORDER BY expires_at');
      return rows.map(toUser);
    },
    async endTokens(id) {
      await db.query('UPDATE users SET token_generation = token_generation + 1 WHERE id = $1', [id]);
    },
    async list(f) {
      const { rows } = await db.query(
        `SELECT * FROM users
          WHERE ($1::text IS NULL OR $1 = ANY (roles))
            AND ($2::uuid IS NULL OR vendor_id = $2)
            AND ($3 OR disabled_at IS NULL)
          ORDER BY username`,
        [f.role ?? null, f.vendorId ?? null, f.includeDisabled],
      );
      return rows.map(toUser);
    },
    async recordLoginFailure(id) {
      await db.query('UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1', [id]);
    },
    async recordLoginSuccess(id) {
      await db.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [id]);
    },
    async lockAccount(id, until) {
      await db.query('UPDATE users SET locked_until = $2 WHERE id = $1', [id, until]);
    },
    async peekLoginThrottle(username, address) {
      const { rows } = await db.query(
        `SELECT
           (SELECT row_to_json(a) FROM login_address_failures a WHERE a.address = $2) AS address,
           (SELECT row_to_json(p) FROM login_account_failures p WHERE p.username = $1 AND p.address = $2) AS pair,
           (SELECT locked_until FROM users WHERE username = $1) AS account_locked_until`,
        [username, address],
      );
      // row_to_json carries timestamps as text
      const parse = (j: Row | null) =>
        j ? toCounter({ ...j, window_started_at: new Date(j.window_started_at as string), locked_until: j.locked_until ? new Date(j.locked_until as string) : null }) : null;
      return { address: parse(rows[0].address), pair: parse(rows[0].pair), accountLockedUntil: rows[0].account_locked_until ?? null };
    },
    async lockLoginAddress(address, now) {
      // insert-then-lock: attempts from a new address serialise on its row too
      await db.query(
        'INSERT INTO login_address_failures (address, window_started_at) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING',
        [address, now],
      );
      const { rows } = await db.query('SELECT * FROM login_address_failures WHERE address = $1 FOR UPDATE', [address]);
      const r = rows[0];
      return { ...toCounter(r)!, refused: r.refused, refusedAuditedAt: r.refused_audited_at ?? null } satisfies AddressLoginCounter;
    },
    async saveLoginAddress(address, c) {
      await db.query(
        `UPDATE login_address_failures SET failures = $2, window_started_at = $3, locked_until = $4, refused = $5, refused_audited_at = $6
          WHERE address = $1`,
        [address, c.failures, c.windowStartedAt, c.lockedUntil, c.refused, c.refusedAuditedAt],
      );
    },
    async lockLoginPair(username, address) {
      const { rows } = await db.query('SELECT * FROM login_account_failures WHERE username = $1 AND address = $2 FOR UPDATE', [username, address]);
      return toCounter(rows[0]);
    },
    async saveLoginPair(username, address, c) {
      await db.query(
        `INSERT INTO login_account_failures (username, address, failures, window_started_at, locked_until) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (username, address) DO UPDATE SET failures = $3, window_started_at = $4, locked_until = $5`,
        [username, address, c.failures, c.windowStartedAt, c.lockedUntil],
      );
    },
    async clearLoginPair(username, address) {
      await db.query('DELETE FROM login_account_failures WHERE username = $1 AND address = $2', [username, address]);
    },
    async lockedLoginSources(username, now) {
      const { rows } = await db.query(
        'SELECT count(*)::int AS n FROM login_account_failures WHERE username = $1 AND locked_until > $2',
        [username, now],
      );
      return rows[0].n as number;
    },
    async loginLocks(now, userId) {
      const { rows } = await db.query(LOGIN_LOCKS, [now, userId ?? null]);
      return rows.map(toLoginLock);
    },
    async unlockLogin(id, now) {
      // the same order as a login (account row, then its pairs), so an unlock never deadlocks with one
      const { rows } = await db.query('SELECT username FROM users WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) return null;
      const before = (await db.query(LOGIN_LOCKS, [now, id])).rows[0];
      await db.query('UPDATE users SET locked_until = NULL, failed_logins = 0 WHERE id = $1', [id]);
      await db.query('DELETE FROM login_account_failures WHERE username = $1', [rows[0].username]);
      return before ? toLoginLock(before) : { userId: id, accountLockedUntil: null, lockedSources: [] };
    },
    async purgeLoginCounters(before) {
      // SKIP LOCKED: never wait on a row a login in progress holds
      for (const table of ['login_address_failures', 'login_account_failures']) {
        await db.query(
          `DELETE FROM ${table} WHERE ctid IN (
             SELECT ctid FROM ${table}
              WHERE window_started_at < $1 AND (locked_until IS NULL OR locked_until < $1)
              LIMIT 500 FOR UPDATE SKIP LOCKED)`,
          [before],
        );
      }
    },
  };
}
