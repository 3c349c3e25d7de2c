/**
 * Issue 12, end to end: patch delivery through the proxy's SFTP relay with the real OpenSSH `scp`
 * (SFTP mode) and `sftp -b` against a real sshd. Files arrive byte-identical both ways; each is a
 * transfer whose SHA-256 equals sha256sum's, in the session, in GET /api/transfers, in the audit log
 * and as a marker in the session's recording. Pipelined writes from ssh2 (fastPut, and writes sent
 * deliberately out of file order) hash correctly. Legacy `scp -O` and rsync still work over exec.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  auditWhere, certify, endedSessions, grantFor, makeWorld, newKey, recordingOf, sha256, useE2E, uniq, type E2E,
} from '../support/ssh-e2e.js';
import { cb2p, deviceDir, randomFile, run, scp, sftpBatch, ssh2Sftp, transferOptions, transfersOf } from '../support/sftp-e2e.js';

const MiB = 1024 * 1024;
const sha256sum = (file: string) => execFileSync('sha256sum', [file]).toString().split(' ')[0]!;

describe('SFTP through the proxy: scp, sftp, ssh2 pipelining, legacy exec transfers', () => {
  const env = useE2E('single');
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('scp and sftp upload and download multi-MiB files byte-identical; each transfer is recorded with its SHA-256', async () => {
    const w = await makeWorld(e, { policy: { allowSftp: true } });
    expect(w.device.policy).toMatchObject({ allowUpload: true, allowDownload: true, allowSftp: true });
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const dir = await deviceDir(e);
    try {
      const a = await randomFile(e, 3 * MiB + 123);
      const b = await randomFile(e, 2 * MiB + 7);
      // scp (SFTP mode: OpenSSH 9's default) up and down
      const up = await scp(e, key, [], a.path, `${w.device.name}@127.0.0.1:${dir}/a.bin`);
      expect(up.code, up.stderr).toBe(0);
      expect(sha256sum(`${dir}/a.bin`)).toBe(a.sha256);
      const back = path.join(e.dir, `${uniq('back')}.bin`);
      const down = await scp(e, key, [], `${w.device.name}@127.0.0.1:${dir}/a.bin`, back);
      expect(down.code, down.stderr).toBe(0);
      expect(sha256sum(back)).toBe(a.sha256);
      // sftp -b: put, ls, get
      const back2 = path.join(e.dir, `${uniq('back')}.bin`);
      const batch = await sftpBatch(e, key, w.device.name, `put ${b.path} ${dir}/b.bin\nls -l ${dir}\nget ${dir}/b.bin ${back2}\n`);
      expect(batch.code, batch.stderr).toBe(0);
      expect(batch.stdout).toMatch(/b\.bin/);
      expect(sha256sum(`${dir}/b.bin`)).toBe(b.sha256);
      expect(sha256sum(back2)).toBe(b.sha256);

      const transfers = await transfersOf(w, grant.id, 4);
      const summary = transfers.map((t) => [t.direction, t.path, t.bytes, t.sha256, t.outcome]);
      expect(summary).toEqual(expect.arrayContaining([
        ['upload', `${dir}/a.bin`, a.data.length, a.sha256, 'complete'],
        ['download', `${dir}/a.bin`, a.data.length, a.sha256, 'complete'],
        ['upload', `${dir}/b.bin`, b.data.length, b.sha256, 'complete'],
        ['download', `${dir}/b.bin`, b.data.length, b.sha256, 'complete'],
      ]));
      expect(transfers.filter((t) => t.direction === 'upload').every((t) => t.declared === false)).toBe(true);
      expect(transfers.filter((t) => t.direction === 'download').every((t) => t.declared === null)).toBe(true);

      // sessions of channel sftp, with the file bytes counted; each ended by the client
      const sessions = await endedSessions(w, grant.id, 3);
      expect(sessions.every((s) => s.channel === 'sftp' && s.endReason === 'client_closed')).toBe(true);
      const total = (dir2: 'bytesIn' | 'bytesOut') => sessions.reduce((n, s) => n + s[dir2], 0);
      expect(total('bytesIn')).toBe(a.data.length + b.data.length);
      expect(total('bytesOut')).toBe(a.data.length + b.data.length);

      // found by hash; audited; a marker in the recording
      const byHash = await e.broker.api.ok('GET', `/api/transfers?sha256=${a.sha256}`, w.auditor.token);
      expect(byHash.items.map((t: { direction: string }) => t.direction).sort()).toEqual(['download', 'upload']);
      const audited = await auditWhere(e, { action: 'transfer.completed', detail: ['sha256', a.sha256] });
      expect(audited.map((r) => r.details.direction).sort()).toEqual(['download', 'upload']);
      const upload = transfers.find((t) => t.direction === 'upload' && t.path.endsWith('a.bin'))!;
      const cast = await recordingOf(w, upload.sessionId);
      expect(cast.events.filter((ev) => ev.code === 'm').map((ev) => ev.data)).toEqual([
        `upload complete: ${dir}/a.bin (${a.data.length} bytes sha256 ${a.sha256})`,
      ]);
      // the approver of the department reads them too; another department's does not
      expect((await e.broker.api.ok('GET', `/api/transfers?deviceId=${w.device.id}`, w.approver.token)).items).toHaveLength(4);
      const other = await makeWorld(e);
      expect((await e.broker.api.ok('GET', `/api/transfers?deviceId=${w.device.id}`, other.approver.token)).items).toHaveLength(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('pipelined and out-of-order writes from an ssh2 client hash in file order', async () => {
    const w = await makeWorld(e, { policy: { allowUpload: true, allowDownload: true } });
    const grant = await grantFor(w);
    const key = newKey(e);
    const dir = await deviceDir(e);
    const { conn, sftp } = await ssh2Sftp(w, grant, key);
    try {
      // fastPut: 64 writes of 32 KiB in flight
      const a = await randomFile(e, 4 * MiB + 5);
      await cb2p((cb) => sftp.fastPut(a.path, `${dir}/fast.bin`, { concurrency: 64, chunkSize: 32 * 1024 }, (err) => cb(err, undefined)));
      expect(sha256sum(`${dir}/fast.bin`)).toBe(a.sha256);
      // writes sent in reverse order within windows of 48 chunks, all in flight at once per window
      const b = await randomFile(e, 3 * MiB + 999);
      const handle = await cb2p<Buffer>((cb) => sftp.open(`${dir}/shuffled.bin`, 'w', cb));
      const chunk = 32 * 1024;
      const offsets = Array.from({ length: Math.ceil(b.data.length / chunk) }, (_, i) => i * chunk);
      for (let i = 0; i < offsets.length; i += 48) {
        const window = offsets.slice(i, i + 48).reverse();
        await Promise.all(window.map((off) => cb2p((cb) => sftp.write(handle, b.data, off, Math.min(chunk, b.data.length - off), off, (err) => cb(err, undefined)))));
      }
      await cb2p((cb) => sftp.close(handle, (err) => cb(err, undefined)));
      expect(sha256sum(`${dir}/shuffled.bin`)).toBe(b.sha256);
      const transfers = await transfersOf(w, grant.id, 2);
      expect(transfers.map((t) => [t.path, t.bytes, t.sha256, t.outcome])).toEqual([
        [`${dir}/fast.bin`, a.data.length, a.sha256, 'complete'],
        [`${dir}/shuffled.bin`, b.data.length, b.sha256, 'complete'],
      ]);
    } finally {
      conn.end();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('legacy scp -O and rsync work over exec (recorded as exec sessions)', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const dir = await deviceDir(e);
    try {
      const a = await randomFile(e, 2 * MiB);
      const up = await scp(e, key, ['-O'], a.path, `${w.device.name}@127.0.0.1:${dir}/legacy.bin`);
      expect(up.code, up.stderr).toBe(0);
      expect(sha256sum(`${dir}/legacy.bin`)).toBe(a.sha256);
      const ssh = ['ssh', '-p', String(e.sshPort), ...transferOptions(e, key)].join(' ');
      const back = path.join(e.dir, `${uniq('rsync')}.bin`);
      const r = await run('rsync', ['-e', ssh, `${w.device.name}@127.0.0.1:${dir}/legacy.bin`, back]);
      expect(r.code, r.stderr).toBe(0);
      expect(sha256(await fs.readFile(back))).toBe(a.sha256);
      const sessions = await endedSessions(w, grant.id, 2);
      expect(sessions.map((s) => s.channel)).toEqual(['exec', 'exec']);
      expect(sessions.map((s) => s.command ?? '').sort().join('\n')).toMatch(/rsync --server[\s\S]*scp -t/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
