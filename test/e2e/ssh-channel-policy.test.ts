/**
 * Issue 11 (SPEC §8.2): the device's policy is read at every channel open, not at login. An OpenSSH
 * ControlMaster connection made while exec is allowed runs a command; once an admin turns exec off,
 * the next command over the same connection is refused (exit 126, the policy's message, audited).
 * And a shell without a pty (`ssh dev < script`, commands from stdin) is exec by another name:
 * refused where exec is not allowed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditWhere, awaitAudit, certify, grantFor, makeWorld, newKey, runSsh, sessionsOf, spawnSsh, sshArgs, uniq, useE2E, type E2E } from '../support/ssh-e2e.js';

describe('device policy read at each channel open (issue 11)', () => {
  const env = useE2E('single');
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('exec turned off applies to an open ControlMaster connection; a pty-less shell is refused with it', async () => {
    const w = await makeWorld(e);
    expect(w.device.policy.allowExec).toBe(true);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const controlPath = path.join(e.dir, `${uniq('cm')}.sock`);
    const mux = ['-o', `ControlPath=${controlPath}`];
    const master = spawnSsh(sshArgs(e, key, w.device.name, ['-o', 'ControlMaster=yes', ...mux, '-N']));
    try {
      await expect.poll(() => existsSync(controlPath), { timeout: 10_000, interval: 50 }).toBe(true);
      const overMaster = (command: string) => runSsh([...sshArgs(e, key, w.device.name, ['-o', 'ControlMaster=no', ...mux]), command]);

      expect(await overMaster('echo hi')).toMatchObject({ code: 0, stdout: 'hi\n' });
      await e.broker.api.ok('PATCH', `/api/devices/${w.device.id}`, w.admin.token, { policy: { allowExec: false } });
      const refused = await overMaster('echo hi');
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain('running commands (exec) is not allowed on this device by policy');
      expect(refused.code).toBe(126);

      // both commands went over the one connection the master made at login
      expect(master.running).toBe(true);
      const logins = e.proxyLog().split('\n').filter((l) => l.includes('technician connected') && l.includes(grant.id));
      expect(logins).toHaveLength(1);
    } finally {
      master.kill();
    }
    // `what` names the refused kind ('exec' in ssh-device-policy.test.ts; the relay now writes the notice's phrase)
    const [row] = await awaitAudit(e, { action: 'session.channel_refused', subjectId: grant.id });
    expect(row!.details).toMatchObject({ device: w.device.name, what: expect.stringMatching(/\bexec\b/) });
    expect(row!.actorId).toBe(w.tech.id);

    // `ssh dev < script`: no command and stdin not a terminal, so no pty is asked for
    const script = await runSsh(sshArgs(e, key, w.device.name), { input: 'echo SHOULD-NOT-RUN\nexit 0\n' });
    expect(script.stdout).toBe('');
    expect(script.stderr).toContain('a shell without a terminal (commands from stdin) is not allowed on this device by policy');
    expect(script.code).toBe(126);
    await expect.poll(async () => (await auditWhere(e, { action: 'session.channel_refused', subjectId: grant.id })).length).toBe(2);
    const refusals = await auditWhere(e, { action: 'session.channel_refused', subjectId: grant.id });
    expect(refusals[1]!.details).toMatchObject({ device: w.device.name, what: expect.stringMatching(/shell without a (terminal|pty)/) });
    // only the command run while exec was allowed became a session
    expect((await sessionsOf(w, grant.id)).map((s) => [s.channel, s.command])).toEqual([['exec', 'echo hi']]);
  });
});
