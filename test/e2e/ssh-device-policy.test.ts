/**
 * Issue 4, end to end, the device side: a device whose host key is not the pinned one is refused and
 * reported; a retired device cannot be reached with a still-valid certificate; the device policy
 * refuses port forwarding, exec and SFTP unless it allows them.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sshFingerprint } from '../../server/crypto/ssh-cert.js';
import { freePort } from '../support/device-sshd.js';
import {
  MODES, auditWhere, awaitAudit, certify, endedSessions, grantFor, makeWorld, newKey, plain, runSsh, sessionsOf, spawnSsh,
  sshArgs, useE2E, uniq, type E2E,
} from '../support/ssh-e2e.js';

const blobOf = (line: string) => Buffer.from(line.trim().split(/\s+/)[1]!, 'base64');

/** Connects to a local port (retrying until it listens) and collects what arrives until it closes. */
async function probe(port: number, until?: RegExp, timeoutMs = 4000): Promise<{ data: string; closed: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await new Promise<{ data: string; closed: boolean } | null>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let data = '';
      s.on('error', () => resolve(null));
      s.on('connect', () => {
        s.on('data', (d) => {
          data += d;
          if (until?.test(data)) {
            s.destroy();
            resolve({ data, closed: false });
          }
        });
        s.on('close', () => resolve({ data, closed: true }));
        setTimeout(() => {
          s.destroy();
          resolve({ data, closed: false });
        }, Math.max(500, deadline - Date.now()));
      });
    });
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe.each(MODES)('SSH proxy: device trust and policy (%s)', (mode) => {
  const env = useE2E(mode);
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('refuses a device whose host key is not the pinned one, reports it, relays nothing', async () => {
    const pinned = newKey(e).publicKey; // some other key is on the trust record
    const w = await makeWorld(e, { hostKey: pinned });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);

    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/could not be verified \(host key mismatch\)/);
    expect(r.stderr).not.toContain('PRIVATE KEY');

    const pty = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await pty.waitForOutput(/host key mismatch/, 10_000);
      expect((await pty.waitExit(5000)).code).toBe(255);
      expect(pty.output).not.toMatch(/\$ $/m);
    } finally {
      pty.kill();
    }

    const rows = await awaitAudit(e, { action: 'device.auth_failed', subjectId: w.device.id });
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows[0]!.actorType).toBe('device');
    expect(rows[0]!.details).toMatchObject({
      name: w.device.name, grantId: grant.id,
      presentedFingerprint: sshFingerprint(blobOf(e.sshd.hostKey)), pinnedFingerprint: sshFingerprint(blobOf(pinned)),
    });
    expect(await sessionsOf(w, grant.id)).toEqual([]);
  });

  it('a retired device is unreachable with a still-valid certificate; its live session is cut', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const s = spawnSsh([...sshArgs(e, key, w.device.name), 'echo READY; exec sleep 30']);
    try {
      await s.waitForOutput(/READY/, 10_000);
      await e.broker.api.ok('POST', `/api/devices/${w.device.id}/lifecycle`, w.admin.token, { state: 'retired', reason: 'decommissioned' });
      const t0 = performance.now();
      const exit = await s.waitExit(3000);
      expect(exit.at - t0).toBeLessThan(1000);
      expect(s.output).toMatch(/access revoked/);
    } finally {
      s.kill();
    }
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Permission denied');
    expect(r.stdout).toBe('');
    const rows = await awaitAudit(e, { action: 'session.auth_failed', subjectId: grant.id });
    expect(rows.map((x) => x.details.reason)).toContain('grant is revoked');
    const sessions = await endedSessions(w, grant.id);
    expect(sessions.map((x) => x.endReason)).toEqual(['revoked']);
  });

  // the forwarding policy in full (forwardPorts, the device's own address only, forward sessions) is in ssh-forwarding.test.ts
  it('port forwarding is refused and audited unless the device policy allows it for the port', async () => {
    const denied = await makeWorld(e);
    const allowed = await makeWorld(e, { policy: { allowPortForwarding: true, forwardPorts: [e.sshd.port] } });
    for (const w of [denied, allowed]) {
      const grant = await grantFor(w);
      const key = newKey(e);
      await certify(w, grant, key);
      const port = await freePort();
      // forward to the device's own sshd, as seen from the device
      const s = spawnSsh(sshArgs(e, key, w.device.name, ['-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${port}:127.0.0.1:${e.sshd.port}`]));
      try {
        const got = await probe(port, /^SSH-2\.0-/);
        const refusals = await auditWhere(e, { action: 'session.channel_refused', subjectId: grant.id });
        if (w === denied) {
          expect(got.data).toBe('');
          expect(got.closed).toBe(true);
          const rows = await awaitAudit(e, { action: 'session.channel_refused', subjectId: grant.id });
          expect(rows[0]!.details).toMatchObject({ device: w.device.name, what: 'port forwarding', destPort: e.sshd.port });
        } else {
          expect(got.data).toMatch(/^SSH-2\.0-OpenSSH/);
          expect(refusals).toEqual([]);
        }
      } finally {
        s.kill();
      }
    }
  });

  it('exec and SFTP are refused and audited when the policy does not allow them; the shell still works', async () => {
    const w = await makeWorld(e, { policy: { allowExec: false } });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('running commands (exec) is not allowed on this device by policy');
    expect(r.code).toBe(126);

    const sftp = await new Promise<number | null>((resolve) => {
      const p = spawn('sftp', ['-b', '-', '-P', String(e.sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key.path, '-o', `CertificateFile=${key.certPath}`, `${w.device.name}@127.0.0.1`],
      { stdio: ['pipe', 'ignore', 'ignore'] });
      p.stdin.end('ls\n');
      p.on('close', (code) => resolve(code));
    });
    expect(sftp).not.toBe(0);

    const rows = await awaitAudit(e, { action: 'session.channel_refused', subjectId: grant.id });
    await expect.poll(async () => (await auditWhere(e, { action: 'session.channel_refused', subjectId: grant.id })).map((x) => x.details.what).sort())
      .toEqual(['SFTP', 'exec']);
    expect(rows[0]!.actorId).toBe(w.tech.id);

    // a shell is allowed; agent forwarding asked for with it is refused (and audited)
    const sock = path.join(e.dir, `${uniq('agent')}.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt', '-A']), { SSH_AUTH_SOCK: sock });
    try {
      await expect.poll(() => existsSync(sock)).toBe(true);
      await s.waitForOutput(/\$ $/, 10_000);
      s.write('echo SHELL-$((1+1)) AGENT=${SSH_AUTH_SOCK:-none}\r');
      await s.waitForOutput(/SHELL-2 AGENT=\S+/);
      s.write('exit\r');
      await s.waitExit(5000);
    } finally {
      s.kill();
      agent.kill();
    }
    expect(plain(s.output)).toMatch(/^SHELL-2 AGENT=none$/m);
    await expect.poll(async () => (await auditWhere(e, { action: 'session.channel_refused', subjectId: grant.id })).map((x) => x.details.what).sort())
      .toEqual(['SFTP', 'agent forwarding', 'exec']);
  });
});
