/**
 * Issue 12, end to end: the transfer policy at the proxy's SFTP relay, against a real sshd. Refused
 * uploads leave nothing written on the device; `transferPaths` cannot be escaped with `..` or a
 * symlink; refusals answer PERMISSION_DENIED with the reason and are audited; a revocation in the
 * middle of an upload ends it as `partial` and the session within a second; uploads are matched
 * against the artifacts the request declared, and an undeclared one is flagged to the approvers.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditWhere, awaitAudit, certify, endedSessions, grantFor, liveSession, makeWorld, newKey, sha256, useE2E, type E2E } from '../support/ssh-e2e.js';
import { cb2p, deviceDir, grantWithArtifacts, randomFile, scp, sftpBatch, ssh2Sftp, transfersOf } from '../support/sftp-e2e.js';

describe('SFTP transfer policy at the proxy', () => {
  const env = useE2E('single');
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('an upload the policy does not allow is refused with the reason and writes nothing; downloads still work', async () => {
    const dir = await deviceDir(e);
    try {
      await fs.writeFile(`${dir}/on-device.txt`, 'calibration table v7\n');
      const w = await makeWorld(e, { policy: { allowDownload: true } });
      const grant = await grantFor(w);
      const key = newKey(e);
      await certify(w, grant, key);
      const a = await randomFile(e, 200_000);
      const up = await scp(e, key, [], a.path, `${w.device.name}@127.0.0.1:${dir}/upload.bin`);
      expect(up.code).not.toBe(0);
      // OpenSSH prints the status only; the message travels with it (an ssh2 client shows it)
      expect(up.stderr).toContain('Permission denied');
      const { conn, sftp } = await ssh2Sftp(w, grant, newKey(e));
      try {
        const err = await cb2p<Buffer>((cb) => sftp.open(`${dir}/upload.bin`, 'w', cb)).then(() => null, (x: Error & { code?: number }) => x);
        expect(err?.code).toBe(3);
        expect(err?.message).toBe('Portcullis: uploads are not allowed on this device by policy');
      } finally {
        conn.end();
      }
      const rm = await sftpBatch(e, key, w.device.name, `rm ${dir}/on-device.txt\n`);
      expect(rm.code).not.toBe(0);
      expect(existsSync(`${dir}/upload.bin`)).toBe(false);
      expect(existsSync(`${dir}/on-device.txt`)).toBe(true);
      const back = path.join(e.dir, 'on-device.txt');
      expect((await scp(e, key, [], `${w.device.name}@127.0.0.1:${dir}/on-device.txt`, back)).code).toBe(0);
      expect(await fs.readFile(back, 'utf8')).toBe('calibration table v7\n');

      const transfers = await transfersOf(w, grant.id, 3);
      expect(transfers.map((t) => [t.direction, t.path, t.outcome, t.bytes])).toEqual([
        ['upload', `${dir}/upload.bin`, 'refused', 0],
        ['upload', `${dir}/upload.bin`, 'refused', 0],
        ['download', `${dir}/on-device.txt`, 'complete', 21],
      ]);
      expect(transfers[0]!.reason).toBe('uploads are not allowed on this device by policy');
      const refusals = await awaitAudit(e, { action: 'transfer.refused', detail: ['grantId', grant.id] });
      // the two refused uploads and the refused rm
      await expect.poll(async () => (await auditWhere(e, { action: 'transfer.refused', detail: ['grantId', grant.id] })).length).toBe(3);
      expect(refusals[0]!.actorId).toBe(w.tech.id);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('transferPaths cannot be escaped with .. or through a symlink; inside them uploads work', async () => {
    const allowed = await deviceDir(e, 'allowed');
    const outside = await deviceDir(e, 'outside');
    try {
      await fs.symlink(outside, `${allowed}/escape`);
      await fs.writeFile(`${outside}/secret.txt`, 'not yours');
      await fs.symlink(`${outside}/secret.txt`, `${allowed}/secret-link`);
      const w = await makeWorld(e, { policy: { allowUpload: true, allowDownload: true, transferPaths: [`${allowed}/`] } });
      expect(w.device.policy).toMatchObject({ transferPaths: [allowed] });
      const grant = await grantFor(w);
      const key = newKey(e);
      await certify(w, grant, key);
      const a = await randomFile(e, 100_000);
      const name = path.basename(outside);
      const target = `${w.device.name}@127.0.0.1:`;
      for (const dest of [`${allowed}/../${name}/x.bin`, `${allowed}/escape/y.bin`, `${outside}/z.bin`]) {
        const r = await scp(e, key, [], a.path, `${target}${dest}`);
        expect(r.code, dest).not.toBe(0);
        expect(r.stderr).toContain('Permission denied');
      }
      const leak = await scp(e, key, [], `${target}${allowed}/secret-link`, path.join(e.dir, 'leak.txt'));
      expect(leak.code).not.toBe(0);
      expect(leak.stderr).toContain('Permission denied');
      expect(await fs.readdir(outside)).toEqual(['secret.txt']);
      expect(existsSync(path.join(e.dir, 'leak.txt')) ? await fs.readFile(path.join(e.dir, 'leak.txt'), 'utf8') : '').not.toContain('not yours');
      // inside: fine, relative names included
      const ok = await sftpBatch(e, key, w.device.name, `cd ${allowed}\nput ${a.path} inside.bin\nmkdir sub\nrename inside.bin sub/inside.bin\n`);
      expect(ok.code, ok.stderr).toBe(0);
      expect(sha256(await fs.readFile(`${allowed}/sub/inside.bin`))).toBe(a.sha256);
      const transfers = await transfersOf(w, grant.id, 5);
      expect(transfers.filter((t) => t.outcome === 'refused').map((t) => t.path)).toEqual([
        path.join(outside, 'x.bin'), `${outside}/y.bin`, `${outside}/z.bin`, `${allowed}/secret-link`,
      ]);
      expect(transfers.filter((t) => t.outcome === 'refused').map((t) => t.reason)).toEqual([
        expect.stringContaining('outside the device\'s transfer paths'), expect.stringContaining('outside the device\'s transfer paths'),
        expect.stringContaining('outside the device\'s transfer paths'), expect.stringMatching(/secret-link links to .*secret\.txt, which is outside/),
      ]);
      expect(transfers.filter((t) => t.outcome === 'complete').map((t) => [t.path, t.sha256])).toEqual([[`${allowed}/inside.bin`, a.sha256]]);
    } finally {
      await fs.rm(allowed, { recursive: true, force: true });
      await fs.rm(outside, { recursive: true, force: true });
    }
  });

  it('a revocation mid-upload ends the transfer as partial and the session within a second', async () => {
    const dir = await deviceDir(e);
    const w = await makeWorld(e, { policy: { allowUpload: true } });
    const grant = await grantFor(w);
    const { conn, sftp } = await ssh2Sftp(w, grant, newKey(e));
    try {
      const handle = await cb2p<Buffer>((cb) => sftp.open(`${dir}/firmware.img`, 'w', cb));
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let i = 0; i < 4; i++) await cb2p((cb) => sftp.write(handle, chunk, 0, chunk.length, i * chunk.length, (err) => cb(err, undefined)));
      await liveSession(w, grant.id);
      const closed = new Promise<number>((resolve) => sftp.once('close', () => resolve(performance.now())));
      const answered = await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'wrong image' }).then(() => performance.now());
      expect(await closed - answered).toBeLessThan(1000);
      const [session] = await endedSessions(w, grant.id, 1, 1000);
      expect(session!.endReason).toBe('revoked');
      expect(session!.bytesIn).toBe(4 * chunk.length);
      const [t] = await transfersOf(w, grant.id, 1);
      expect(t).toMatchObject({ direction: 'upload', path: `${dir}/firmware.img`, bytes: 4 * chunk.length, outcome: 'partial' });
      expect(t!.reason).toMatch(/revoked/);
    } finally {
      conn.end();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('an upload matching a declared artifact is declared; another is flagged to the approvers', async () => {
    const dir = await deviceDir(e);
    try {
      const w = await makeWorld(e, { policy: { allowUpload: true } });
      const patch = await randomFile(e, 300_000);
      const other = await randomFile(e, 1000);
      const grant = await grantWithArtifacts(w, [{ name: 'pump-fw-4.3.0.img', sha256: patch.sha256.toUpperCase(), sizeBytes: patch.data.length }]);
      const request = await e.broker.api.ok('GET', `/api/access-requests?deviceId=${w.device.id}`, w.approver.token);
      expect(request.items[0].artifacts).toEqual([{ name: 'pump-fw-4.3.0.img', sha256: patch.sha256, sizeBytes: patch.data.length }]);
      const key = newKey(e);
      await certify(w, grant, key);
      const r = await sftpBatch(e, key, w.device.name, `put ${patch.path} ${dir}/fw.img\nput ${other.path} ${dir}/extra.sh\n`);
      expect(r.code, r.stderr).toBe(0);
      const transfers = await transfersOf(w, grant.id, 2);
      expect(transfers.map((t) => [t.path, t.declared])).toEqual([[`${dir}/fw.img`, true], [`${dir}/extra.sh`, false]]);
      const audited = await auditWhere(e, { action: 'transfer.completed', detail: ['grantId', grant.id] });
      // the two transfers' records commit side by side: their events are in commit order, not upload order
      expect(audited).toHaveLength(2);
      expect(audited.map((a) => [a.details.declared, a.details.artifact])).toEqual(expect.arrayContaining([[true, 'pump-fw-4.3.0.img'], [false, undefined]]));
      await expect.poll(() => e.proxyLog()).toContain(`undeclared upload by ${'E2E'}`);
      expect(e.proxyLog()).toMatch(new RegExp(`undeclared upload .*${dir}/extra\\.sh .*sha256 ${other.sha256}`));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
