/**
 * The revocation bus on PostgreSQL LISTEN/NOTIFY, for installations without Redis.
 * NOTIFY payloads must stay under 8000 bytes, so a large `grant.ended` is split by grant ids into
 * several notifications (sent in one statement, hence one transaction); receivers see several
 * smaller events. LISTEN runs on a dedicated client that is rebuilt with backoff when its connection
 * drops; notifications sent during the gap are lost (proxies keep their own timers to each grant end).
 */
import pg from 'pg';
import type { RevocationEvent } from '../core/workflow-ports.js';
import type { Logger } from '../logger.js';
import { createPool, type Pool } from '../db/pool.js';
import { createSubscribers, type ClosableBus } from './redis-bus.js';

export const PG_REVOCATION_CHANNEL = 'portcullis_revocations';
/** PostgreSQL rejects a NOTIFY payload of 8000 bytes or more */
export const NOTIFY_MAX_BYTES = 7999;
const MAX_MESSAGE_CHARS = 1000;

/** SQLSTATEs of a connection the server ended on purpose: admin_shutdown (also pg_terminate_backend), crash_shutdown */
const CLOSED_BY_DATABASE = new Set(['57P01', '57P02']);
/** reconnect failures logged at info after the database closed the listener (about 1.5 s of back-off) */
const QUIET_RECONNECT_ATTEMPTS = 4;

function closedByDatabase(err: Error | undefined): string | null {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CLOSED_BY_DATABASE.has(code) ? code : null;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const shorten = (s: string) => (s.length > MAX_MESSAGE_CHARS ? `${s.slice(0, MAX_MESSAGE_CHARS - 1)}…` : s);

/** Splits an event into payloads that each fit in one NOTIFY; only `grant.ended` can grow without bound. */
export function splitForNotify(event: RevocationEvent, maxBytes = NOTIFY_MAX_BYTES): RevocationEvent[] {
  if (bytes(JSON.stringify(event)) <= maxBytes) return [event];
  if (event.type !== 'grant.ended') {
    return event.type === 'session.terminate' ? [{ ...event, message: shorten(event.message) }] : [event];
  }
  const base = { ...event, message: shorten(event.message), grantIds: [] as string[] };
  const budget = maxBytes - bytes(JSON.stringify(base));
  const chunks: string[][] = [];
  let current: string[] = [];
  let used = 0;
  for (const grantId of event.grantIds) {
    const size = bytes(JSON.stringify(grantId));
    if (size > budget) throw new Error('grant id too long for a notification');
    if (current.length > 0 && used + 1 + size > budget) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    used += (current.length > 0 ? 1 : 0) + size;
    current.push(grantId);
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current);
  return chunks.map((grantIds) => ({ ...base, grantIds }));
}

export interface PgBusOptions {
  databaseUrl: string;
  logger: Logger;
  channel?: string;
  /** a pool to publish through (not closed by the bus); by default the bus opens a small one */
  pool?: Pool;
}

/** at most this many payloads in one NOTIFY statement (the rest wait for the next) */
const MAX_BATCH = 1000;

/**
 * Publishing through one statement at a time: events published while one is in flight are sent
 * together in the next (one round trip for a whole storm of revocations, in publish order), where one
 * statement per event queued 200 statements on two connections for 100 revocations in a second. (The
 * benchmark's load phase showed no measurable change in the cut from this: that queue was not what
 * delayed it; it is kept as fewer statements for the same effect.)
 * Each caller's promise settles with the statement that carried its payloads. A statement without an
 * answer after `timeoutMs` fails its callers (publish-retry.ts tries again) and the next one goes out
 * meanwhile (on another of the pool's connections), so a dead connection holds nothing up.
 */
export function coalescingNotifier(send: (payloads: string[]) => Promise<unknown>, timeoutMs = 5000): (payloads: string[]) => Promise<void> {
  const queue: { payloads: string[]; settle: (err?: unknown) => void }[] = [];
  let sending = false;
  const pump = (): void => {
    if (sending || !queue.length) return;
    const batch: typeof queue = [];
    let size = 0;
    while (queue.length && (size === 0 || size + queue[0]!.payloads.length <= MAX_BATCH)) {
      const next = queue.shift()!;
      batch.push(next);
      size += next.payloads.length;
    }
    sending = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`NOTIFY not answered within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    Promise.race([send(batch.flatMap((b) => b.payloads)), late]).then(
      () => batch.forEach((b) => b.settle()),
      (err: unknown) => batch.forEach((b) => b.settle(err ?? new Error('NOTIFY failed'))),
    ).finally(() => {
      clearTimeout(timer);
      sending = false;
      pump();
    });
  };
  return (payloads) => new Promise<void>((resolve, reject) => {
    queue.push({ payloads, settle: (err) => (err === undefined ? resolve() : reject(err)) });
    pump();
  });
}

export function createPgBus(opts: PgBusOptions): ClosableBus {
  const channel = opts.channel ?? PG_REVOCATION_CHANNEL;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid channel name: ${channel}`);
  const log = opts.logger.child({ component: 'revocation-bus', backend: 'postgres', channel });
  const subscribers = createSubscribers(log);
  const pool = opts.pool ?? createPool(opts.databaseUrl, 2);
  let listener: pg.Client | undefined;
  let ready: Promise<void> | undefined;
  let closed = false;

  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: opts.databaseUrl, keepAlive: true, application_name: 'portcullis-bus' });
    client.on('notification', (msg) => {
      if (msg.channel === channel) subscribers.deliver(msg.payload ?? '');
    });
    client.on('error', (err) => dropped(client, err));
    client.on('end', () => dropped(client));
    try {
      await client.connect();
      await client.query(`LISTEN "${channel}"`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await client.end().catch(() => undefined);
      return;
    }
    listener = client;
  }

  function dropped(client: pg.Client, err?: Error): void {
    if (client !== listener) return;
    listener = undefined;
    client.end().catch(() => undefined);
    if (closed) return;
    // the database closing our connection on purpose is no fault: on Ctrl-C the embedded PostgreSQL gets the
    // signal with the broker and shuts down before the broker's stop reaches this bus
    const byDatabase = closedByDatabase(err);
    if (byDatabase) log.info({ code: byDatabase }, 'revocation listener closed by the database (shutting down or terminated); reconnecting');
    else log.warn({ err }, 'revocation listener connection lost; reconnecting');
    ready = reconnect(byDatabase !== null);
    ready.catch(() => undefined);
  }

  async function reconnect(databaseStopping: boolean): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5000)).unref());
      if (closed) break;
      try {
        await listen();
        log.info({ attempt }, 'revocation listener reconnected');
        subscribers.resubscribed();
        return;
      } catch (err) {
        // a database that is going down refuses for a moment: only a longer outage is worth a warning
        if (databaseStopping && attempt < QUIET_RECONNECT_ATTEMPTS) log.info({ err, attempt }, 'revocation listener reconnect failed');
        else log.warn({ err, attempt }, 'revocation listener reconnect failed');
      }
    }
    throw new Error('revocation bus closed');
  }

  function ensureListening(): Promise<void> {
    // the first connection's failure goes to the caller; later drops are retried in the background
    ready ??= listen().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  }

  const notify = coalescingNotifier((payloads) => pool.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [channel, payloads]));

  return {
    publish: (event) => notify(splitForNotify(event).map((e) => JSON.stringify(e))),
    async subscribe(handler, subscribeOpts) {
      const remove = subscribers.add(handler, subscribeOpts);
      try {
        await ensureListening();
      } catch (err) {
        remove();
        throw err;
      }
      return async () => remove();
    },
    async close() {
      closed = true;
      const client = listener;
      listener = undefined;
      await client?.end().catch(() => undefined);
      if (!opts.pool) await pool.end();
    },
  };
}
