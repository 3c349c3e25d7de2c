/**
 * One delivery loop per SIEM sink. The audit table is the outbox and `siem_cursors` holds the last
 * seq each sink received. Each round, in one transaction: lock the sink's cursor row (FOR UPDATE SKIP
 * LOCKED: a worker that finds it locked leaves the sink to the one that holds it), read the next
 * batch in seq order, deliver it, advance the cursor, commit. A failed delivery rolls back, so the same
 * batch goes again after a backoff that doubles up to `maxBackoffMs`: at-least-once, in order, and a
 * restart resumes after the last committed batch. `close()` lets the round in progress finish.
 */
import type { Logger } from '../logger.js';
import type { Pool } from '../db/pool.js';
import { advanceCursor, auditHeadSeq, ensureCursor, lockCursor, recordCursorFailure, siemEventsAfter } from '../db/siem-repo.js';
import type { SiemSink } from './sinks.js';

export interface DeliveryStats {
  /** the audit head minus the sink's cursor, after the last round */
  lag(): number;
  failures(): number;
  delivered(): number;
}

export interface DeliveryLoop extends DeliveryStats {
  sink: string;
  /** resolves after the next round that found nothing left to send (tests) */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface DeliveryOptions {
  batchSize?: number;
  /** how often an idle loop looks for new events */
  pollMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => Date;
}

export function startDeliveryLoop(pool: Pool, sink: SiemSink, log: Logger, opts: DeliveryOptions = {}): DeliveryLoop {
  const batchSize = opts.batchSize ?? 200;
  const pollMs = opts.pollMs ?? 1000;
  const minBackoffMs = opts.minBackoffMs ?? 1000;
  const maxBackoffMs = opts.maxBackoffMs ?? 60_000;
  const now = opts.now ?? (() => new Date());
  let stopped = false;
  let wake: (() => void) | null = null;
  let lag = 0;
  let failures = 0;
  let delivered = 0;
  let idleWaiters: (() => void)[] = [];

  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      wake = null;
      resolve();
    }, ms);
    wake = () => {
      clearTimeout(t);
      wake = null;
      resolve();
    };
  });

  /** One round: how many events it delivered, or null when another worker holds the sink. */
  async function round(): Promise<number | null> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const cursor = await lockCursor(client, sink.name);
      if (cursor === null) {
        await client.query('ROLLBACK');
        return null;
      }
      const events = await siemEventsAfter(client, cursor, batchSize);
      if (events.length > 0) {
        await sink.deliver(events);
        await advanceCursor(client, sink.name, events[events.length - 1]!.event.seq, now());
      }
      const head = await auditHeadSeq(client);
      await client.query('COMMIT');
      lag = Math.max(0, head - (events.length > 0 ? events[events.length - 1]!.event.seq : cursor));
      delivered += events.length;
      return events.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async function run(): Promise<void> {
    let backoff = minBackoffMs;
    await ensureCursor(pool, sink.name).catch((err: unknown) => log.warn({ err, sink: sink.name }, 'siem: could not create the cursor row'));
    while (!stopped) {
      let wait = pollMs;
      try {
        const n = await round();
        backoff = minBackoffMs;
        if (n === batchSize) wait = 0;
        if (n === 0) {
          for (const w of idleWaiters) w();
          idleWaiters = [];
        }
      } catch (err) {
        failures++;
        const message = err instanceof Error ? err.message : String(err);
        log.warn({ err: message, sink: sink.name, retryInMs: backoff }, 'siem: delivery failed; the batch will be sent again');
        await recordCursorFailure(pool, sink.name, message, now()).catch(() => undefined);
        await auditHeadSeq(pool).then(async (head) => {
          const { rows } = await pool.query('SELECT last_seq FROM siem_cursors WHERE sink = $1', [sink.name]);
          if (rows[0]) lag = Math.max(0, head - Number(rows[0].last_seq));
        }).catch(() => undefined);
        wait = backoff;
        backoff = Math.min(maxBackoffMs, backoff * 2);
      }
      if (!stopped && wait > 0) await sleep(wait);
    }
  }

  const running = run();
  return {
    sink: sink.name,
    lag: () => lag,
    failures: () => failures,
    delivered: () => delivered,
    idle: () => new Promise<void>((resolve) => {
      idleWaiters.push(resolve);
      wake?.();
    }),
    async close() {
      stopped = true;
      wake?.();
      await running;
      for (const w of idleWaiters) w();
      await sink.close();
    },
  };
}
