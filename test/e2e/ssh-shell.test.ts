/**
 * Issue 4, end to end with the real OpenSSH client and a real sshd as the device: an interactive
 * shell on a pty (TERM, size, a window change, exit) and exec (exit status, stderr, stdin, EOF).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MODES, certify, endedSessions, grantFor, liveSession, makeWorld, newKey, plain, recordingOf, runSsh, sha256,
  spawnSshOnTty, sshArgs, useE2E, uniq, type E2E,
} from '../support/ssh-e2e.js';

describe.each(MODES)('SSH shell and exec through the proxy (%s)', (mode) => {
  const env = useE2E(mode);
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('relays an interactive shell on a real pty: TERM, size, a window change, exit', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const flag = path.join(e.dir, uniq('resize'));
    const s = spawnSshOnTty(sshArgs(e, key, w.device.name), { cols: 100, rows: 30, resizeFlag: flag, resizeTo: { cols: 120, rows: 40 } });
    try {
      await s.waitForOutput(/\$ $/, 10_000); // the device's /bin/sh prompt
      let from = s.mark();
      s.write('echo T=$TERM; stty size\r');
      await s.waitForOutput(/T=xterm-256color/, 5000, from);
      await s.waitForOutput(/^30 100\r?$/m, 5000, from);

      // resize the technician's terminal: SIGWINCH → window-change → the device's pty follows
      await fs.writeFile(flag, '');
      let resized = false;
      for (let i = 0; i < 20 && !resized; i++) {
        from = s.mark();
        s.write('stty size\r');
        resized = await s.waitForOutput(/^40 120\r?$/m, 300, from).then(() => true, () => false);
      }
      expect(resized, `device pty never became 120x40:\n${s.output}`).toBe(true);

      s.write('exit\r');
      const exit = await s.waitExit(5000);
      expect(exit.code).toBe(0);
    } finally {
      s.kill();
    }
    const [session] = await endedSessions(w, grant.id);
    expect(session!.channel).toBe('shell');
    const cast = await recordingOf(w, session!.id);
    expect([cast.header.width, cast.header.height]).toEqual([100, 30]);
    expect(cast.events.filter((ev) => ev.code === 'r').map((ev) => ev.data)).toContain('120x40');
    expect(plain(cast.events.filter((ev) => ev.code === 'o').map((ev) => ev.data).join(''))).toContain('T=xterm-256color');
    // the technician typed `exit`: the shell's exit code says the technician ended the session
    expect(session!.endReason).toBe('client_closed');
  });

  it('exec: exit status, stdout and stderr apart', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const r = await runSsh(sshArgs(e, key, w.device.name, [], {}).concat('echo out-$((3+4)); echo err-$((2*4)) >&2; exit 7'));
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toBe('out-7\n');
    expect(r.stderr).toContain('err-8');
    expect(r.stdout).not.toContain('err-8');
    const [session] = await endedSessions(w, grant.id);
    expect(session!.channel).toBe('exec');
    expect(session!.command).toBe('echo out-$((3+4)); echo err-$((2*4)) >&2; exit 7');
    const cast = await recordingOf(w, session!.id);
    expect(cast.header.command).toBe(session!.command);
    expect(cast.text).toContain('out-7');
  });

  it('exec: stdin is relayed in full and EOF reaches the device', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const args = (cmd: string) => [...sshArgs(e, key, w.device.name), cmd];

    const small = await runSsh(args('cat'), { input: 'line one\nline two\n' });
    expect(small.code, small.stderr).toBe(0);
    expect(small.stdout).toBe('line one\nline two\n');

    // 512 KiB: more than the SSH window, so backpressure is exercised both ways
    const big = Array.from({ length: 8192 }, (_, i) => `${String(i).padStart(6, '0')} ${'x'.repeat(56)}\n`).join('');
    const echoed = await runSsh(args('cat'), { input: big, timeoutMs: 20_000 });
    expect(echoed.code, echoed.stderr).toBe(0);
    expect(echoed.stdout.length).toBe(big.length);
    expect(sha256(echoed.stdout)).toBe(sha256(big));
    const counted = await runSsh(args('wc -c'), { input: big, timeoutMs: 20_000 });
    expect(counted.stdout.trim()).toBe(String(big.length));

    // stdin at EOF from the start (</dev/null): cat must end at once, not hang
    const eof = await runSsh(args('cat'), { timeoutMs: 10_000 });
    expect(eof.timedOut).toBe(false);
    expect(eof.code, eof.stderr).toBe(0);
    expect(eof.stdout).toBe('');
    expect(eof.ms).toBeLessThan(3000);

    const sessions = await endedSessions(w, grant.id, 4);
    const cat = sessions.find((s) => s.bytesIn === 'line one\nline two\n'.length);
    expect(cat, JSON.stringify(sessions)).toBeDefined();
    expect(cat!.bytesOut).toBe('line one\nline two\n'.length);
    expect(sessions.filter((s) => s.bytesIn === big.length)).toHaveLength(2);
  });
  it('exec: a command killed by a signal ends the session; the proxy survives any signal name', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const args = (cmd: string) => [...sshArgs(e, key, w.device.name), cmd];
    try {
      // TERM has an SSH name; BUS has none, so OpenSSH's sshd reports it as "SIG@openssh.com"
      for (const sig of ['TERM', 'BUS']) {
        const r = await runSsh(args(`echo before-${sig}; kill -${sig} $$`), { timeoutMs: 5000 });
        expect(r.timedOut, `ssh hung after the device's SIG${sig}`).toBe(false);
        expect(r.stdout).toBe(`before-${sig}\n`);
        expect(r.code).not.toBe(0);
      }
      const after = await runSsh(args('echo still-serving'));
      expect(after.stdout, `the proxy stopped serving:\n${after.stderr}\n${e.proxyLog().slice(-3000)}`).toBe('still-serving\n');
      expect(e.proxyAlive()).toBe(true);
    } finally {
      if (!e.proxyAlive()) await e.crashAndRestartProxy!(); // keep the other tests of this file meaningful
    }
    const sessions = await endedSessions(w, grant.id, 3);
    // newest first: the normal command ended with its exit code; the two killed ones by the device
    expect(sessions.map((x) => x.endReason)).toEqual(['client_closed', 'device_closed', 'device_closed']);
  }, 90_000);
  it.runIf(mode !== 'single')('a technician who stops reading does not make the proxy buffer without bound', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const pid = e.proxyPid!();
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    // the device writes as fast as it can; the technician's ssh discards it, then stops reading
    const ssh = spawn('ssh', [...sshArgs(e, key, w.device.name), 'yes portcullis-backpressure-line'], { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
    try {
      await liveSession(w, grant.id, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      process.kill(ssh.pid!, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 1000));
      const before = rss();
      await new Promise((r) => setTimeout(r, 3000));
      const grown = rss() - before;
      console.log(`[${mode}] proxy RSS while the client is stopped: ${(before / 2 ** 20).toFixed(0)} MiB, +${(grown / 2 ** 20).toFixed(1)} MiB in 3 s`);
      expect(grown).toBeLessThan(48 * 2 ** 20);
    } finally {
      try {
        process.kill(-ssh.pid!, 'SIGKILL');
      } catch { /* gone */ }
    }
    const [session] = await endedSessions(w, grant.id, 1, 10_000);
    expect(session!.endReason).toBe('client_closed');
    expect(session!.bytesOut).toBeGreaterThan(1_000_000);
  });
});
