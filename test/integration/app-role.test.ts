/**
 * The production database role (SPEC §8.2): the broker runs as a role that owns nothing, reads and
 * appends the audit log and can do nothing else to it, while everything the product does still works.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAuditCheckpoint } from '../../server/core/audit.js';
import { ensureAppRoleAt } from '../../server/db/app-role.js';
import { assertMigrated, pendingMigrations } from '../../server/db/migration-check.js';
import { adminUrl, createTestDatabase } from '../support/databases.js';
import { startHarness, type Harness } from '../support/harness.js';
import { startTestBroker } from '../support/test-broker.js';
import { as, grantFor, grantRow, world } from '../support/workflow-fixtures.js';

const role = `pc_app_${randomBytes(4).toString('hex')}`;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let appUrl: string;

async function asApp<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: appUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  await ensureAppRoleAt(db.url, { role, password: 'app-password' });
  await ensureAppRoleAt(db.url, { role }); // idempotent: every deploy runs it again
  const u = new URL(db.url);
  u.username = role;
  u.password = 'app-password';
  appUrl = u.toString();
});

afterAll(async () => {
  await db?.drop();
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  } finally {
    await c.end();
  }
});

describe('the application role', () => {
  it('cannot change, remove or unprotect audit rows, nor change the schema', async () => {
    await asApp(async (c) => {
      expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe(role);
      await c.query('SELECT count(*) FROM audit_events');
      const refused = [
        `UPDATE audit_events SET details = '{}'`,
        'DELETE FROM audit_events',
        'TRUNCATE audit_events',
        'ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update',
        'DROP TABLE audit_events',
        'SET session_replication_role = replica',
        'CREATE TABLE shadow (id int)',
        `INSERT INTO pgmigrations (name, run_on) VALUES ('999_x', now())`,
      ];
      for (const sql of refused) {
        await expect(c.query(sql), sql).rejects.toMatchObject({ code: '42501' });
      }
    });
  });

  it('runs the product: the access workflow, revocation, audit verify and checkpoints', async () => {
    const h: Harness = await startHarness({ databaseUrl: appUrl });
    try {
      const w = await world(h, { approvers: 1 });
      const grant = await grantFor(h, w);
      const tech = await as(h, w.tech).post(`/api/grants/${grant.id}/terminal-token`);
      expect(tech.status, JSON.stringify(tech.body)).toBe(201);
      await as(h, w.admin).patch(`/api/devices/${w.device.id}`, { vendorIds: [] }).then((r) => expect(r.status).toBe(200));
      expect((await grantRow(h, grant.id)).status).toBe('revoked');
      expect((await as(h, w.admin).get('/api/audit/verify')).body.ok).toBe(true);
      expect((await as(h, w.admin).get('/api/audit/checkpoint')).status).toBe(200);
      expect((await writeAuditCheckpoint(h.deps)).ok).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('is never the migrating role itself, nor a superuser', async () => {
    const owner = new URL(db.url).username;
    await expect(ensureAppRoleAt(db.url, { role: owner })).rejects.toThrow(/must not be the role that runs the migrations/);
    const su = `pc_su_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(`CREATE ROLE ${su} SUPERUSER`);
      await expect(ensureAppRoleAt(db.url, { role: su })).rejects.toThrow(/superuser/);
    } finally {
      await c.query(`DROP ROLE ${su}`);
      await c.end();
    }
    await expect(ensureAppRoleAt(db.url, { role: 'Robert"; DROP TABLE users; --' })).rejects.toThrow(/lowercase/);
  });

  it('a whole broker runs as it with MIGRATE_ON_START=false, and refuses a database the owner has not migrated', async () => {
    expect(await pendingMigrations(appUrl)).toEqual([]);
    const broker = await startTestBroker({
      DATABASE_URL: appUrl, MIGRATE_ON_START: 'false', REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    });
    try {
      expect((await fetch(`${broker.httpUrl}/healthz`)).status).toBe(200);
      const login = await fetch(`${broker.httpUrl}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'nobody', password: 'wrong password' }),
      });
      expect(login.status).toBe(401);
      // the worker's checkpoint at start: verified and appended as this role
      for (let i = 0; i < 100 && !broker.logLines.some((l) => l.includes('audit checkpoint')); i++) await new Promise((r) => setTimeout(r, 50));
      expect(broker.logLines.filter((l) => l.includes('audit checkpoint'))).toEqual([expect.stringContaining('audit checkpoint signed')]);
    } finally {
      await broker.stop();
    }

    const owner = new pg.Client({ connectionString: db.url });
    await owner.connect();
    try {
      const { rows: [last] } = await owner.query('DELETE FROM pgmigrations WHERE id = (SELECT max(id) FROM pgmigrations) RETURNING *');
      try {
        await expect(assertMigrated(appUrl)).rejects.toThrow(new RegExp(`${last.name}.*npm run migrate`));
      } finally {
        await owner.query('INSERT INTO pgmigrations (id, name, run_on) VALUES ($1, $2, $3)', [last.id, last.name, last.run_on]);
      }
    } finally {
      await owner.end();
    }
  });
});
