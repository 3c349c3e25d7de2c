/** Issue 12: hashing in file-offset order whatever order the ranges arrive in, and what a transfer's outcome is. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normaliseDevicePath, withinTransferPaths, expandPolicyAliases } from '../../server/core/transfer-policy.js';
import { RangeHasher } from '../../proxy/sftp/range-hasher.js';
import { TransferTracker } from '../../proxy/sftp/transfer-tracker.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chunks = (data: Buffer, size: number) => Array.from({ length: Math.ceil(data.length / size) }, (_, i) => ({ offset: i * size, data: data.subarray(i * size, (i + 1) * size) }));

describe('RangeHasher', () => {
  it('hashes out-of-order ranges in file order', () => {
    const data = randomBytes(100_003);
    const parts = chunks(data, 4096);
    const shuffled = [...parts].sort(() => Math.random() - 0.5);
    const h = new RangeHasher(1 << 20);
    for (const p of shuffled) expect(h.add(p.offset, p.data)).toBe(true);
    expect(h.contiguous).toBe(data.length);
    expect(h.hasGaps).toBe(false);
    expect(h.rewritten).toBe(false);
    expect(h.digest()).toBe(sha(data));
  });

  it('holds no more than its bound ahead of a gap, and notes rewritten offsets', () => {
    const h = new RangeHasher(8192);
    expect(h.add(4096, Buffer.alloc(4096))).toBe(true);
    expect(h.add(8192, Buffer.alloc(4096))).toBe(true);
    expect(h.add(12288, Buffer.alloc(1))).toBe(false);
    expect(h.hasGaps).toBe(true);
    expect(h.add(0, Buffer.alloc(4096))).toBe(true);
    expect(h.contiguous).toBe(12288);
    expect(h.add(100, Buffer.alloc(10))).toBe(true);
    expect(h.rewritten).toBe(true);
  });
});

describe('TransferTracker outcomes', () => {
  const init = { path: '/p', startedAt: new Date(0), limitBytes: 10_000, limitMiB: 1 };
  it('an upload covering the file from 0 is complete; one starting later is partial; one past the limit is refused', () => {
    const ok = new TransferTracker({ ...init, direction: 'upload' });
    ok.take(0, Buffer.alloc(100));
    ok.closedAtSize(100);
    expect(ok.result(new Date(1))).toMatchObject({ outcome: 'complete', bytes: 100, sha256: sha(Buffer.alloc(100)) });
    const resumed = new TransferTracker({ ...init, direction: 'upload' });
    resumed.take(50, Buffer.alloc(50));
    expect(resumed.result(new Date(1))?.outcome).toBe('partial');
    const big = new TransferTracker({ ...init, direction: 'upload' });
    expect(big.take(9_990, Buffer.alloc(20)).ok).toBe(false);
    expect(big.result(new Date(1))).toMatchObject({ outcome: 'refused', reason: expect.stringContaining('1 MiB') });
  });
  it('a download is complete at end of file or its size at open; an interrupted one is partial', () => {
    const d = new TransferTracker({ ...init, direction: 'download', sizeAtOpen: 10 });
    d.take(0, Buffer.alloc(10));
    expect(d.result(new Date(1))?.outcome).toBe('complete');
    const cut = new TransferTracker({ ...init, direction: 'download', sizeAtOpen: 10 });
    cut.take(0, Buffer.alloc(5));
    expect(cut.result(new Date(1), 'revoked')).toMatchObject({ outcome: 'partial', reason: expect.stringMatching(/^revoked; read 5 of 10/) });
  });
});

describe('transfer policy', () => {
  it('judges normalised paths against prefixes; allowSftp expands to both flags, explicit flags win', () => {
    expect(normaliseDevicePath('/opt/fw/../etc/')).toBe('/opt/etc');
    expect(normaliseDevicePath('relative')).toBeNull();
    expect(withinTransferPaths('/opt/fw/a.img', ['/opt/fw'])).toBe(true);
    expect(withinTransferPaths('/opt/fw2/a.img', ['/opt/fw'])).toBe(false);
    expect(withinTransferPaths('/opt/fw/../etc/passwd', ['/opt/fw'])).toBe(false);
    expect(withinTransferPaths('/anything', [])).toBe(true);
    expect(expandPolicyAliases({ allowSftp: true })).toEqual({ allowUpload: true, allowDownload: true });
    expect(expandPolicyAliases({ allowSftp: true, allowDownload: false })).toEqual({ allowUpload: true, allowDownload: false });
  });
});
