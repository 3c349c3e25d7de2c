/**
 * SIEM streaming (§8.7) to a real rsyslogd over TCP (RFC 5424, octet-counted): every audit event
 * arrives exactly once, in seq order, as parseable CEF with the device's identity — also across a
 * restart of the delivery loop (it resumes from its cursor) and an outage of the receiver (retried
 * with backoff until it is back; nothing lost). The same over TLS with a test CA (rsyslog's gtls).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCef } from '../../server/siem/cef.js';
import { startDeliveryLoop, type DeliveryLoop } from '../../server/siem/delivery.js';
import { syslogSink } from '../../server/siem/sinks.js';
import { createTestDatabase } from '../support/databases.js';
import { createVendor, deployedDevice, type Auth } from '../support/fixtures.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';
import { startRsyslog, type Rsyslog } from '../support/rsyslog.js';

const quiet = pino({ level: 'silent' });
const fast = { pollMs: 50, minBackoffMs: 50, maxBackoffMs: 400, batchSize: 7 };

interface Received { seq: number; header: string[]; ext: Record<string, string>; pri: string; msgid: string }

/** `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG` → the CEF message, parsed. */
function parseLine(line: string): Received {
  const m = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$/.exec(line);
  if (!m) throw new Error(`not an RFC 5424 message: ${line}`);
  const { header, ext } = parseCef(m[8]!);
  return { seq: Number(ext.externalId), header, ext, pri: m[1]!, msgid: m[6]! };
}

async function headSeq(h: Harness): Promise<number> {
  return (await h.pool.query('SELECT max(seq)::int AS s FROM audit_events')).rows[0].s as number;
}

async function waitForAll(h: Harness, rs: Rsyslog, timeoutMs = 15_000): Promise<Received[]> {
  const head = await headSeq(h);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = rs.lines().map(parseLine);
    if (got.length > 0 && got[got.length - 1]!.seq >= head) return got;
    if (Date.now() > deadline) throw new Error(`only ${got.length} of ${head} events arrived`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function expectEachOnceInOrder(got: Received[], head: number): void {
  expect(got.map((g) => g.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
}

describe('SIEM streaming to rsyslog (RFC 5424 over TCP, CEF)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let h: Harness;
  let rs: Rsyslog;
  let admin: Auth;
  let loop: DeliveryLoop | undefined;
  const sink = () => syslogSink({ protocol: 'tcp', host: '127.0.0.1', port: rs.port }, { format: 'cef', productVersion: '9.9.9', hostname: 'broker-test' });

  beforeAll(async () => {
    db = await createTestDatabase();
    h = await startHarness({ databaseUrl: db.url });
    rs = await startRsyslog();
    admin = (await makeUser(h, ['admin'])).auth;
  });
  afterAll(async () => {
    await loop?.close();
    await rs?.close();
    await h?.close();
    await db?.drop();
  });

  it('delivers each event once, in order, as CEF with the device identity; resumes after a restart and survives an outage', async () => {
    const vendor = await createVendor(h, admin);
    const device = await deployedDevice(h, admin, { vendorIds: [vendor.id], serialNumber: 'SN-7|x=1\\y', manufacturer: 'Acme Medical' });
    loop = startDeliveryLoop(h.pool, sink(), quiet, fast);
    let got = await waitForAll(h, rs);
    expectEachOnceInOrder(got, await headSeq(h));

    // CEF header and extension keys, escaping, and the device's identity on a device event
    const enrolled = got.find((g) => g.ext.act === 'device.enrolled' || (g.ext.act?.startsWith('device.') && g.ext.dvchost === device.name))!;
    expect(enrolled.header.slice(0, 4)).toEqual(['CEF:0', 'Portcullis', 'Portcullis', '9.9.9']);
    expect(enrolled.header[4]).toBe(enrolled.ext.act);
    expect(enrolled.msgid).toBe(enrolled.ext.act);
    expect(enrolled.ext).toMatchObject({
      dvchost: device.name, cs1: 'Acme Medical', cs1Label: 'deviceManufacturer', cs2Label: 'deviceModel',
      cs3: 'SN-7|x=1\\y', cs3Label: 'deviceSerial', cs4: device.department, cs4Label: 'deviceDepartment',
      outcome: 'success', deviceExternalId: device.id,
    });
    expect(enrolled.ext.suser).toMatch(/^admin-/);
    const stored = (await h.pool.query('SELECT hash, at FROM audit_events WHERE seq = $1', [enrolled.seq])).rows[0];
    expect(enrolled.ext.cs6).toBe(stored.hash);
    expect(Number(enrolled.ext.rt)).toBe(stored.at.getTime());
    expect(JSON.parse(enrolled.ext.msg!)).toBeTypeOf('object');

    // restart: stop the loop, write events, start a new loop from the cursor
    await loop.close();
    loop = undefined;
    for (let i = 0; i < 3; i++) await createVendor(h, admin);
    loop = startDeliveryLoop(h.pool, sink(), quiet, fast);
    got = await waitForAll(h, rs);
    expectEachOnceInOrder(got, await headSeq(h));

    // outage: the receiver goes away, events keep coming; all of them arrive once it is back
    await rs.stop();
    for (let i = 0; i < 10; i++) await createVendor(h, admin);
    const deadline = Date.now() + 10_000;
    while (loop.failures() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(loop.failures()).toBeGreaterThanOrEqual(2);
    expect(loop.lag()).toBeGreaterThan(0);
    const cursor = (await h.pool.query("SELECT failures, last_error FROM siem_cursors WHERE sink = 'syslog'")).rows[0];
    expect(Number(cursor.failures)).toBeGreaterThanOrEqual(2);
    expect(cursor.last_error).toMatch(/ECONNREFUSED|closed/);
    await rs.start();
    got = await waitForAll(h, rs);
    expectEachOnceInOrder(got, await headSeq(h));
    await loop.idle();
    expect(loop.lag()).toBe(0);
    // the sink's state for people: delivered to the head, the outage's failures and last error kept
    const auditor = (await makeUser(h, ['auditor'])).auth;
    const sinks = (await h.http.get('/api/siem/sinks').set(auditor).expect(200)).body.items;
    expect(sinks).toEqual([expect.objectContaining({ sink: 'syslog', lag: 0, lastSeq: await headSeq(h), lastError: expect.stringMatching(/ECONNREFUSED|closed/) })]);
    expect(sinks[0].failures).toBeGreaterThanOrEqual(2);
  });

  it('lets only one worker deliver per sink', async () => {
    // two loops on the same sink and cursor: the row lock makes them take turns, never send a batch twice
    await loop?.close();
    const before = rs.lines().length;
    const a = startDeliveryLoop(h.pool, sink(), quiet, fast);
    const b = startDeliveryLoop(h.pool, sink(), quiet, fast);
    try {
      for (let i = 0; i < 6; i++) await createVendor(h, admin);
      const got = await waitForAll(h, rs);
      expect(got.length).toBeGreaterThan(before);
      // each once; the order across two workers' connections is the receiver's (one worker keeps it)
      const seqs = got.map((g) => g.seq).sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: await headSeq(h) }, (_, i) => i + 1));
    } finally {
      await a.close();
      await b.close();
      loop = undefined;
    }
  });
});

/** A throw-away CA and a server certificate for 127.0.0.1, made by openssl. */
function testPki(dir: string): { caFile: string; certFile: string; keyFile: string; otherCaFile: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Portcullis test SIEM CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=Someone else');
  return { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key'), otherCaFile: path.join(dir, 'other.pem') };
}

describe('SIEM streaming to rsyslog over TLS (gtls, test CA)', () => {
  it('delivers every event once over TLS and refuses a receiver its CA did not sign', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-siem-tls-'));
    const db = await createTestDatabase();
    const h = await startHarness({ databaseUrl: db.url });
    const pki = testPki(dir);
    const rs = await startRsyslog({ tls: pki });
    const loops: DeliveryLoop[] = [];
    try {
      const admin = (await makeUser(h, ['admin'])).auth;
      for (let i = 0; i < 3; i++) await createVendor(h, admin);
      const target = { protocol: 'tls' as const, host: '127.0.0.1', port: rs.port };
      // a CA that did not sign the receiver: nothing goes, the failures count
      const wrong = startDeliveryLoop(h.pool, syslogSink({ ...target, ca: fs.readFileSync(pki.otherCaFile, 'utf8') }, { format: 'cef', productVersion: '1' }, 'syslog-wrong-ca'), quiet, fast);
      loops.push(wrong);
      const deadline = Date.now() + 10_000;
      while (wrong.failures() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(wrong.failures()).toBeGreaterThanOrEqual(1);
      await wrong.close();
      loops.pop();
      expect(rs.lines()).toEqual([]);

      const right = startDeliveryLoop(h.pool, syslogSink({ ...target, ca: fs.readFileSync(pki.caFile, 'utf8') }, { format: 'cef', productVersion: '1' }), quiet, fast);
      loops.push(right);
      const got = await waitForAll(h, rs);
      expectEachOnceInOrder(got, await headSeq(h));
    } finally {
      for (const l of loops) await l.close();
      await rs.close();
      await h.close();
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
