/**
 * SSH_MAX_CONNECTIONS_PER_GRANT with the real OpenSSH client and the browser terminal's WebSocket: a
 * grant holding its limit of connections through the proxy gets no more, over SSH or in the browser —
 * the technician is told why, the refusal is audited and counted — and once one of them closes, the next
 * connection is let in. Another technician's grant is unaffected.
 */
import net from 'node:net';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { certificateKey } from '../../proxy/ssh2-cert-auth.js';
import { GrantConnections } from '../../proxy/grant-connections.js';
import {
  awaitAudit, certify, grantFor, makeWorld, metricValue, newKey, runSsh, sessionsOf, spawnSsh, sshArgs, useE2E, type E2E,
} from '../support/ssh-e2e.js';

/**
 * A client that sends its signed certificate authentication and leaves at once, while the proxy is still
 * checking the grant in the database: resolves once its socket has closed.
 */
function abandonAuthentication(e: E2E, username: string, certLine: string, privateKey: string): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(e.sshPort, '127.0.0.1');
    sock.on('close', () => resolve());
    const c = new ssh2.Client();
    c.on('error', () => undefined);
    c.connect({
      sock, username, readyTimeout: 10_000, hostVerifier: () => true,
      authHandler: [{ type: 'publickey', username, key: certificateKey(privateKey, certLine) } as ssh2.PublicKeyAuthMethod],
      debug: (msg: string) => {
        // the signed request goes out in the same turn as the server's PK_OK is handled
        if (msg === 'Inbound: Received USERAUTH_PK_OK') setImmediate(() => sock.destroy());
      },
    });
  });
}

/** A technician's world with a grant and a certified key. */
async function certifiedGrant(e: E2E) {
  const w = await makeWorld(e);
  const grant = await grantFor(w, 30);
  const key = newKey(e);
  const { certificate } = await certify(w, grant, key);
  return { w, grant, key, certificate };
}

/** Two long-running SSH sessions of the key, live once it resolves (the caller kills them). */
async function holdTwo(e: E2E, key: Parameters<typeof sshArgs>[1], device: string) {
  const held = [0, 1].map((i) => spawnSsh([...sshArgs(e, key, device), `echo UP-${i}; exec sleep 60`]));
  try {
    await Promise.all(held.map((s, i) => s.waitForOutput(new RegExp(`UP-${i}`), 10_000)));
  } catch (err) {
    for (const s of held) s.kill();
    throw err;
  }
  return held;
}

describe('connections per grant (SSH_MAX_CONNECTIONS_PER_GRANT)', () => {
  const env = useE2E('single', { SSH_MAX_CONNECTIONS_PER_GRANT: '2' });

  it('the third connection of a grant is refused with a reason and audited; a freed slot lets the next one in', async () => {
    const e = env.e;
    const { w, grant, key } = await certifiedGrant(e);
    const held = await holdTwo(e, key, w.device.name);
    try {

      const refused = await runSsh([...sshArgs(e, key, w.device.name), 'echo THIRD'], { timeoutMs: 20_000 });
      expect(refused.code).toBe(255);
      expect(refused.stdout).not.toContain('THIRD');
      expect(refused.stderr).toContain('this grant already has 2 connections through Portcullis, the most allowed');
      const audited = await awaitAudit(e, { action: 'session.auth_failed', subjectId: grant.id });
      expect(audited.at(-1)!.details).toMatchObject({ reason: 'too many connections for the grant (limit 2)', keyId: grant.id });
      expect(await metricValue(e.proxyHttpUrl, 'portcullis_proxy_auth_failures_total', 'reason="too many connections"')).toBeGreaterThanOrEqual(1);

      // a browser terminal counts alike: refused with the reason, audited
      const { url } = await e.broker.api.ok('POST', `/api/grants/${grant.id}/terminal-token`, w.tech.token);
      const closed = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
        const ws = new WebSocket(`${e.broker.httpUrl!.replace(/^http/, 'ws')}${url}`);
        ws.on('error', reject);
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      });
      expect(closed).toEqual({ code: 4403, reason: 'This grant already has 2 connections through Portcullis, the most allowed. Close one and try again.' });
      const refusedTerminal = await awaitAudit(e, { action: 'session.channel_refused', subjectId: grant.id });
      expect(refusedTerminal.at(-1)!.details).toMatchObject({ what: 'browser terminal', reason: 'too many connections for the grant (limit 2)' });

      // another technician's grant still connects
      const other = await makeWorld(e);
      const otherGrant = await grantFor(other, 30);
      const otherKey = newKey(e);
      await certify(other, otherGrant, otherKey);
      const elsewhere = await runSsh([...sshArgs(e, otherKey, other.device.name), 'echo OTHER'], { timeoutMs: 20_000 });
      expect(elsewhere.code, elsewhere.stderr).toBe(0);
      expect(elsewhere.stdout).toContain('OTHER');

      // one of the two goes: its slot is free again
      held[0]!.kill();
      await expect.poll(async () => (await sessionsOf(w, grant.id)).filter((x) => x.endedAt !== null).length, { timeout: 10_000, interval: 50 }).toBe(1);
      let next = await runSsh([...sshArgs(e, key, w.device.name), 'echo FOURTH'], { timeoutMs: 20_000 });
      // the proxy counts the connection free when its socket closes, which can follow the session's end by a moment
      for (let i = 0; i < 20 && next.code === 255; i++) {
        await new Promise((r) => setTimeout(r, 100));
        next = await runSsh([...sshArgs(e, key, w.device.name), 'echo FOURTH'], { timeoutMs: 20_000 });
      }
      expect(next.code, next.stderr).toBe(0);
      expect(next.stdout).toContain('FOURTH');
    } finally {
      for (const s of held) s.kill();
    }
  }, 120_000);

  it('a connection that leaves while its authentication is checked is not counted: after a dozen, the grant\'s two still get in', async () => {
    const e = env.e;
    const { w, key, certificate } = await certifiedGrant(e);
    for (let i = 0; i < 12; i++) await abandonAuthentication(e, w.device.name, certificate, key.privateKey);
    await new Promise((r) => setTimeout(r, 500)); // the proxy's checks of the abandoned ones complete
    for (const s of await holdTwo(e, key, w.device.name)) s.kill();
  }, 120_000);
});

describe('GrantConnections', () => {
  it('counts per grant, refuses past the limit without counting, and frees on release', () => {
    const c = new GrantConnections(2);
    expect([c.take('a'), c.take('a'), c.take('a'), c.take('b')]).toEqual([true, true, false, true]);
    expect([c.of('a'), c.of('b')]).toEqual([2, 1]);
    c.release('a');
    expect(c.take('a')).toBe(true);
    c.release('a');
    c.release('a');
    expect(c.of('a')).toBe(0);
    expect(() => new GrantConnections(0)).toThrow(RangeError);
  });
});
