import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../server/db/pool.js';
import { createStore } from '../../server/db/store.js';
import { createTestDatabase } from '../support/databases.js';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';
import { createDevice, createVendor, deployedDevice, expectError, type Auth } from '../support/fixtures.js';

// Every test here owns its database: the chain is global state, and some tests break it on purpose.
async function withOwnDatabase<T>(fn: (h: Harness, db: { url: string }) => Promise<T>): Promise<T> {
  const db = await createTestDatabase();
  const h = await startHarness({ databaseUrl: db.url });
  try {
    return await fn(h, db);
  } finally {
    await h.close();
    await db.drop();
  }
}

/** Some ordinary traffic: vendors, users, devices, lifecycle, logins good and bad. */
async function activity(h: Harness, admin: Auth) {
  const vendor = await createVendor(h, admin);
  const tech = await makeUser(h, ['technician'], { vendorId: vendor.id });
  await h.http.post('/api/users').set(admin)
    .send({ username: unique('aud').toLowerCase(), displayName: 'Aud', roles: ['auditor'], password: 'a long password' }).expect(201);
  const d = await deployedDevice(h, admin, { vendorIds: [vendor.id], criticality: 'critical' });
  await h.http.post(`/api/devices/${d.id}/lifecycle`).set(admin).send({ state: 'suspended', reason: 'maintenance' }).expect(200);
  await h.http.post('/api/auth/login').send({ username: tech.user.username, password: 'wrong password' }).expect(401);
  await h.http.post('/api/auth/login').send({ username: tech.user.username, password: tech.password }).expect(200);
  await h.http.patch(`/api/users/${tech.user.id}`).set(admin).send({ disabled: true }).expect(200);
  return { vendor, tech, device: d };
}

/** Runs `sql` as the database superuser with triggers off: someone with the keys to the server. */
async function tamper(url: string, sql: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL session_replication_role = replica');
    const r = await c.query(sql, params);
    await c.query('COMMIT');
    return r;
  } finally {
    await c.end();
  }
}

async function chainRows(h: Harness) {
  const { rows } = await h.pool.query('SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq');
  return rows as { seq: number; prev_hash: string; hash: string }[];
}

function expectLinked(rows: { seq: number; prev_hash: string; hash: string }[]) {
  rows.forEach((r, i) => {
    expect(r.seq).toBe(i + 1);
    expect(r.prev_hash).toBe(i === 0 ? '0'.repeat(64) : rows[i - 1]!.hash);
  });
}

describe('an untouched chain', () => {
  let h: Harness;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let admin: Auth;
  let auditor: Auth;
  beforeAll(async () => {
    db = await createTestDatabase();
    h = await startHarness({ databaseUrl: db.url });
    admin = (await makeUser(h, ['admin'])).auth;
    auditor = (await makeUser(h, ['auditor'])).auth;
  });
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('verifies after a series of API actions, covering every event', async () => {
    await activity(h, admin);
    const rows = await chainRows(h);
    expect(rows.length).toBeGreaterThanOrEqual(9);
    expectLinked(rows);
    const v = await h.http.get('/api/audit/verify').set(auditor).expect(200);
    expect(v.body).toEqual({ ok: true, count: rows.length, headHash: rows[rows.length - 1]!.hash });
  });

  it('records what happened, with who did it', async () => {
    const { device } = await activity(h, admin);
    const res = await h.http.get('/api/audit').query({ subjectId: device.id }).set(auditor).expect(200);
    const actions = res.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(['device.enrolled', 'device.credential_set', 'device.tested', 'device.lifecycle_changed', 'device.lifecycle_changed']);
    for (const e of res.body.items) {
      expect(e).toMatchObject({ actorType: 'user', subjectType: 'device', subjectId: device.id });
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(e.prevHash).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(res.body.items[0].details).toMatchObject({ name: device.name, criticality: 'critical', hostKeyPinned: true });
  });

  it('pages with afterSeq / limit / nextAfterSeq and filters by action', async () => {
    const names: string[] = [];
    for (let i = 0; i < 7; i++) names.push((await createVendor(h, admin)).name);
    const seen: { seq: number; action: string; details: { name: string } }[] = [];
    let afterSeq = 0;
    for (let page = 0; page < 100; page++) {
      const res = await h.http.get('/api/audit').query({ action: 'vendor.created', limit: 3, afterSeq }).set(auditor).expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items);
      if (res.body.nextAfterSeq === null) break;
      expect(res.body.nextAfterSeq).toBe(res.body.items[res.body.items.length - 1].seq);
      afterSeq = res.body.nextAfterSeq;
    }
    expect(seen.every((e) => e.action === 'vendor.created')).toBe(true);
    const seqs = seen.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const all = (await h.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'vendor.created'`)).rows[0].n;
    expect(seen).toHaveLength(all);
    expect(seen.slice(-7).map((e) => e.details.name)).toEqual(names);

    // a prefix selects a family of actions
    const family = await h.http.get('/api/audit').query({ action: 'vendor', limit: 1000 }).set(auditor).expect(200);
    expect(family.body.items.length).toBe(all);

    // unfiltered pages walk the whole log in order with nothing skipped
    const walked: number[] = [];
    afterSeq = 0;
    for (;;) {
      const res = await h.http.get('/api/audit').query({ limit: 10, afterSeq }).set(admin).expect(200);
      walked.push(...res.body.items.map((e: { seq: number }) => e.seq));
      if (res.body.nextAfterSeq === null) break;
      afterSeq = res.body.nextAfterSeq;
    }
    expect(walked).toEqual(Array.from({ length: walked.length }, (_, i) => i + 1));
  });

  it('rejects bad paging parameters with 400', async () => {
    for (const q of [{ limit: 0 }, { limit: 5000 }, { afterSeq: -1 }, { action: 'DROP TABLE' }, { bogus: 1 }]) {
      expectError(await h.http.get('/api/audit').query(q).set(auditor), 400, 'invalid');
    }
  });

  it('the application cannot UPDATE, DELETE or TRUNCATE audit rows', async () => {
    await createVendor(h, admin);
    const before = await chainRows(h);
    await expect(h.pool.query(`UPDATE audit_events SET details = '{"forged":true}' WHERE seq = 1`)).rejects.toThrow(/append-only/);
    await expect(h.pool.query('DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)')).rejects.toThrow(/append-only/);
    await expect(h.pool.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    expect(await chainRows(h)).toEqual(before);
    expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body.ok).toBe(true);
  });

  it('20 concurrent API writers never fork the chain', async () => {
    const names = Array.from({ length: 20 }, () => unique('Par'));
    const results = await Promise.all(names.map((name) =>
      h.http.post('/api/vendors').set(admin).send({ name, contractRef: 'C', contractEnd: '2099-01-01' })));
    expect(results.map((r) => r.status)).toEqual(names.map(() => 201));
    const rows = await chainRows(h);
    expectLinked(rows);
    const created = await h.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'vendor.created' AND details->>'name' = ANY ($1)`, [names]);
    expect(created.rows[0].n).toBe(20);
    expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body).toMatchObject({ ok: true, count: rows.length });
  });

  it('40 concurrent store transactions on 20 connections append one contiguous chain', async () => {
    const pool = createPool(db.url, 20);
    try {
      const store = createStore(pool);
      const tag = unique('burst');
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.transaction((tx) =>
        tx.audit.append({ actorType: 'system', actorId: 'test', action: 'test.burst', subjectType: 'test', subjectId: tag, details: { i } }, h.clock.now()))));
      const rows = await chainRows(h);
      expectLinked(rows);
      const mine = await h.pool.query(`SELECT details->>'i' AS i FROM audit_events WHERE subject_id = $1`, [tag]);
      expect(mine.rows.map((r) => Number(r.i)).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body.ok).toBe(true);
    } finally {
      await pool.end();
    }
  });

  // Regression (issue 17, revocation storm): an audited transaction held the chain's lock from its first
  // append to its commit, so every other audited change in every process waited for all of its work.
  it('a transaction still working after its append does not hold up other audited changes', async () => {
    const pool = createPool(db.url, 4);
    try {
      const store = createStore(pool);
      const tag = unique('slow');
      let release!: () => void;
      const holding = new Promise<void>((r) => { release = r; });
      let appended!: () => void;
      const slowAppended = new Promise<void>((r) => { appended = r; });
      const slow = store.transaction(async (tx) => {
        await tx.audit.append({ actorType: 'system', actorId: 'test', action: 'test.slow', subjectType: 'test', subjectId: tag, details: { n: 1 } }, h.clock.now());
        await tx.audit.append({ actorType: 'system', actorId: 'test', action: 'test.slow', subjectType: 'test', subjectId: tag, details: { n: 2 } }, h.clock.now());
        appended();
        await holding; // more work after the appends (queries, a slow device lookup...)
        // and the transaction reads its own events
        const own = await tx.audit.list({ subjectId: tag, limit: 10 });
        expect(own.map((e) => `${e.action}${String(e.details.n ?? '')}`)).toEqual(['test.quick', 'test.slow1', 'test.slow2']);
      });
      await slowAppended;
      const quick = await Promise.race([
        store.transaction((tx) => tx.audit.append(
          { actorType: 'system', actorId: 'test', action: 'test.quick', subjectType: 'test', subjectId: tag, details: {} }, h.clock.now())).then(() => 'committed'),
        new Promise((r) => setTimeout(() => r('waited'), 3_000)),
      ]);
      release();
      await slow;
      expect(quick).toBe('committed');
      const mine = await h.pool.query('SELECT action, details FROM audit_events WHERE subject_id = $1 ORDER BY seq', [tag]);
      // the quick change committed first; the slow one's events follow in the order it appended them
      expect(mine.rows.map((r) => `${r.action}${r.details.n ?? ''}`)).toEqual(['test.quick', 'test.slow1', 'test.slow2']);
      expectLinked(await chainRows(h));
      expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body.ok).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('events with awkward text (quotes, backslashes, control characters, emoji) are linked by the database and verify', async () => {
    const store = createStore(h.pool);
    const tag = unique('awkward');
    const details = { reason: 'pump "B" \\ alarm', text: 'a\u0001b\nc\t ü€😀 \u2028', nested: { z: [1, null, true], a: 1.25 } };
    await store.transaction(async (tx) => {
      await tx.audit.append({ actorType: 'system', actorId: null, action: 'test.awkward', subjectType: 'test', subjectId: tag, details }, h.clock.now());
      await tx.audit.append({ actorType: 'anonymous', actorId: null, action: 'test.awkward', subjectType: null, subjectId: tag, details: {} }, h.clock.now());
    });
    expect((await h.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE subject_id = $1', [tag])).rows[0].n).toBe(2);
    expectLinked(await chainRows(h));
    expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body.ok).toBe(true);
  });

  // Regression (issue 17): the chain's lock was held across client round trips (lock, head, insert, commit),
  // so a process slow to answer (a proxy busy relaying) held every audited change of every process up.
  it('the chain\'s lock is never held while the client is between statements', async () => {
    const pool = createPool(db.url, 2);
    const monitor = await h.pool.connect();
    let heldBetween = 0;
    let checks = 0;
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
      (client as { query: unknown }).query = async (...args: unknown[]) => {
        const pid = (client as unknown as { processID: number }).processID;
        const { rows } = await monitor.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND pid = $2 AND granted`, [0x706f7274, pid]);
        heldBetween += rows[0].n as number;
        checks++;
        return query(...args);
      };
    });
    try {
      const store = createStore(pool);
      const tag = unique('between');
      await store.transaction(async (tx) => {
        await tx.audit.append({ actorType: 'system', actorId: 'test', action: 'test.between', subjectType: 'test', subjectId: tag, details: { n: 1 } }, h.clock.now());
        await tx.audit.append({ actorType: 'system', actorId: 'test', action: 'test.between', subjectType: 'test', subjectId: tag, details: { n: 2 } }, h.clock.now());
        await tx.users.byId('00000000-0000-0000-0000-000000000000'); // more work after the appends
      });
      expect(checks).toBeGreaterThanOrEqual(2);
      expect(heldBetween).toBe(0);
      expect((await h.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE subject_id = $1', [tag])).rows[0].n).toBe(2);
      expectLinked(await chainRows(h));
    } finally {
      monitor.release();
      await pool.end();
    }
  });

  it('a transaction that fails after appending leaves no event and no gap in the chain', async () => {
    const store = createStore(h.pool);
    const tag = unique('rolled');
    await expect(store.transaction(async (tx) => {
      await tx.audit.append({ actorType: 'system', actorId: 'test', action: 'test.rolled', subjectType: 'test', subjectId: tag, details: {} }, h.clock.now());
      throw new Error('changed its mind');
    })).rejects.toThrow('changed its mind');
    await store.transaction((tx) => tx.audit.append(
      { actorType: 'system', actorId: 'test', action: 'test.after', subjectType: 'test', subjectId: tag, details: {} }, h.clock.now()));
    const mine = await h.pool.query('SELECT action FROM audit_events WHERE subject_id = $1', [tag]);
    expect(mine.rows.map((r) => r.action)).toEqual(['test.after']);
    expectLinked(await chainRows(h));
  });
});

describe('tampering behind the application', () => {
  it('an altered row is detected: ok false, firstBadSeq = that row', async () => {
    await withOwnDatabase(async (h, db) => {
      const admin = await makeUser(h, ['admin']);
      await activity(h, admin.auth);
      const rows = await chainRows(h);
      const target = rows[Math.floor(rows.length / 2)]!.seq;
      expect((await h.http.get('/api/audit/verify').set(admin.auth).expect(200)).body.ok).toBe(true);

      const r = await tamper(db.url, `UPDATE audit_events SET details = details || '{"reason":"nothing to see"}' WHERE seq = $1`, [target]);
      expect(r.rowCount).toBe(1);
      const v = await h.http.get('/api/audit/verify').set(admin.auth).expect(200);
      expect(v.body).toMatchObject({ ok: false, firstBadSeq: target, count: rows.length });
    });
  });

  it('an altered row whose hash was recomputed is still detected, at the next link', async () => {
    await withOwnDatabase(async (h, db) => {
      const admin = await makeUser(h, ['admin']);
      await activity(h, admin.auth);
      const rows = await chainRows(h);
      const target = rows[2]!.seq;
      await tamper(db.url, `UPDATE audit_events SET actor_id = 'someone-else', hash = repeat('a', 64) WHERE seq = $1`, [target]);
      const v = await h.http.get('/api/audit/verify').set(admin.auth).expect(200);
      expect(v.body.ok).toBe(false);
      expect(v.body.firstBadSeq).toBe(target);
    });
  });

  it('a deleted row is detected', async () => {
    await withOwnDatabase(async (h, db) => {
      const admin = await makeUser(h, ['admin']);
      await activity(h, admin.auth);
      const rows = await chainRows(h);
      const target = rows[Math.floor(rows.length / 2)]!.seq;
      await tamper(db.url, 'DELETE FROM audit_events WHERE seq = $1', [target]);
      const v = await h.http.get('/api/audit/verify').set(admin.auth).expect(200);
      expect(v.body).toMatchObject({ ok: false, firstBadSeq: target + 1, count: rows.length - 1 });
    });
  });

  it('tampering is reported to auditors while the log stays readable', async () => {
    await withOwnDatabase(async (h, db) => {
      const admin = await makeUser(h, ['admin']);
      const auditor = await makeUser(h, ['auditor']);
      await createDevice(h, admin.auth);
      await tamper(db.url, `UPDATE audit_events SET action = 'device.updated' WHERE action = 'device.enrolled'`);
      const v = await h.http.get('/api/audit/verify').set(auditor.auth).expect(200);
      expect(v.body.ok).toBe(false);
      const page = await h.http.get('/api/audit').set(auditor.auth).expect(200);
      expect(page.body.items.find((e: { seq: number }) => e.seq === v.body.firstBadSeq).action).toBe('device.updated');
    });
  });
});
