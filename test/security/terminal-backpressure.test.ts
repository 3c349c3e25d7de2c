/**
 * Browser-terminal backpressure (issue 10): a technician who stalls the device and floods input
 * must not grow the API process's memory. While the device is not taking input, the broker stops
 * reading the browser's socket, so the flood stays queued on the browser's side (TCP holds it
 * back); once the device reads again, everything flows through.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { endedSessions, grantFor, makeWorld, startE2E, type E2E, type World } from '../support/ssh-e2e.js';

const MiB = 1024 * 1024;
const FLOOD = 40 * MiB;
/**
 * What may legitimately sit between the browser's socket and the stalled device: both kernels'
 * socket buffers on loopback (a few MiB each at most), the device's SSH channel window (2 MiB for
 * OpenSSH) and a few small stream buffers. Without backpressure the whole flood is read at once.
 */
const IN_FLIGHT_ALLOWANCE = 16 * MiB;

/** Polls `read` until it stops changing (two equal samples `everyMs` apart), then returns it. */
async function settled(read: () => number, everyMs = 300, maxMs = 20_000): Promise<number> {
  let last = read();
  for (const until = Date.now() + maxMs; Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, everyMs));
    const now = read();
    if (now === last) return now;
    last = now;
  }
  return last;
}

describe('browser terminal backpressure', () => {
  let e: E2E;
  let w: World;
  let flagDir: string;
  beforeAll(async () => {
    e = await startE2E('single');
    w = await makeWorld(e);
    // a directory the device's user can read: creating the flag file there lets the device read on
    flagDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-flag-'));
    await fs.chmod(flagDir, 0o755);
  }, 120_000);
  afterAll(async () => {
    await e?.stop();
    if (flagDir) await fs.rm(flagDir, { recursive: true, force: true });
  });

  it('stops reading a flooding browser while the device does not drain, and resumes when it does', async () => {
    const grant = await grantFor(w);
    const { url } = await e.broker.api.ok('POST', `/api/grants/${grant.id}/terminal-token`, w.tech.token);
    const ws = new WebSocket(`${e.broker.httpUrl!.replace('http', 'ws')}${url}`);
    let output = '';
    let sessionId = '';
    ws.on('message', (data, isBinary) => {
      if (isBinary) output += data.toString();
      else if (JSON.parse(String(data)).type === 'ready') sessionId = JSON.parse(String(data)).sessionId;
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await expect.poll(() => sessionId, { timeout: 15_000 }).not.toBe('');

    // the device stops reading its terminal until the flag file exists, then reads everything
    const flag = path.join(flagDir, 'drain');
    const type = (data: string) => ws.send(JSON.stringify({ type: 'input', data }));
    type(`stty raw -echo; echo STALLED-$((6*7)); while [ ! -e ${flag} ]; do sleep 0.1; done; exec cat >/dev/null\n`);
    await expect.poll(() => output, { timeout: 10_000 }).toContain('STALLED-42');

    const chunk = 'x'.repeat(64 * 1024);
    for (let sent = 0; sent < FLOOD; sent += chunk.length) type(chunk);
    // the broker has stopped reading: most of the flood is still queued in this client
    const queued = await settled(() => ws.bufferedAmount);
    console.info(`backpressure: the broker took ${((FLOOD - queued) / MiB).toFixed(1)} MiB of a ${FLOOD / MiB} MiB flood into a stalled session`);
    expect(queued, `the broker read ${((FLOOD - queued) / MiB).toFixed(1)} MiB of a stalled session's input`).toBeGreaterThan(FLOOD - IN_FLIGHT_ALLOWANCE);
    expect(ws.readyState).toBe(WebSocket.OPEN);

    // the device reads again: the queue drains through the broker, and the session carries on
    await fs.writeFile(flag, '');
    await expect.poll(() => ws.bufferedAmount, { timeout: 30_000, interval: 100 }).toBe(0);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    expect(await closed).toBe(1005);
    const [session] = await endedSessions(w, grant.id, 1, 10_000);
    expect(session).toMatchObject({ id: sessionId, endReason: 'client_closed' });
    expect(session!.bytesIn).toBeGreaterThan(FLOOD);
  }, 90_000);
});
