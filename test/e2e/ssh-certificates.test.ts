/**
 * Issue 4, end to end: the proxy accepts broker-issued certificates only. A forged principal, an
 * expired certificate, another CA, a plain key and a revoked grant's certificate are refused; each
 * certificate refusal is audited as `session.auth_failed` with its reason.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, parsePublicKey, signUserCertificate, type ParsedCertificate } from '../../server/crypto/ssh-cert.js';
import { SshWriter } from '../../server/crypto/ssh-wire.js';
import {
  MODES, auditWhere, awaitAudit, certify, grantFor, makeWorld, newKey, presentCertificate, runSsh, sessionsOf,
  sshArgs, useE2E, uniq, type E2E, type KeyPair, type World,
} from '../support/ssh-e2e.js';

/** Re-serialises a parsed certificate with changed fields, keeping the old signature (as in test/unit/ssh-cert.test.ts). */
function rebuild(c: ParsedCertificate, o: Partial<ParsedCertificate> = {}): Buffer {
  const x = { ...c, ...o };
  const keyFields = x.publicKey.blob.subarray(4 + x.publicKey.blob.readUInt32BE(0));
  const principals = new SshWriter();
  x.principals.forEach((p) => principals.string(p));
  const crit = new SshWriter();
  for (const [k, v] of x.criticalOptions) crit.string(k).string(v ? new SshWriter().string(v).toBuffer() : Buffer.alloc(0));
  const ext = new SshWriter();
  x.extensions.forEach((name) => ext.string(name).string(Buffer.alloc(0)));
  return new SshWriter().string(x.certType).string(x.nonce)
    .raw(keyFields).uint64(x.serial).uint32(x.type).string(x.keyId).string(principals.toBuffer())
    .uint64(x.validAfter).uint64(x.validBefore).string(crit.toBuffer()).string(ext.toBuffer())
    .string(Buffer.alloc(0)).string(x.signatureKey).string(x.signature).toBuffer();
}

const HOUR = 3_600_000;

describe.each(MODES)('SSH certificates refused by the proxy (%s)', (mode) => {
  const env = useE2E(mode);
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  /** ssh as the device with `key` and its current -cert.pub: refused, nothing relayed. */
  async function expectDenied(w: World, key: KeyPair, grantId: string, user = w.device.name, opts: { cert?: false } = {}) {
    const r = await runSsh([...sshArgs(e, key, user, [], opts), 'echo SHOULD-NOT-RUN']);
    expect(r.code, r.stderr).toBe(255);
    expect(r.stderr).toContain('Permission denied');
    expect(r.stdout).not.toContain('SHOULD-NOT-RUN');
    expect(await sessionsOf(w, grantId)).toEqual([]);
  }

  const failures = (principal: string, reason: string) =>
    auditWhere(e, { action: 'session.auth_failed', detail: ['principal', principal] }).then((rows) => rows.filter((r) => r.details.reason === reason));

  it('a forged certificate (principal changed without re-signing) is refused and audited', async () => {
    const w = await makeWorld(e);
    const target = await makeWorld(e); // another device, the one the forger wants
    const grant = await grantFor(w);
    const key = newKey(e);
    const issued = await certify(w, grant, key);
    const genuine = parseCertificate(Buffer.from(issued.certificate.split(' ')[1]!, 'base64'));
    expect(genuine.principals).toEqual([w.device.name]);
    const forgedLine = `${genuine.certType} ${rebuild(genuine, { principals: [target.device.name] }).toString('base64')}`;
    const forgedPath = path.join(e.dir, `${uniq('forged')}-cert.pub`);
    await fs.writeFile(forgedPath, forgedLine + '\n');

    // the real OpenSSH client will not even load it ...
    expect(() => execFileSync('ssh-keygen', ['-L', '-f', forgedPath], { stdio: 'pipe' })).toThrow(/incorrect signature|invalid/);
    const viaOpenSsh = await runSsh([...sshArgs(e, key, target.device.name, [], { cert: forgedPath }), 'echo SHOULD-NOT-RUN']);
    expect(viaOpenSsh.stderr).toContain('Permission denied');
    expect(viaOpenSsh.stdout).toBe('');

    // ... so certificates are presented on the wire directly (ssh2's client). The control: the genuine one
    // is accepted on that path, and nothing is refused
    expect(await presentCertificate(e.sshPort, w.device.name, issued.certificate, key.privateKey)).toBe('accepted');
    expect(await auditWhere(e, { action: 'session.auth_failed', detail: ['principal', w.device.name] })).toEqual([]);

    // the proxy checks the CA signature over the bytes. A forgery no later check would catch: the genuine
    // certificate given ten more years (grant, principal and serial are all good; only the CA signature
    // stands between it and a session)
    const longer = rebuild(genuine, { validBefore: genuine.validBefore + 10n * 365n * 86_400n });
    const extended = await presentCertificate(e.sshPort, w.device.name, `${genuine.certType} ${longer.toString('base64')}`, key.privateKey);
    expect(extended).not.toBe('accepted');
    expect(extended).toMatch(/authentication methods failed/);
    expect((await auditWhere(e, { action: 'session.auth_failed', detail: ['principal', w.device.name] })).map((r) => r.details.reason))
      .toEqual(['bad CA signature']);
    expect(await sessionsOf(w, grant.id)).toEqual([]);

    // and the forgery above: another device's name in place of ours
    const outcome = await presentCertificate(e.sshPort, target.device.name, forgedLine, key.privateKey);
    expect(outcome).toMatch(/authentication methods failed/);
    const [audited] = await failures(target.device.name, 'bad CA signature');
    expect(audited, JSON.stringify(await auditWhere(e, { action: 'session.auth_failed', detail: ['principal', target.device.name] }))).toBeDefined();
    expect(audited!.actorType).toBe('anonymous');
    expect(await sessionsOf(target, grant.id)).toEqual([]);
  });

  it('an expired certificate from the broker CA is refused and audited; the same one in date works', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    const issued = await certify(w, grant, key);
    const sign = (validAfter: number, validBefore: number) =>
      signUserCertificate({
        caKey: e.broker.keys.sshUserCa, publicKey: parsePublicKey(key.publicKey), serial: BigInt(issued.serial), keyId: grant.id,
        principals: [w.device.name], validAfter: new Date(validAfter), validBefore: new Date(validBefore), extensions: ['permit-pty'],
      }).line;

    await fs.writeFile(key.certPath, sign(Date.now() - 2 * HOUR, Date.now() - HOUR) + '\n');
    await expectDenied(w, key, grant.id);
    const rows = await awaitAudit(e, { action: 'session.auth_failed', detail: ['principal', w.device.name] });
    expect(rows.map((r) => r.details.reason)).toContain('certificate expired');

    await fs.writeFile(key.certPath, sign(Date.now() - HOUR, Date.now() + HOUR) + '\n');
    const ok = await runSsh([...sshArgs(e, key, w.device.name), 'echo IN-DATE']);
    expect(ok.stdout, ok.stderr).toBe('IN-DATE\n');

    // in date and signed by our CA, but with a serial the broker never issued for this grant
    const unissued = signUserCertificate({
      caKey: e.broker.keys.sshUserCa, publicKey: parsePublicKey(key.publicKey), serial: 987_654_321n, keyId: grant.id,
      principals: [w.device.name], validAfter: new Date(Date.now() - HOUR), validBefore: new Date(Date.now() + HOUR), extensions: ['permit-pty'],
    }).line;
    await fs.writeFile(key.certPath, unissued + '\n');
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.stderr).toContain('Permission denied');
    expect(r.stdout).toBe('');
    expect((await auditWhere(e, { action: 'session.auth_failed', subjectId: grant.id })).map((x) => x.details.reason))
      .toContain('certificate serial was not issued for this grant');
  });

  it('issued certificates: fields as ssh-keygen reads them, RSA and ECDSA keys, the proxy trusted through the known_hosts line', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const serials = new Set<number>();
    for (const type of ['ed25519', 'rsa', 'ecdsa'] as const) {
      const key = newKey(e, type);
      const issued = await certify(w, grant, key);
      serials.add(issued.serial);
      const listed = execFileSync('ssh-keygen', ['-L', '-f', key.certPath], { env: { ...process.env, TZ: 'UTC' } }).toString();
      expect(listed).toMatch(/Type: \S+-cert-v01@openssh\.com user certificate/);
      expect(listed).toContain(`Key ID: "${grant.id}"`);
      expect(listed).toMatch(new RegExp(`Principals: \\n\\s+${w.device.name}\\n`));
      expect(listed).toContain('permit-pty');
      expect(listed).not.toMatch(/permit-(port|agent|X11)-forwarding|permit-user-rc/);
      expect(listed).toContain(`Serial: ${issued.serial}`);
      // the known_hosts line the API hands out (@cert-authority: the broker's host CA) verifies the proxy
      const knownHosts = path.join(e.dir, uniq('known_hosts'));
      const line = (issued as unknown as { knownHostsLine: string }).knownHostsLine.replace(/\[[^\]]+\]:\d+/, `[127.0.0.1]:${e.sshPort}`);
      await fs.writeFile(knownHosts, line + '\n');
      const args = sshArgs(e, key, w.device.name).map((a) => a.replace('StrictHostKeyChecking=no', 'StrictHostKeyChecking=yes')
        .replace('UserKnownHostsFile=/dev/null', `UserKnownHostsFile=${knownHosts}`));
      const r = await runSsh([...args, `echo via-${type}`]);
      expect(r.stdout, r.stderr).toBe(`via-${type}\n`);
    }
    expect(serials.size).toBe(3);
  });

  it('broker-CA certificates with an unknown critical option, another principal or another source address are refused', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    const issued = await certify(w, grant, key);
    const sign = (o: { principals?: string[]; criticalOptions?: Record<string, string> }) =>
      signUserCertificate({
        caKey: e.broker.keys.sshUserCa, publicKey: parsePublicKey(key.publicKey), serial: BigInt(issued.serial), keyId: grant.id,
        principals: o.principals ?? [w.device.name], validAfter: new Date(Date.now() - HOUR), validBefore: new Date(Date.now() + HOUR),
        extensions: ['permit-pty'], ...(o.criticalOptions ? { criticalOptions: o.criticalOptions } : {}),
      }).line;
    const cases: [Parameters<typeof sign>[0], string][] = [
      [{ criticalOptions: { 'force-command': '/bin/true' } }, 'unsupported critical option: force-command'],
      [{ criticalOptions: { 'source-address': '10.9.9.0/24' } }, 'source address not allowed'],
      [{ principals: ['some-other-device', 'and-another'] }, 'principal not allowed'],
    ];
    for (const [options, reason] of cases) {
      await fs.writeFile(key.certPath, sign(options) + '\n');
      await expectDenied(w, key, grant.id);
      expect((await failures(w.device.name, reason)).length, reason).toBe(1);
    }
    await fs.writeFile(key.certPath, sign({ criticalOptions: { 'source-address': '127.0.0.1/32,::1' } }) + '\n');
    const ok = await runSsh([...sshArgs(e, key, w.device.name), 'echo FROM-LOOPBACK']);
    expect(ok.stdout, ok.stderr).toBe('FROM-LOOPBACK\n');
  });

  it('a certificate signed by another CA is refused and audited', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    const issued = await certify(w, grant, key);
    const otherCa = newKey(e);
    // same key id, principal, serial and extensions as ours: only the CA differs
    execFileSync('ssh-keygen', ['-q', '-s', otherCa.path, '-I', grant.id, '-n', w.device.name, '-z', String(issued.serial), '-V', '-5m:+1h', key.path + '.pub']);
    expect(execFileSync('ssh-keygen', ['-L', '-f', key.certPath]).toString()).toContain(w.device.name);
    await expectDenied(w, key, grant.id);
    const rows = await awaitAudit(e, { action: 'session.auth_failed', detail: ['principal', w.device.name] });
    expect(rows.map((r) => r.details.reason)).toContain('unknown certificate authority');
  });

  it('a plain key without a certificate is refused', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    // a certificate exists, but the client does not present it (OpenSSH would load <key>-cert.pub by itself)
    await fs.rename(key.certPath, path.join(e.dir, uniq('elsewhere')));
    await expectDenied(w, key, grant.id, w.device.name, { cert: false });
    const password = await runSsh(['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
      '-o', 'PreferredAuthentications=password,keyboard-interactive', '-p', String(e.sshPort), `${w.device.name}@127.0.0.1`, 'true']);
    expect(password.stderr).toContain('Permission denied (publickey)');
  });

  it("a valid certificate for a grant that was revoked is refused and audited", async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const before = await runSsh([...sshArgs(e, key, w.device.name), 'echo BEFORE']);
    expect(before.stdout, before.stderr).toBe('BEFORE\n');
    await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'job done' });
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Permission denied');
    expect(r.stdout).toBe('');
    const rows = await awaitAudit(e, { action: 'session.auth_failed', subjectId: grant.id });
    expect(rows.map((x) => x.details.reason)).toContain('grant is revoked');
    expect(rows[0]!.details.keyId).toBe(grant.id);
    expect((await sessionsOf(w, grant.id)).length).toBe(1); // only the one before the revocation
  });
});
