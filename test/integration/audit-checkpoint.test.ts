/**
 * Signed audit checkpoints (SPEC §8.2): someone who can write the database — even as its owner, with
 * the append-only trigger off — can rewrite an event and recompute every later hash so the bare chain
 * verifies again, but cannot sign; a checkpoint taken before the rewrite shows it.
 */
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAuditEvent } from '../../server/core/audit-chain.js';
import { writeAuditCheckpoint } from '../../server/core/audit.js';
import type { AuditEvent } from '../../server/core/types.js';
import { readLastCheckpoint, startAuditCheckpoints } from '../../server/jobs/audit-checkpoints.js';
import { createTestDatabase } from '../support/databases.js';
import { createVendor, expectError, type Auth } from '../support/fixtures.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';
import { startTestBroker } from '../support/test-broker.js';

interface Checkpoint { seq: number; hash: string; signedAt: string; signature: string; publicKey: string }

// each test owns its database: the chain is global state and these tests rewrite it
async function withOwnDatabase(fn: (h: Harness, url: string, people: { admin: Auth; auditor: Auth }) => Promise<void>) {
  const db = await createTestDatabase();
  const h = await startHarness({ databaseUrl: db.url });
  try {
    const admin = (await makeUser(h, ['admin'])).auth;
    const auditor = (await makeUser(h, ['auditor'])).auth;
    await fn(h, db.url, { admin, auditor });
  } finally {
    await h.close();
    await db.drop();
  }
}

/** `n` ordinary audited changes; returns the seq of the last event. */
async function activity(h: Harness, admin: Auth, n = 3): Promise<number> {
  for (let i = 0; i < n; i++) await createVendor(h, admin);
  return (await h.pool.query('SELECT max(seq)::int AS s FROM audit_events')).rows[0].s as number;
}

const checkpoint = async (h: Harness, who: Auth): Promise<Checkpoint> => (await h.http.get('/api/audit/checkpoint').set(who).expect(200)).body;

/**
 * As the table's owner: the append-only trigger off, event `seq` edited, and every later link
 * recomputed with the application's own chain function, so the bare chain verifies again.
 */
async function rewrite(url: string, seq: number, details: Record<string, unknown>): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update');
    await c.query('UPDATE audit_events SET details = details || $2::jsonb WHERE seq = $1', [seq, JSON.stringify(details)]);
    const { rows } = await c.query('SELECT * FROM audit_events WHERE seq >= $1 ORDER BY seq', [seq]);
    let prevHash = rows[0].prev_hash as string;
    for (const r of rows) {
      const e: Omit<AuditEvent, 'hash'> = {
        seq: Number(r.seq), at: r.at, actorType: r.actor_type, actorId: r.actor_id, action: r.action,
        subjectType: r.subject_type, subjectId: r.subject_id, details: r.details, prevHash,
      };
      const hash = hashAuditEvent(e);
      await c.query('UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE seq = $1', [e.seq, prevHash, hash]);
      prevHash = hash;
    }
    await c.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update');
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

describe('GET /api/audit/checkpoint', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let h: Harness;
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

  it('signs the head with Ed25519 over the documented bytes, checkable without the broker', async () => {
    const head = await activity(h, admin);
    const cp = await checkpoint(h, auditor);
    const row = (await h.pool.query('SELECT hash FROM audit_events WHERE seq = $1', [head])).rows[0];
    expect(cp).toEqual({ seq: head, hash: row.hash, signedAt: h.clock.now().toISOString(), signature: expect.any(String), publicKey: expect.any(String) });
    // a verifier needs only the public key: SPKI = fixed Ed25519 prefix + the 32 raw bytes
    const raw = Buffer.from(cp.publicKey, 'base64');
    expect(raw).toHaveLength(32);
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
    const message = Buffer.from(`portcullis.audit.checkpoint.v1:${cp.seq}:${cp.hash}`, 'ascii');
    expect(verify(null, message, key, Buffer.from(cp.signature, 'base64'))).toBe(true);
    expect(verify(null, Buffer.from(`portcullis.audit.checkpoint.v1:${cp.seq + 1}:${cp.hash}`), key, Buffer.from(cp.signature, 'base64'))).toBe(false);

    const v = await h.http.post('/api/audit/verify').set(admin).send({ checkpoint: cp }).expect(200);
    expect(v.body).toMatchObject({ ok: true, checkpoint: { seq: head, hash: row.hash, holds: true } });
    expect(v.body.firstBadSeq).toBeUndefined();
  });

  it('is for auditors and admins only', async () => {
    for (const roles of [['technician'], ['approver']] as const) {
      const u = await makeUser(h, [...roles], roles[0] === 'approver' ? { department: 'icu' } : { vendorId: (await createVendor(h, admin)).id });
      expectError(await h.http.get('/api/audit/checkpoint').set(u.auth), 403, 'forbidden');
      expectError(await h.http.post('/api/audit/verify').set(u.auth).send({ checkpoint: await checkpoint(h, auditor) }), 403, 'forbidden');
    }
    expectError(await h.http.get('/api/audit/checkpoint'), 401);
  });

  it('a checkpoint this broker did not sign is refused, whatever it claims', async () => {
    await activity(h, admin, 1);
    const cp = await checkpoint(h, auditor);
    const other = generateKeyPairSync('ed25519');
    const otherRaw = other.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    const signedByOther = (seq: number, hash: string) =>
      sign(null, Buffer.from(`portcullis.audit.checkpoint.v1:${seq}:${hash}`, 'ascii'), other.privateKey).toString('base64');
    const forged: Record<string, unknown>[] = [
      { ...cp, hash: 'f'.repeat(64) }, // the broker's signature over another hash
      { ...cp, seq: cp.seq - 1 },
      { ...cp, signature: signedByOther(cp.seq, cp.hash) }, // claims the broker's key
      { ...cp, signature: signedByOther(cp.seq, cp.hash), publicKey: otherRaw }, // brings its own key
      { ...cp, signature: Buffer.alloc(64).toString('base64') },
      { seq: cp.seq, hash: cp.hash, signature: cp.signature.slice(0, -4) + 'AAA=' },
    ];
    for (const bad of forged) {
      const err = expectError(await h.http.post('/api/audit/verify').set(auditor).send({ checkpoint: bad }), 400, 'invalid');
      expect(err.message).toMatch(/checkpoint/);
    }
    for (const bad of [{}, { seq: -1, hash: cp.hash, signature: cp.signature }, { ...cp, hash: 'X'.repeat(64) }, { ...cp, signature: 'not base64!' }]) {
      expectError(await h.http.post('/api/audit/verify').set(auditor).send({ checkpoint: bad }), 400, 'invalid');
    }
    // the genuine one still verifies
    expect((await h.http.post('/api/audit/verify').set(auditor).send({ checkpoint: cp }).expect(200)).body.ok).toBe(true);
  });

  it('writes a signed checkpoint into the log and a line to the file at start; each line verifies', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-checkpoints-'));
    const file = path.join(dir, 'audit-checkpoints.jsonl');
    const lines: string[] = [];
    const logger = { info: () => undefined, warn: (_: unknown, m: string) => void lines.push(m), error: (_: unknown, m: string) => void lines.push(m) };
    const job = startAuditCheckpoints(h.deps, { file, intervalMs: 3_600_000, logger });
    try {
      const first = await job.runOnce(); // the run started with the job
      expect(first?.ok).toBe(true);
      await activity(h, admin, 1);
      expect((await job.runOnce())?.ok).toBe(true);
      const kept = (await fs.readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Checkpoint);
      expect(kept).toHaveLength(2);
      expect(await readLastCheckpoint(file)).toEqual(kept[1]);
      const inLog = await h.pool.query(`SELECT seq::int, details FROM audit_events WHERE action = 'audit.checkpoint' ORDER BY seq`);
      expect(inLog.rows.map((r) => r.details)).toEqual(kept);
      // each anchors the event just before it
      expect(inLog.rows.map((r) => r.seq - 1)).toEqual(kept.map((k) => k.seq));
      for (const cp of kept) {
        const v = await h.http.post('/api/audit/verify').set(auditor).send({ checkpoint: cp }).expect(200);
        expect(v.body).toMatchObject({ ok: true, checkpointsChecked: 2, checkpoint: { holds: true } });
      }
      expect(lines).toEqual([]);
    } finally {
      await job.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a rewrite by the database owner', () => {
  it('passes the bare chain check but not a checkpoint taken before it, which names the event', async () => {
    await withOwnDatabase(async (h, url, { admin, auditor }) => {
      await activity(h, admin);
      const before = await checkpoint(h, auditor);
      await activity(h, admin);
      await rewrite(url, before.seq, { contractRef: 'nothing to see' });

      const bare = await h.http.get('/api/audit/verify').set(auditor).expect(200);
      expect(bare.body.ok).toBe(true);
      const v = await h.http.post('/api/audit/verify').set(auditor).send({ checkpoint: before }).expect(200);
      expect(v.body).toMatchObject({ ok: false, firstBadSeq: before.seq, checkpoint: { seq: before.seq, hash: before.hash, holds: false } });
      expect(v.body.problem).toContain(`event ${before.seq} no longer has the hash`);

      // the rewritten chain is signed over afresh; then its tail goes, and that checkpoint shows it
      const cp = await checkpoint(h, auditor);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update');
        await c.query('DELETE FROM audit_events WHERE seq >= $1', [cp.seq - 1]);
        await c.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update');
      } finally {
        await c.end();
      }
      expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body.ok).toBe(true);
      const gone = await h.http.post('/api/audit/verify').set(auditor).send({ checkpoint: cp }).expect(200);
      expect(gone.body).toMatchObject({ ok: false, firstBadSeq: cp.seq - 1, checkpoint: { holds: false } });
      expect(gone.body.problem).toMatch(/events were removed/);
    });
  });

  it('a periodic checkpoint in the log narrows it down, and one after the rewrite makes the bare check fail too', async () => {
    await withOwnDatabase(async (h, url, { admin, auditor }) => {
      await activity(h, admin);
      const periodic = await writeAuditCheckpoint(h.deps);
      expect(periodic.ok).toBe(true);
      const anchored = periodic.ok ? periodic.checkpoint.seq : -1;
      const target = await activity(h, admin);
      const before = await checkpoint(h, auditor);
      await rewrite(url, target - 1, { name: 'renamed' });

      const v = await h.http.post('/api/audit/verify').set(auditor).send({ checkpoint: before }).expect(200);
      expect(v.body).toMatchObject({ ok: false, firstBadSeq: before.seq, intactThroughSeq: anchored, checkpointsChecked: 1 });
      expect(v.body.problem).toContain(`after event ${anchored}`);

      // the periodic run, given the last checkpoint it kept outside the database, refuses to sign
      const next = await writeAuditCheckpoint(h.deps, { previous: before });
      expect(next).toMatchObject({ ok: false, firstBadSeq: before.seq });
      const failed = await h.pool.query(`SELECT details FROM audit_events WHERE action = 'audit.verification_failed'`);
      expect(failed.rows).toEqual([{ details: expect.objectContaining({ firstBadSeq: before.seq }) }]);
    });
  });

  it('a rewrite before a checkpoint written into the log fails the plain GET verify at that checkpoint', async () => {
    await withOwnDatabase(async (h, url, { admin, auditor }) => {
      const target = await activity(h, admin);
      const periodic = await writeAuditCheckpoint(h.deps);
      expect(periodic).toMatchObject({ ok: true, checkpoint: { seq: target } });
      await activity(h, admin);
      expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body.ok).toBe(true);
      await rewrite(url, target - 1, { name: 'renamed' });
      expect((await h.http.get('/api/audit/verify').set(auditor).expect(200)).body).toMatchObject({ ok: false, firstBadSeq: target });
      // and nothing is signed over it any more: not on request, not by the periodic run that signed before
      const refused = expectError(await h.http.get('/api/audit/checkpoint').set(auditor), 409, 'conflict');
      expect(refused.message).toContain(`event ${target}`);
      if (!periodic.ok) throw new Error('unreachable');
      expect(await writeAuditCheckpoint(h.deps, { since: periodic.checkpoint })).toMatchObject({ ok: false, firstBadSeq: target });
    });
  });
});

describe('the worker role', () => {
  it('signs a checkpoint at start with AUDIT_CHECKPOINT_KEY into DATA_DIR/audit-checkpoints.jsonl', async () => {
    const db = await createTestDatabase();
    const key = generateKeyPairSync('ed25519');
    const broker = await startTestBroker({
      DATABASE_URL: db.url, ROLES: 'worker', AUDIT_CHECKPOINT_KEY: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    try {
      const file = path.join(broker.dataDir, 'audit-checkpoints.jsonl');
      let cp: Checkpoint | undefined;
      for (let i = 0; i < 100 && !cp; i++) {
        cp = (await readLastCheckpoint(file).catch(() => undefined)) as Checkpoint | undefined;
        if (!cp) await new Promise((r) => setTimeout(r, 50));
      }
      expect(cp).toBeDefined();
      expect(cp!.publicKey).toBe(key.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'));
      const message = Buffer.from(`portcullis.audit.checkpoint.v1:${cp!.seq}:${cp!.hash}`, 'ascii');
      expect(verify(null, message, key.publicKey, Buffer.from(cp!.signature, 'base64'))).toBe(true);
      const row = await broker.pool.query(`SELECT details FROM audit_events WHERE action = 'audit.checkpoint'`);
      expect(row.rows).toEqual([{ details: cp }]);
    } finally {
      await broker.stop();
      await db.drop();
    }
  });
});
