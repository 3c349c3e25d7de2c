/**
 * Issue 11 (SPEC §8.2), the revocation race end to end: a browser-terminal session whose device answers
 * slowly (a relay in front of the real sshd holds the connection back 1.5 s) is revoked after the
 * proxy has checked the grant but while the device connection is still opening. The revocation must
 * reach it: the socket ends with the reason at once and no session is left live once the device
 * connection has opened (before, the revocation found nothing registered and the session then ran to
 * the grant's original end).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { grantFor, makeWorld, sessionsOf, sleep, useE2E, type E2E } from '../support/ssh-e2e.js';
import { startTcpRelay } from '../support/tcp-tools.js';

const DEVICE_DELAY_MS = 1500;

describe('revocation while the device connection is opening (issue 11)', () => {
  // the periodic re-check is pushed out of the way: only registering before the check can cut in time
  const env = useE2E('single', { SESSION_RECHECK_SECONDS: '600' });
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a browser terminal revoked ~200 ms after opening is ended at once and never goes live', async () => {
    const api = e.broker.api;
    const w = await makeWorld(e);
    const relay = await startTcpRelay({ targetPort: e.sshd.port, delayMs: DEVICE_DELAY_MS });
    cleanups.push(() => relay.close());
    await api.ok('PATCH', `/api/devices/${w.device.id}`, w.admin.token, { sshPort: relay.port });
    const grant = await grantFor(w);
    const { url } = await api.ok('POST', `/api/grants/${grant.id}/terminal-token`, w.tech.token);

    const ws = new WebSocket(`${e.broker.httpUrl!.replace(/^http/, 'ws')}${url}`);
    cleanups.push(() => ws.terminate());
    const opened = performance.now();
    let text = '';
    const controls: { type: string; [k: string]: unknown }[] = [];
    ws.on('message', (data, isBinary) => {
      if (isBinary) text += data.toString();
      else controls.push(JSON.parse(data.toString()));
    });
    ws.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => ws.once('close', () => resolve(performance.now())));

    // the proxy has checked the grant and is connecting to the device: revoke now (≥ 200 ms after opening)
    const link = await relay.accepted();
    await sleep(Math.max(0, 200 - (performance.now() - opened)));
    await api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'revoked while opening' });
    const revoked = performance.now();
    expect(link.upstreamConnectedAt, 'the revocation must land while the device connection is still opening').toBeNull();

    const closedAt = await Promise.race([closed, sleep(3000).then(() => null)]);
    console.log(`revocation race: revoked ${(revoked - opened).toFixed(0)} ms after opening; ` +
      (closedAt === null ? 'socket still open 3 s later' : `socket closed ${(closedAt - revoked).toFixed(0)} ms after the revoke`));
    expect(closedAt, 'the terminal socket is closed within 3 s of the revocation').not.toBeNull();
    expect(controls).toContainEqual(expect.objectContaining({ type: 'end', reason: 'revoked' }));
    expect(text).toContain('revoked while opening');
    expect(controls.find((c) => c.type === 'ready')).toBeUndefined();

    // once the device connection has opened (and would have carried a session), nothing is live, and the
    // device connection itself is closed
    await expect.poll(() => link.upstreamConnectedAt, { timeout: 5000 }).not.toBeNull();
    await sleep(1000);
    expect((await api.ok('GET', `/api/sessions?grantId=${grant.id}&live=true`, w.admin.token)).items).toEqual([]);
    expect((await sessionsOf(w, grant.id)).filter((s) => s.endedAt === null)).toEqual([]);
    await expect.poll(() => link.upstreamClosedAt, { timeout: 5000 }).not.toBeNull();
  });
});
