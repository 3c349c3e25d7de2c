import type { NewUser, UserPatch, UserRepo } from '../core/ports.js';
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
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

const columns: Record<keyof Omit<UserPatch, 'disabled'>, string> = {
  displayName: 'display_name',
  roles: 'roles',
  vendorId: 'vendor_id',
  department: 'department',
  slackUserId: 'slack_user_id',
  passwordHash: 'password_hash',
};

export function usersRepo(db: Queryable): UserRepo {
  return {
    async insert(u: NewUser) {
      const { rows } = await db.query(
        `INSERT INTO users (username, display_name, roles, vendor_id, department, slack_user_id, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [u.username, u.displayName, u.roles, u.vendorId, u.department, u.slackUserId, u.passwordHash],
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
      if (patch.passwordHash !== undefined) sets.push('failed_logins = 0', 'locked_until = NULL');
      sets.push('updated_at = now()');
      const { rows } = await db.query(`UPDATE users SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, values);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async byId(id) {
      const { rows } = await db.query('SELECT * FROM users WHERE id = $1', [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async byUsername(username) {
      const { rows } = await db.query('SELECT * FROM users WHERE username = $1', [username]);
      if (!rows[0]) return null;
      const secret: UserSecret = {
        passwordHash: rows[0].password_hash,
        failedLogins: rows[0].failed_logins,
        lockedUntil: rows[0].locked_until,
      };
      return { ...toUser(rows[0]), ...secret };
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
    async recordLoginFailure(id, maxFailures, lockUntil, now) {
      // a lock that has run out starts a fresh count
      const { rows } = await db.query(
        `UPDATE users SET
           failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= $4 THEN 1 ELSE failed_logins + 1 END,
           locked_until = CASE
             WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= $4 THEN 1 ELSE failed_logins + 1 END) >= $2
             THEN $3::timestamptz ELSE NULL END
         WHERE id = $1 RETURNING failed_logins, locked_until`,
        [id, maxFailures, lockUntil, now],
      );
      return { failedLogins: rows[0].failed_logins, lockedUntil: rows[0].locked_until };
    },
    async recordLoginSuccess(id) {
      await db.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [id]);
    },
  };
}
