/**
 * A clean stop is quiet (issue 18 item 12). Stopping a whole broker in this process logs no warning
 * or error. And on Ctrl-C, `npm start`'s embedded PostgreSQL gets the signal with the broker and
 * closes every connection ("terminating connection due to administrator command", what
 * pg_terminate_backend also sends) before the broker's stop reaches the revocation bus: the bus's
 * listener takes that as the database's doing, not as a lost connection worth a warning.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, inject, it, vi } from 'vitest';
import { createPgBus } from '../../server/bus/pg-bus.js';
import { createTestDatabase } from '../support/databases.js';
import { startTestBroker } from '../support/test-broker.js';

interface Line { level: number; msg?: string; component?: string; name?: string; err?: { message?: string } }
const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Line);
/** pino's numeric levels: 40 warn, 50 error, 60 fatal (with a job's name and an error's message, to say what it was) */
const loud = (lines: string[]) => parse(lines).filter((l) => l.level >= 40)
  .map((l) => `${l.component ?? '-'}: ${l.msg ?? ''}${l.name ? ` ${l.name}` : ''}${l.err?.message ? ` (${l.err.message})` : ''}`);

describe('a clean stop', () => {
  it('of a whole broker logs no warning, from the revocation bus or anything else', async () => {
    // a database of its own: on the run's shared one, start-up reconciliation re-creates the jobs of every
    // other test's grants and devices, and one of those failing (another broker's vault key) is not this test's
    const db = await createTestDatabase();
    const broker = await startTestBroker({ DATABASE_URL: db.url });
    try {
      await broker.deps.bus.publish({ type: 'session.supervision', sessionId: 'clean-stop-check' });
    } finally {
      await broker.stop();
      await db.drop();
    }
    expect(loud(broker.logLines)).toEqual([]);
  }, 60_000);

  it('the revocation listener closed by the database is reconnected without a warning', async () => {
    const databaseUrl = inject('databaseUrl');
    const channel = `portcullis_test_${randomBytes(5).toString('hex')}`;
    const lines: string[] = [];
    const bus = createPgBus({ databaseUrl, channel, logger: pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) }) });
    const admin = new pg.Client({ connectionString: databaseUrl });
    try {
      let resubscribed = 0;
      await bus.subscribe(() => undefined, { onResubscribed: () => void resubscribed++ });
      await admin.connect();
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
        [`LISTEN "${channel}"`],
      );
      expect(killed.rowCount).toBe(1);
      await vi.waitFor(() => expect(resubscribed).toBe(1), { timeout: 15_000, interval: 50 });
      expect(parse(lines).map((l) => l.msg)).toContain('revocation listener closed by the database (shutting down or terminated); reconnecting');
    } finally {
      await admin.end().catch(() => undefined);
      await bus.close();
    }
    expect(loud(lines)).toEqual([]);
  }, 30_000);
});
