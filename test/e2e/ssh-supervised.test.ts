/**
 * Supervised sessions (issue 15, SPEC §8.6) with the real ssh client and sshd and a real WebSocket
 * live watch: the technician's input is held — and dropped, never queued — until an approver of the
 * device's department watches; it flows while watched, is held again when the watcher leaves; joins and
 * leaves are recording markers and audit events; a command (exec) waits for a supervisor.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  auditWhere, certify, endedSessions, grantFor, liveSession, makeWorld, newKey, recordingOf, runSsh, sleep, spawnSsh, sshArgs, useE2E,
  type World,
} from '../support/ssh-e2e.js';
import { cb2p, deviceDir, randomFile, scp, ssh2Sftp } from '../support/sftp-e2e.js';
import { addUser } from '../support/test-broker.js';

/** An open live watch by `token`; resolves once the server has answered with the recording's header. */
async function watch(w: World, sessionId: string, token: string): Promise<{ ws: WebSocket; frames: { type: string }[] }> {
  const ws = new WebSocket(`${w.e.broker.httpUrl!.replace(/^http/, 'ws')}/api/sessions/${sessionId}/watch`, { headers: { authorization: `Bearer ${token}` } });
  const frames: { type: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => {
      const frame = JSON.parse(d.toString()) as { type: string };
      frames.push(frame);
      if (frame.type === 'header') resolve();
    });
    const fail = (why: unknown) => reject(why instanceof Error ? why : new Error(`watch closed: ${why}`));
    ws.once('error', fail);
    ws.once('close', (code) => fail(code));
  });
  return { ws, frames };
}

const closed = (ws: WebSocket) => new Promise<void>((r) => (ws.readyState === ws.CLOSED ? r() : ws.once('close', () => r())));

describe('supervised sessions', () => {
  const env = useE2E('single');

  it('holds input until an approver of the department watches, and again after they leave', async () => {
    const e = env.e;
    const w = await makeWorld(e, { policy: { supervision: 'required', idleTimeoutMinutes: 0 } });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await s.waitForOutput(/waiting for a supervisor from/, 10_000);
      const live = await liveSession(w, grant.id);
      s.write('echo HELD-$((40+1))\r');
      await s.waitForOutput(/what you type now is discarded/, 5000);

      // an auditor watching does not supervise; an approver of another department neither
      const auditorWatch = await watch(w, live.id, w.auditor.token);
      await sleep(300);
      s.write('echo STILL-HELD-$((40+2))\r');
      auditorWatch.ws.close();
      await closed(auditorWatch.ws);

      const supervisor = await watch(w, live.id, w.approver.token);
      expect(supervisor.frames.some((f) => f.type === 'supervising')).toBe(true);
      await s.waitForOutput(/is now supervising this session/, 5000);
      let from = s.mark();
      s.write('echo WATCHED-$((40+3))\r');
      await s.waitForOutput(/^WATCHED-43\r?$/m, 5000, from);

      supervisor.ws.close();
      await closed(supervisor.ws);
      await s.waitForOutput(/stopped supervising this session/, 10_000);
      from = s.mark();
      s.write('echo AFTER-$((40+4))\r');
      await sleep(500);
      expect(s.output.slice(from)).not.toMatch(/AFTER-44/);

      const again = await watch(w, live.id, w.approver.token);
      await s.waitForOutput(/is now supervising this session/, 5000, from);
      s.write('exit\r');
      await s.waitExit(10_000);
      again.ws.close();
    } finally {
      s.kill();
    }
    // nothing typed while held ever reached the device
    expect(s.output).not.toMatch(/HELD-41|STILL-HELD-42|AFTER-44/);
    const [session] = await endedSessions(w, grant.id);
    const cast = await recordingOf(w, session!.id);
    const markers = cast.events.filter((ev) => ev.code === 'm').map((ev) => ev.data);
    expect(markers.filter((m) => m.startsWith('supervisor joined:'))).toHaveLength(2);
    expect(markers.filter((m) => m.startsWith('supervisor left:'))).toHaveLength(1);
    const input = cast.events.filter((ev) => ev.code === 'i').map((ev) => ev.data).join('');
    expect(input).toContain('WATCHED');
    expect(input).not.toContain('AFTER');
    const joined = await auditWhere(e, { action: 'session.supervisor_joined', subjectId: session!.id });
    const left = await auditWhere(e, { action: 'session.supervisor_left', subjectId: session!.id });
    expect(joined.map((r) => r.actorId)).toEqual([w.approver.id, w.approver.id]);
    expect(left.length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a command (exec) waits for a supervisor before it is sent; an auditor watching does not release it', async () => {
    const e = env.e;
    const w = await makeWorld(e, { policy: { supervision: 'required', idleTimeoutMinutes: 0 } });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const run = runSsh([...sshArgs(e, key, w.device.name), 'echo RAN-$((6*7))'], { timeoutMs: 30_000 });
    const live = await liveSession(w, grant.id);
    // an approver of another department does not supervise either
    const elsewhere = await addUser(e.broker, ['approver'], { department: 'another department' });
    const other = await watch(w, live.id, w.auditor.token);
    await expect(watch(w, live.id, elsewhere.token)).rejects.toThrow(/watch closed: 4404/);
    await sleep(700);
    expect((await runState(run))).toBe('running');
    const sup = await watch(w, live.id, w.approver.token);
    const r = await run;
    expect(r.stdout).toContain('RAN-42');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/waiting for a supervisor/);
    other.ws.close();
    sup.ws.close();
  }, 60_000);

  it('a file transfer (SFTP) waits for a supervisor, and new files are refused once the supervisor has left', async () => {
    const e = env.e;
    const dir = await deviceDir(e);
    const w = await makeWorld(e, { policy: { supervision: 'required', allowUpload: true, allowDownload: true } });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const file = await randomFile(e, 100_000);
    const upload = scp(e, key, [], file.path, `${w.device.name}@127.0.0.1:${dir}/patch.bin`);
    const live = await liveSession(w, grant.id);
    await sleep(700);
    expect(await runState(upload)).toBe('running');
    const sup = await watch(w, live.id, w.approver.token);
    expect((await upload).code).toBe(0);
    sup.ws.close();
    await closed(sup.ws);
    await endedSessions(w, grant.id, 1, 10_000);

    // an SFTP session nobody watches any more: opening a file is refused with the reason
    const client = await ssh2Sftp(w, grant, newKey(e));
    try {
      const second = await liveSession(w, grant.id).catch(() => null);
      expect(second).not.toBeNull();
      const again = await watch(w, second!.id, w.approver.token);
      await cb2p((cb) => client.sftp.stat(dir, (err) => cb(err, undefined)));
      again.ws.close();
      await closed(again.ws);
      await sleep(300);
      const err = await cb2p<Buffer>((cb) => client.sftp.open(`${dir}/second.bin`, 'w', cb)).then(() => null, (x: Error & { code?: number }) => x);
      expect(err?.code).toBe(3);
      expect(err?.message).toMatch(/waiting for a supervisor from .* to watch this session/);
    } finally {
      client.conn.end();
    }
  }, 60_000);
});


async function runState(p: Promise<unknown>): Promise<'running' | 'done'> {
  return Promise.race([p.then(() => 'done' as const), sleep(10).then(() => 'running' as const)]);
}
