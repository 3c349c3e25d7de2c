/**
 * Automatic logoff (issue 15, SPEC §8.6) with the real ssh client and sshd, and the browser terminal:
 * a session without input is warned, then cut as `idle` (marker and audit); typing keeps it open; the
 * grant stays usable. The device's idleTimeoutMinutes is set to seconds for the test.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  awaitAudit, certify, endedSessions, grantFor, makeWorld, newKey, recordingOf, runSsh, sleep, spawnSsh, sshArgs, useE2E,
} from '../support/ssh-e2e.js';

const IDLE_MINUTES = 0.1; // 6 s: warned at 3 s (half the timeout when that is under a minute)

describe('idle logoff', () => {
  const env = useE2E('single');

  it('cuts an SSH session without input as idle after a warning; input keeps it open; the grant stays', async () => {
    const e = env.e;
    const w = await makeWorld(e, { policy: { idleTimeoutMinutes: IDLE_MINUTES } });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await s.waitForOutput(/\$ $/, 10_000);
      // typing every 2 s for 8 s: longer than the timeout, never idle for as long
      for (let i = 0; i < 4; i++) {
        await sleep(2000);
        s.write(`echo alive-${i}\r`);
        await s.waitForOutput(new RegExp(`alive-${i}\\r?\\n`), 5000);
      }
      expect(s.running).toBe(true);
      await s.waitForOutput(/will be closed in \d+ seconds unless you type/, 10_000);
      const exit = await s.waitExit(10_000);
      expect(exit.code).toBe(255);
      expect(s.output).toMatch(/no input for 6 seconds: session closed/);
    } finally {
      s.kill();
    }
    const [session] = await endedSessions(w, grant.id);
    expect(session!.endReason).toBe('idle');
    const cast = await recordingOf(w, session!.id);
    const markers = cast.events.filter((ev) => ev.code === 'm').map((ev) => ev.data);
    expect(markers.some((m) => m.startsWith('idle warning'))).toBe(true);
    expect(markers.some((m) => m.startsWith('idle:'))).toBe(true);
    await awaitAudit(e, { action: 'session.ended', subjectId: session!.id, detail: ['endReason', 'idle'] });
    // the grant is untouched: the technician reconnects
    const again = await runSsh([...sshArgs(e, key, w.device.name), 'echo back-again']);
    expect(again.stdout).toContain('back-again');
  }, 60_000);

  it('cuts an idle browser-terminal session too', async () => {
    const e = env.e;
    const w = await makeWorld(e, { policy: { idleTimeoutMinutes: IDLE_MINUTES } });
    const grant = await grantFor(w);
    const { url } = await e.broker.api.ok('POST', `/api/grants/${grant.id}/terminal-token`, w.tech.token);
    const ws = new WebSocket(`${e.broker.httpUrl!.replace(/^http/, 'ws')}${url}`);
    const controls: { type: string; reason?: string; text?: string }[] = [];
    ws.on('message', (data, isBinary) => {
      if (!isBinary) controls.push(JSON.parse(data.toString()));
    });
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    const t0 = Date.now();
    await closed;
    expect(Date.now() - t0).toBeGreaterThan(5000);
    expect(controls.some((c) => c.type === 'notice' && /will be closed in/.test(c.text ?? ''))).toBe(true);
    expect(controls.find((c) => c.type === 'end')?.reason).toBe('idle');
    const [session] = await endedSessions(w, grant.id);
    expect(session!.endReason).toBe('idle');
  }, 60_000);

  it('a command without a terminal is not cut for lack of input (a firmware flash must not stop halfway)', async () => {
    const e = env.e;
    const w = await makeWorld(e, { policy: { idleTimeoutMinutes: IDLE_MINUTES } });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'sleep 8; echo flashed'], { timeoutMs: 30_000 });
    expect(r.stdout).toContain('flashed');
    expect(r.code).toBe(0);
    const [session] = await endedSessions(w, grant.id);
    expect(session!.endReason).toBe('client_closed');
  }, 60_000);
});
