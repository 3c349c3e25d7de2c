/** The revocation bus on Redis pub/sub and on PostgreSQL LISTEN/NOTIFY: one suite, both transports. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import type { RevocationEvent } from '../../server/core/workflow-ports.js';
import { createRevocationBus, type RevocationBusHandle } from '../../server/bus/create-bus.js';
import { createPgBus } from '../../server/bus/pg-bus.js';
import { createLogger } from '../../server/logger.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger('silent');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Publishes a raw string on the channel, bypassing the bus (what a buggy or hostile publisher could send). */
async function publishRawRedis(channel: string, payloads: string[]) {
  const r = new Redis(redisUrl);
  try {
    for (const p of payloads) await r.publish(channel, p);
  } finally {
    await r.quit();
  }
}
async function publishRawPg(channel: string, payloads: string[]) {
  const c = new pg.Client({ connectionString: inject('databaseUrl') });
  await c.connect();
  try {
    for (const p of payloads) await c.query('SELECT pg_notify($1, $2)', [channel, p]);
  } finally {
    await c.end();
  }
}

describe.each([
  ['redis', { redisUrl }, publishRawRedis],
  ['postgres', {}, publishRawPg],
] as const)('revocation bus on %s', (name, backend, publishRaw) => {
  const buses: RevocationBusHandle[] = [];
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });

  function channelForTest() {
    return `portcullis_test_${randomBytes(5).toString('hex')}`;
  }
  function openBus(channel: string) {
    const bus = createRevocationBus({ ...backend, databaseUrl: inject('databaseUrl'), logger, channel });
    buses.push(bus);
    return bus;
  }
  async function collect(bus: RevocationBusHandle) {
    const received: { event: RevocationEvent; at: number }[] = [];
    const unsubscribe = await bus.subscribe((event) => received.push({ event, at: Date.now() }));
    return { received, unsubscribe, events: () => received.map((r) => r.event) };
  }

  it('uses the expected backend', () => {
    expect(openBus(channelForTest()).backendName).toBe(name);
  });

  it('delivers a published event to every subscribed process within a second', async () => {
    const channel = channelForTest();
    const [proxyA, proxyB, broker] = [openBus(channel), openBus(channel), openBus(channel)];
    const a = await collect(proxyA);
    const b = await collect(proxyB);
    const event: RevocationEvent = { type: 'grant.ended', grantIds: ['g-1', 'g-2'], reason: 'revoked', message: 'revoked by Dr. Ng' };
    const sent = Date.now();
    await broker.publish(event);
    await vi.waitFor(() => {
      expect(a.events()).toEqual([event]);
      expect(b.events()).toEqual([event]);
    }, { timeout: 3000, interval: 5 });
    expect(a.received[0].at - sent).toBeLessThan(1000);
    expect(b.received[0].at - sent).toBeLessThan(1000);
  });

  it('delivers every event kind, including to a subscriber on the publishing bus', async () => {
    const bus = openBus(channelForTest());
    const s = await collect(bus);
    const events: RevocationEvent[] = [
      { type: 'grant.extended', grantId: 'g-3', endsAt: new Date().toISOString() },
      { type: 'session.terminate', sessionId: 's-1', message: 'terminated by an administrator' },
    ];
    for (const e of events) await bus.publish(e);
    await vi.waitFor(() => expect(s.events()).toEqual(events), { timeout: 3000, interval: 10 });
  });

  it('stops delivering to a handler once it unsubscribes', async () => {
    const channel = channelForTest();
    const [proxy, broker] = [openBus(channel), openBus(channel)];
    const gone = await collect(proxy);
    const stays = await collect(proxy);
    await gone.unsubscribe();
    const event: RevocationEvent = { type: 'session.terminate', sessionId: 's-2', message: 'bye' };
    await broker.publish(event);
    await vi.waitFor(() => expect(stays.events()).toEqual([event]), { timeout: 3000, interval: 10 });
    await sleep(100);
    expect(gone.events()).toEqual([]);
  });

  it('delivers all 2000 grant ids of a large grant.ended', async () => {
    const channel = channelForTest();
    const [proxy, broker] = [openBus(channel), openBus(channel)];
    const s = await collect(proxy);
    const grantIds = Array.from({ length: 2000 }, () => crypto.randomUUID());
    await broker.publish({ type: 'grant.ended', grantIds, reason: 'expired', message: 'window over' });
    const seen = () => s.events().flatMap((e) => (e.type === 'grant.ended' ? e.grantIds : []));
    await vi.waitFor(() => expect(seen()).toHaveLength(2000), { timeout: 5000, interval: 20 });
    expect(new Set(seen())).toEqual(new Set(grantIds));
    for (const e of s.events()) expect(e).toMatchObject({ type: 'grant.ended', reason: 'expired', message: 'window over' });
    if (name === 'postgres') expect(s.events().length).toBeGreaterThan(1);
  });

  it('ignores malformed payloads on the channel and keeps delivering', async () => {
    const channel = channelForTest();
    const [proxy, broker] = [openBus(channel), openBus(channel)];
    const s = await collect(proxy);
    await publishRaw(channel, ['not json', '{"type":"grant.ended"}', '{"type":"nope"}', 'null', '[1,2]', '']);
    const event: RevocationEvent = { type: 'grant.extended', grantId: 'g-4', endsAt: new Date().toISOString() };
    await broker.publish(event);
    await vi.waitFor(() => expect(s.events()).toEqual([event]), { timeout: 3000, interval: 10 });
  });
});

describe('revocation bus on postgres, connection loss', () => {
  it('listens again after its LISTEN connection is killed', async () => {
    const databaseUrl = inject('databaseUrl');
    const channel = `portcullis_test_${randomBytes(5).toString('hex')}`;
    const proxy = createRevocationBus({ databaseUrl, logger, channel });
    const broker = createRevocationBus({ databaseUrl, logger, channel });
    const admin = new pg.Client({ connectionString: databaseUrl });
    try {
      const received: RevocationEvent[] = [];
      await proxy.subscribe((e) => received.push(e));
      await admin.connect();
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
        [`LISTEN "${channel}"`],
      );
      expect(killed.rowCount).toBe(1);
      const event: RevocationEvent = { type: 'session.terminate', sessionId: 's-5', message: 'after reconnect' };
      // notifications sent while the listener is down are lost by design: keep publishing until one lands
      await vi.waitFor(async () => {
        await broker.publish(event);
        expect(received.length).toBeGreaterThan(0);
      }, { timeout: 10_000, interval: 200 });
      expect(received[0]).toEqual(event);
    } finally {
      await admin.end().catch(() => undefined);
      await Promise.all([proxy.close(), broker.close()]);
    }
  });
});

// Regression (issue 17, revocation storm): each publication was its own NOTIFY statement through a
// pool of two connections, so a storm's last cut waited behind every earlier one's round trip.
describe('revocation bus on postgres, a storm of publications', () => {
  it('sends what piles up during one statement together in the next, and delivers every event in publish order', async () => {
    const databaseUrl = inject('databaseUrl');
    const channel = `portcullis_test_${randomBytes(5).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    let statements = 0;
    const counting = Object.assign(Object.create(pool) as pg.Pool, {
      query: (...args: Parameters<pg.Pool['query']>) => {
        statements++;
        return (pool.query as (...a: unknown[]) => unknown)(...args);
      },
    });
    const proxy = createPgBus({ databaseUrl, logger, channel });
    const api = createPgBus({ databaseUrl, logger, channel, pool: counting });
    try {
      const received: RevocationEvent[] = [];
      await proxy.subscribe((e) => received.push(e));
      const events: RevocationEvent[] = Array.from({ length: 200 }, (_, i) => ({ type: 'grant.ended', grantIds: [`g-${i}`], reason: 'revoked', message: `storm ${i}` }));
      await Promise.all(events.map((e) => api.publish(e)));
      expect(statements).toBeLessThanOrEqual(3);
      await vi.waitFor(() => expect(received).toHaveLength(200), { timeout: 5000, interval: 20 });
      expect(received).toEqual(events);
    } finally {
      await Promise.all([proxy.close(), api.close()]);
      await pool.end();
    }
  });
});
