/**
 * SIEM streaming to Splunk's HTTP Event Collector (§8.7), against a local HTTP stand-in: events go in
 * batches with the token, in seq order, each once; while the collector answers 503 nothing is lost and
 * the loop backs off; the lag and failures are on /metrics.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSiemStreaming } from '../../server/siem/start-siem.js';
import { hecSink } from '../../server/siem/sinks.js';
import { createTestDatabase } from '../support/databases.js';
import { createVendor, type Auth } from '../support/fixtures.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';

interface HecEvent { time: number; sourcetype: string; event: Record<string, unknown>; fields: { seq: number } }

describe('SIEM streaming to Splunk HEC', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let h: Harness;
  let admin: Auth;
  let server: http.Server;
  let url: string;
  let failing = false;
  const posts: { auth: string | undefined; events: HecEvent[] }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    h = await startHarness({ databaseUrl: db.url });
    admin = (await makeUser(h, ['admin'])).auth;
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (failing) {
          res.writeHead(503).end('{"text":"Server is busy","code":9}');
          return;
        }
        posts.push({ auth: req.headers.authorization, events: body.split('\n').map((l) => JSON.parse(l) as HecEvent) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/collector/event`;
  });
  afterAll(async () => {
    server?.close();
    await h?.close();
    await db?.drop();
  });

  it('batches every event once, in order, with the token, and retries through a 503 outage', async () => {
    for (let i = 0; i < 5; i++) await createVendor(h, admin);
    const siem = startSiemStreaming(
      { pool: h.pool, logger: pino({ level: 'silent' }), registry: h.deps.metrics },
      [hecSink({ url, token: 'hec-token-1' }, { format: 'ocsf', productVersion: '1.2.3' })],
      { pollMs: 50, minBackoffMs: 50, maxBackoffMs: 300, batchSize: 4 },
    );
    try {
      const head = async () => (await h.pool.query('SELECT max(seq)::int AS s FROM audit_events')).rows[0].s as number;
      const delivered = () => posts.flatMap((p) => p.events.map((e) => e.fields.seq));
      const waitAll = async () => {
        const want = await head();
        const deadline = Date.now() + 10_000;
        while (delivered().at(-1) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(delivered()).toEqual(Array.from({ length: want }, (_, i) => i + 1));
      };
      await waitAll();
      expect(posts.every((p) => p.auth === 'Splunk hec-token-1')).toBe(true);
      expect(posts.length).toBeLessThan(delivered().length);
      expect(posts.every((p) => p.events.length <= 4)).toBe(true);
      const created = posts.flatMap((p) => p.events).find((e) => (e.event.metadata as { event_code: string }).event_code === 'vendor.created')!;
      expect(created.sourcetype).toBe('portcullis:audit:ocsf');
      expect(created.event).toMatchObject({ class_uid: 3004, activity_id: 1, type_uid: 300401, status_id: 1, category_uid: 3 });

      failing = true;
      for (let i = 0; i < 3; i++) await createVendor(h, admin);
      const deadline = Date.now() + 10_000;
      while (siem.loops[0]!.failures() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const metrics = await h.deps.metrics.metrics();
      expect(metrics).toMatch(/portcullis_siem_lag_events\{sink="hec"\} [1-9]/);
      expect(metrics).toMatch(/portcullis_siem_delivery_failures_total\{sink="hec"\} [1-9]/);
      failing = false;
      await waitAll();
      await siem.loops[0]!.idle();
      expect(await h.deps.metrics.metrics()).toMatch(/portcullis_siem_lag_events\{sink="hec"\} 0/);
    } finally {
      await siem.close();
    }
  });
});

describe('SIEM streaming in the broker (worker role, configured by the environment)', () => {
  it('delivers through SIEM_HEC_URL in the SIEM_FORMAT and shows the sink on /metrics', async () => {
    const received: Record<string, unknown>[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.headers.authorization === 'Splunk broker-token') for (const l of body.split('\n')) received.push(JSON.parse(l) as Record<string, unknown>);
        res.writeHead(req.headers.authorization === 'Splunk broker-token' ? 200 : 403).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { startTestBroker } = await import('../support/test-broker.js');
    const broker = await startTestBroker({
      SIEM_HEC_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/collector/event`,
      SIEM_HEC_TOKEN: 'broker-token', SIEM_FORMAT: 'json',
    });
    try {
      const appended = await broker.deps.store.transaction(async (tx) => {
        await tx.audit.append(
          { actorType: 'system', actorId: 'siem-test', action: 'system.siem_probe', subjectType: null, subjectId: null, details: { probe: true } }, new Date(),
        );
        return (await tx.audit.list({ actorId: 'siem-test', action: 'system.siem_probe', limit: 1_000_000 })).at(-1)!;
      });
      const deadline = Date.now() + 20_000;
      const probe = () => received.find((e) => (e.fields as { seq: number }).seq === appended.seq);
      while (!probe() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(probe()?.event).toMatchObject({ seq: appended.seq, action: 'system.siem_probe', hash: appended.hash, details: { probe: true } });
      const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/portcullis_siem_lag_events\{sink="hec"\} \d+/);
    } finally {
      await broker.stop();
      server.close();
    }
  });
});
