/**
 * Issue 10 (SPEC §8.1), SSH before authentication, against real processes: the proxy in its own OS
 * process, the API and the BullMQ worker (on Redis) in this one, OpenSSH and ssh2 clients. Idle and
 * stalled connections are closed at the deadline, the seventh attempt on a connection is
 * disconnected, the eleventh unauthenticated connection from one address is refused, and a burst of
 * bad certificates costs a couple of audit rows (with the right count), not one per attempt, while an
 * approval and a revocation cut complete in the middle of it.
 *
 * PREAUTH_BURST sets the burst size (default 1000).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { certificateKey } from '../../proxy/ssh2-cert-auth.js';
import {
  E2E_ENV, REDIS_URL, certify, grantFor, killStrays, makeWorld, metricValue, newKey, spawnSsh, sshArgs, startE2E,
  startProxyProcess, uniq, type E2E, type KeyPair, type ProxyProcess,
} from '../support/ssh-e2e.js';

const BURST = Number(process.env.PREAUTH_BURST ?? 1000);
/** as every proxy in this file runs: like production, one refusal event per address and minute */
const PROXY_ENV = { ...E2E_ENV, REDIS_URL, SSH_AUTH_AUDIT_WINDOW_SECONDS: '60' };

interface Offered { offered: number; outcome: string }

/**
 * One ssh2 connection offering `key` (a certificate) up to `attempts` times as `username`; each offer is
 * refused by the proxy before the next is made. Resolves how many offers were made and how it ended.
 */
function offerRepeatedly(port: number, username: string, key: ssh2.ParsedKey, attempts: number): Promise<Offered> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    let offered = 0;
    let outcome: string | null = null;
    c.on('ready', () => {
      outcome = 'accepted';
      c.end();
    });
    c.on('error', (err) => void (outcome ??= err.message));
    c.on('close', () => resolve({ offered, outcome: outcome ?? 'closed by the server' }));
    c.connect({
      host: '127.0.0.1', port, username, readyTimeout: 30_000, hostVerifier: () => true,
      authHandler: (_methods, _partial, next) => {
        if (offered >= attempts) return next(false as unknown as ssh2.AuthenticationType);
        offered++;
        next({ type: 'publickey', username, key });
      },
    });
  });
}

/** A raw TCP connection to the proxy: what it received, and whether it is closed. */
function rawConnection(port: number, send?: string) {
  const socket = net.connect(port, '127.0.0.1');
  const state = { received: '', closed: false, socket };
  socket.on('data', (d) => void (state.received += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => void (state.closed = true));
  if (send) socket.write(send);
  return state;
}

/** A raw connection once the proxy has either greeted it (its version line) or closed it. */
async function answeredConnection(port: number): Promise<ReturnType<typeof rawConnection>> {
  const c = rawConnection(port);
  await expect.poll(() => c.closed || c.received.length > 0, { timeout: 5000, interval: 20 }).toBe(true);
  return c;
}

describe('SSH pre-authentication limits (proxy in its own process)', () => {
  let e: E2E;
  const proxies: ProxyProcess[] = [];

  beforeAll(async () => {
    e = await startE2E('split-redis', { SSH_AUTH_AUDIT_WINDOW_SECONDS: '60' });
  }, 120_000);
  afterEach(() => killStrays());
  afterAll(async () => {
    for (const p of proxies) await p.stop();
    await e?.stop();
  });

  /** A key with a certificate for `principal` from a CA that is not the broker's: every offer of it is refused. */
  function badCertificate(principal: string): ssh2.ParsedKey {
    const otherCa = newKey(e);
    const key = newKey(e);
    execFileSync('ssh-keygen', ['-q', '-s', otherCa.path, '-I', uniq('bad'), '-n', principal, '-V', '-5m:+1h', `${key.path}.pub`]);
    return certificateKey(key.privateKey, readFileSync(key.certPath, 'utf8'));
  }

  /** Audit rows `session.auth_failed` for `principal` after `seq`. */
  async function refusalRows(principal: string, afterSeq: number): Promise<{ seq: number; details: Record<string, any> }[]> {
    const { rows } = await e.broker.pool.query(
      `SELECT seq::int, details FROM audit_events WHERE action = 'session.auth_failed' AND seq > $1 AND details ->> 'principal' = $2 ORDER BY seq`,
      [afterSeq, principal],
    );
    return rows;
  }
  const headSeq = async () => (await e.broker.pool.query(`SELECT coalesce(max(seq), 0)::int AS s FROM audit_events`)).rows[0].s as number;

  it('closes connections that have not authenticated by SSH_AUTH_TIMEOUT_SECONDS, and only those', async () => {
    const proxy = await startProxyProcess(e.broker, { ...PROXY_ENV, SSH_AUTH_TIMEOUT_SECONDS: '2' });
    proxies.push(proxy);
    const metricsUrl = `http://127.0.0.1:${proxy.httpPort}`;
    const w = await makeWorld(e);
    const timeoutsBefore = await metricValue(metricsUrl, 'portcullis_proxy_preauth_refused_total', 'reason="timeout"');

    // a technician who authenticated stays, well past the deadline
    const grant = await grantFor(w);
    const key: KeyPair = newKey(e);
    await certify(w, grant, key);
    const session = spawnSsh([...sshArgs({ ...e, sshPort: proxy.port }, key, w.device.name), 'echo READY; sleep 3; echo STILL-HERE']);
    await session.waitForOutput(/READY/, 15_000);

    const silent = rawConnection(proxy.port);
    const identOnly = rawConnection(proxy.port, 'SSH-2.0-OpenSSH_9.2\r\n');
    // one that completes the key exchange and then never answers the authentication prompt
    let stalledClosed = false;
    let stalledAsked = false;
    const stalled = new ssh2.Client();
    stalled.on('error', () => undefined);
    stalled.on('close', () => void (stalledClosed = true));
    stalled.connect({
      host: '127.0.0.1', port: proxy.port, username: w.device.name, readyTimeout: 60_000, hostVerifier: () => true,
      authHandler: () => void (stalledAsked = true),
    });
    await expect.poll(() => stalledAsked && silent.received.startsWith('SSH-2.0-Portcullis'), { timeout: 10_000 }).toBe(true);

    await expect.poll(() => [silent.closed, identOnly.closed, stalledClosed], { timeout: 15_000, interval: 100 }).toEqual([true, true, true]);
    await session.waitForOutput(/STILL-HERE/, 15_000);
    expect((await session.waitExit(10_000)).code).toBe(0);
    expect(await metricValue(metricsUrl, 'portcullis_proxy_preauth_refused_total', 'reason="timeout"')).toBe(timeoutsBefore + 3);
  });

  it('disconnects the seventh authentication attempt on one connection', async () => {
    const badPrincipal = uniq('dev').toLowerCase();
    const badKey = badCertificate(badPrincipal);
    const before = await metricValue(e.proxyHttpUrl, 'portcullis_proxy_preauth_refused_total', 'reason="too_many_attempts"');
    const r = await offerRepeatedly(e.sshPort, badPrincipal, badKey, 20);
    expect(r.offered).toBe(7);
    expect(r.outcome).not.toMatch(/authentication methods failed/);
    expect(await metricValue(e.proxyHttpUrl, 'portcullis_proxy_preauth_refused_total', 'reason="too_many_attempts"')).toBe(before + 1);
    // six refusals then the client's own end: no limit involved
    const six = await offerRepeatedly(e.sshPort, badPrincipal, badKey, 6);
    expect(six).toEqual({ offered: 6, outcome: 'All configured authentication methods failed' });
  });

  it('refuses the eleventh unauthenticated connection from one address at once, before any handshake', async () => {
    const held = Array.from({ length: 10 }, () => rawConnection(e.sshPort));
    try {
      // each of the ten was taken: the proxy sent its version line
      await expect.poll(() => held.every((c) => c.received.startsWith('SSH-2.0-')), { timeout: 10_000 }).toBe(true);
      const eleventh = rawConnection(e.sshPort, 'SSH-2.0-OpenSSH_9.2\r\n');
      await expect.poll(() => eleventh.closed, { timeout: 10_000 }).toBe(true);
      expect(eleventh.received).toBe('');
      expect(await metricValue(e.proxyHttpUrl, 'portcullis_proxy_preauth_refused_total', 'reason="too_many_unauthenticated"')).toBeGreaterThanOrEqual(1);
      // one of the ten goes: there is room for one more (once the proxy has seen it close)
      held.pop()!.socket.destroy();
      await expect.poll(async () => {
        const next = await answeredConnection(e.sshPort);
        held.push(next);
        return next.received.startsWith('SSH-2.0-');
      }, { timeout: 10_000, interval: 100 }).toBe(true);
    } finally {
      for (const c of held) c.socket.destroy();
    }
  });

  it(`a burst of ${BURST} bad certificates: an approval and a revocation cut complete during it; a couple of audit rows with the right count`, async () => {
    // its own proxy process: its refusal windows start empty, and stopping it flushes what it holds
    const proxy = await startProxyProcess(e.broker, PROXY_ENV);
    proxies.push(proxy);
    const port = proxy.port;
    const badPrincipal = uniq('dev').toLowerCase();
    const badKey = badCertificate(badPrincipal);
    const w = await makeWorld(e);
    // a live session to cut, and a request to approve, both on the real API, BullMQ worker and bus
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const live = spawnSsh([...sshArgs({ ...e, sshPort: port }, key, w.device.name), 'echo READY; exec sleep 120']);
    await live.waitForOutput(/READY/, 15_000);
    const other = await makeWorld(e);
    const request = await e.broker.api.ok('POST', '/api/access-requests', other.tech.token, { deviceId: other.device.id, reason: 'during the burst', ticketRef: uniq('CHG'), durationMinutes: 30 });
    const baseline = await headSeq();

    let refused = 0;
    let started = 0;
    let finished = false;
    const outcomes = new Set<string>();
    const worker = async () => {
      while (started < BURST) {
        const n = Math.min(6, BURST - started);
        started += n;
        const r = await offerRepeatedly(port, badPrincipal, badKey, n);
        refused += r.offered;
        outcomes.add(r.outcome);
      }
    };
    const burst = Promise.all(Array.from({ length: 4 }, worker)).then(() => void (finished = true));

    await expect.poll(() => refused, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(Math.min(100, BURST / 4));
    const approved = await e.broker.api.ok('POST', `/api/access-requests/${request.id}/approve`, other.approver.token, { comment: 'ok' });
    expect(approved.grant?.status).toBe('active');
    const approvedWhileRunning = !finished;
    await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'cut during the burst' });
    await live.waitExit(15_000);
    expect(live.output).toMatch(/access revoked/);
    const cutWhileRunning = !finished;
    const rowsWhileRunning = (await refusalRows(badPrincipal, baseline)).length;
    await burst;

    expect({ approvedWhileRunning, cutWhileRunning }).toEqual({ approvedWhileRunning: true, cutWhileRunning: true });
    expect([...outcomes]).toEqual(['All configured authentication methods failed']);
    expect(refused).toBe(BURST);
    expect(rowsWhileRunning).toBeLessThanOrEqual(3);

    // stopping the proxy writes the refusals it still holds: all of them are counted, in a couple of rows
    await proxy.stop();
    const rows = await refusalRows(badPrincipal, baseline);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeLessThanOrEqual(3);
    expect(rows.reduce((sum, r) => sum + r.details.count, 0)).toBe(BURST);
    expect(rows[0]!.details).toMatchObject({ count: 1, clientAddress: '127.0.0.1', reason: 'unknown certificate authority' });
    expect(rows.at(-1)!.details.reasons).toEqual({ 'unknown certificate authority': rows.at(-1)!.details.count });
  });
});
