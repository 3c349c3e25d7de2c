/**
 * The first hour (§8.8), with the real OpenSSH client: a known_hosts file holding only the
 * `@cert-authority` line the API hands out verifies the proxy without a prompt, also after the proxy
 * restarts with a new host key; and a technician refused because the grant was revoked or has ended
 * is told so, and when, in an SSH banner before the refusal (never someone who only knows the grant id).
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePublicKey, publicKeyToSshLine, signUserCertificate } from '../../server/crypto/ssh-cert.js';
import { newOpenSshKey } from '../../server/crypto/keys.js';
import {
  certify, grantFor, makeWorld, newKey, runSsh, sleep, sshArgs, uniq, useE2E, type E2E, type KeyPair, type World,
} from '../support/ssh-e2e.js';

/** ssh arguments that trust only `knownHosts` and never ask. */
function strictArgs(e: E2E, key: KeyPair, user: string, knownHosts: string, extra: string[] = []): string[] {
  return sshArgs(e, key, user, extra).map((a) =>
    a === 'StrictHostKeyChecking=no' ? 'StrictHostKeyChecking=yes' : a === 'UserKnownHostsFile=/dev/null' ? `UserKnownHostsFile=${knownHosts}` : a);
}

/** The fingerprint of the host key inside the certificate the proxy presented (from `ssh -v`). */
const presentedCertificate = (stderr: string) => /Server host certificate: ssh-ed25519-cert-v01@openssh\.com (SHA256:\S+)/.exec(stderr)?.[1];

describe('the proxy host certificate and refusal banners (split: the proxy in its own process)', () => {
  const env = useE2E('split');
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('a known_hosts holding only the @cert-authority line connects without prompts, also after a host key change', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    const issued = (await certify(w, grant, key)) as unknown as { knownHostsLine: string };
    const caLine = publicKeyToSshLine(e.broker.keys.sshHostCa);
    // the API process (api,worker only) advertises its configured SSH port; the proxy process listens on its own
    expect(issued.knownHostsLine).toMatch(new RegExp(`^@cert-authority \\[127\\.0\\.0\\.1\\]:\\d+ ${caLine.replace(/[+/]/g, '\\$&')}$`));
    const published = await e.broker.api.ok('GET', '/api/ssh-known-hosts', w.tech.token);
    expect(published.knownHostsLine).toBe(issued.knownHostsLine);

    const knownHosts = path.join(e.dir, uniq('known_hosts'));
    const line = issued.knownHostsLine.replace(/\]:\d+ /, `]:${e.sshPort} `);
    await fs.writeFile(knownHosts, line + '\n');
    const first = await runSsh(strictArgs(e, key, w.device.name, knownHosts, ['-v']).concat('echo trusted'));
    expect(first.stdout, first.stderr).toBe('trusted\n');
    const before = presentedCertificate(first.stderr);
    expect(before, first.stderr).toBeDefined();
    expect(first.stderr).not.toMatch(/Permanently added|authenticity of host/);
    expect(await fs.readFile(knownHosts, 'utf8')).toBe(line + '\n');
    // OpenSSH re-exchanges keys every 256 KiB here: each exchange presents and signs with the certificate again
    const rekeyed = await runSsh(strictArgs(e, key, w.device.name, knownHosts, ['-o', 'RekeyLimit=256K']).concat('head -c 2000000 /dev/zero | wc -c'));
    expect(rekeyed.stdout.trim(), rekeyed.stderr).toBe('2000000');

    // another CA in the same line: the same proxy is not trusted (the check above is real)
    const strangerCa = publicKeyToSshLine(generateKeyPairSync('ed25519').privateKey);
    const foreign = path.join(e.dir, uniq('known_hosts'));
    await fs.writeFile(foreign, `@cert-authority [127.0.0.1]:${e.sshPort} ${strangerCa}\n`);
    const refused = await runSsh(strictArgs(e, key, w.device.name, foreign).concat('echo SHOULD-NOT-RUN'));
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/Host key verification failed/);

    // the proxy restarts with a new host key (same CA, same port): nothing changes for the technician
    await fs.writeFile(path.join(e.broker.dataDir, 'keys', 'ssh-host-ed25519'), newOpenSshKey(), { mode: 0o600 });
    await e.crashAndRestartProxy!();
    const again = await runSsh(strictArgs(e, key, w.device.name, knownHosts, ['-v']).concat('echo still-trusted'));
    expect(again.stdout, again.stderr).toBe('still-trusted\n');
    const after = presentedCertificate(again.stderr);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(again.stderr).not.toMatch(/Permanently added|authenticity of host|REMOTE HOST IDENTIFICATION HAS CHANGED/);
  });

  async function displayName(userId: string): Promise<string> {
    return (await e.broker.pool.query('SELECT display_name FROM users WHERE id = $1', [userId])).rows[0].display_name;
  }

  it('a revoked grant: the banner says when, by whom and why, before "Permission denied"', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'firmware recall' });
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.stdout).toBe('');
    const { rows } = await e.broker.pool.query<{ ended_at: Date }>('SELECT ended_at FROM grants WHERE id = $1', [grant.id]);
    const at = rows[0]!.ended_at.toISOString().slice(0, 16).replace('T', ' ');
    const banner = `Access to ${w.device.name} was revoked at ${at} UTC by ${await displayName(w.approver.id)}: firmware recall`;
    expect(r.stderr).toContain(banner);
    expect(r.stderr.indexOf(banner)).toBeLessThan(r.stderr.indexOf('Permission denied'));
  });

  it('an ended grant: the banner says when it ended', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w, 1);
    const { rows } = await e.broker.pool.query<{ ends_at: Date }>(
      `UPDATE grants SET ends_at = date_trunc('second', now()) + interval '2 seconds' WHERE id = $1 RETURNING ends_at`, [grant.id]);
    const key = newKey(e);
    await certify(w, grant, key); // valid until the grant's end: expired too by the time it is used
    await sleep(Math.max(0, rows[0]!.ends_at.getTime() - Date.now()) + 300);
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.stdout).toBe('');
    const at = rows[0]!.ends_at.toISOString().slice(0, 16).replace('T', ' ');
    expect(r.stderr).toContain(`Access to ${w.device.name} ended at ${at} UTC.`);
    expect(r.stderr).toContain('Permission denied');
  });

  it('a certificate from another CA naming a revoked grant learns nothing about it', async () => {
    const w: World = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    const issued = await certify(w, grant, key);
    await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'secret reason' });
    const forged = signUserCertificate({
      caKey: generateKeyPairSync('ed25519').privateKey, publicKey: parsePublicKey(key.publicKey), serial: BigInt(issued.serial),
      keyId: grant.id, principals: [w.device.name], validAfter: new Date(Date.now() - 60_000), validBefore: new Date(Date.now() + 3_600_000),
      extensions: ['permit-pty'],
    }).line;
    await fs.writeFile(key.certPath, forged + '\n');
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.stderr).toContain('Permission denied');
    expect(r.stderr).not.toMatch(/secret reason|revoked|Access to/);
  });
});
