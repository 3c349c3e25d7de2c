/**
 * The SFTP relay's operations: each request from the technician's client (ssh2 server mode) is
 * answered by the same request to the device's SFTP server (ssh2 client mode), through a handle map.
 * Requests are relayed as they arrive and answered as the device answers — never one at a time — so
 * a client's pipeline (64 reads or writes in flight) is kept. Invariants: every file opened is a
 * transfer (TransferTracker) that ends exactly once; policy (§8.3) is checked before anything reaches
 * the device, and a refusal answers PERMISSION_DENIED with a message; an unknown handle never reaches
 * the device; nothing is sent to the client once the relay is closed.
 */
import ssh2, { type Attributes, type FileEntry as SftpName, type SFTPWrapper, type Stats } from 'ssh2';
import { maxTransferBytes, normaliseDevicePath, withinTransferPaths } from '../../server/core/transfer-policy.js';
import type { TransferResult } from '../../server/core/transfers.js';
import type { DevicePolicy } from '../../server/core/types.js';
import type { Logger } from '../../server/logger.js';
import { resolveDirectory, resolveFile, symlinkTarget, type DeviceLookup, type Resolved } from './path-policy.js';
import { TransferTracker } from './transfer-tracker.js';

const { STATUS_CODE: STATUS, OPEN_MODE } = ssh2.utils.sftp;
/** the most one READ asks of the device: clients re-request the rest of a short read */
const MAX_READ = 64 * 1024;
const WRITE_FLAGS = OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC;

export interface RelayHooks {
  policy: DevicePolicy;
  log: Logger;
  now(): Date;
  /** a transfer ended (complete, partial, refused or failed) */
  onTransfer(r: TransferResult): void;
  /** an operation that moved no file was refused by policy */
  onRefusedOperation(operation: string, path: string, reason: string): void;
  /** file bytes moved: `in` written to the device, `out` read from it */
  onBytes(direction: 'in' | 'out', n: number): void;
  /** why no file may be opened or changed right now (a supervised device nobody watches); null: go ahead */
  heldBack?(): string | null;
}

interface FileEntry {
  kind: 'file';
  device: Buffer;
  upload?: TransferTracker;
  download?: TransferTracker;
  /** the file did not exist before this open: removed again if the upload is refused */
  created: string | null;
}
interface DirEntry { kind: 'dir'; device: Buffer }
type Entry = FileEntry | DirEntry;

class DeviceError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** the SFTP status and message for an error from the device (or from the link to it) */
function statusOf(err: unknown): { code: number; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'number' && e.code >= 1 && e.code <= 8 ? e.code : STATUS.FAILURE;
  return { code, message: typeof e?.message === 'string' ? e.message : 'failure' };
}

const display = (raw: string) => normaliseDevicePath(raw) ?? (raw || '.');

export class SftpOperations {
  private readonly handles = new Map<string, Entry>();
  private nextHandle = 1;
  private closed = false;
  private readonly lookup: DeviceLookup;

  constructor(private readonly client: SFTPWrapper, private readonly device: SFTPWrapper, private readonly hooks: RelayHooks) {
    this.lookup = {
      realpath: (p) => this.call<string>((cb) => device.realpath(p, cb)),
      lstat: (p) => this.call<Stats>((cb) => device.lstat(p, cb)).catch((err) => {
        if (statusOf(err).code === STATUS.NO_SUCH_FILE) return null;
        throw err;
      }),
    };
  }

  /** Starts answering the client's requests. */
  attach(): void {
    const c = this.client;
    const run = (reqid: number, op: string, work: () => Promise<void>) => {
      work().catch((err) => {
        this.hooks.log.warn({ err, op }, 'SFTP operation failed in the proxy');
        this.status(reqid, STATUS.FAILURE, 'internal error in the proxy');
      });
    };
    c.on('OPEN', (id, filename, flags, attrs) => run(id, 'open', () => this.open(id, filename, flags, attrs)));
    c.on('READ', (id, handle, offset, len) => this.read(id, handle, offset, len));
    c.on('WRITE', (id, handle, offset, data) => this.write(id, handle, offset, data));
    c.on('CLOSE', (id, handle) => run(id, 'close', () => this.closeHandle(id, handle)));
    c.on('FSTAT', (id, handle) => this.withEntry(id, handle, (e) => this.device.fstat(e.device, this.attrsReply(id))));
    c.on('FSETSTAT', (id, handle, attrs) => this.withEntry(id, handle, (e) => {
      if (e.kind !== 'file' || !e.upload) return this.status(id, STATUS.PERMISSION_DENIED, 'Portcullis: attributes can be changed only on a file opened for upload');
      this.device.fsetstat(e.device, attrs, this.okReply(id));
    }));
    c.on('OPENDIR', (id, path) => run(id, 'opendir', () => this.opendir(id, path)));
    c.on('READDIR', (id, handle) => this.withEntry(id, handle, (e) => {
      // one batch per request, '.' and '..' included (`full`), as the device sent it
      const readdir = this.device.readdir.bind(this.device) as unknown as (h: Buffer, o: { full: boolean }, cb: (err: Error | undefined, list: SftpName[]) => void) => void;
      readdir(e.device, { full: true }, (err, list) => (err ? this.error(id, err) : this.reply(() => this.client.name(id, list))));
    }));
    c.on('STAT', (id, path) => this.device.stat(path, this.attrsReply(id)));
    c.on('LSTAT', (id, path) => this.device.lstat(path, this.attrsReply(id)));
    c.on('REALPATH', (id, path) => this.device.realpath(path, (err, p) => (err ? this.error(id, err) : this.reply(() => this.client.name(id, [{ filename: p, longname: p } as never])))));
    c.on('READLINK', (id, path) => this.device.readlink(path, (err, p) => (err ? this.error(id, err) : this.reply(() => this.client.name(id, [{ filename: p, longname: p } as never])))));
    c.on('SETSTAT', (id, path, attrs) => run(id, 'setstat', () => this.change(id, 'setstat', path, true, (p) => this.device.setstat(p, attrs, this.okReply(id)))));
    c.on('REMOVE', (id, path) => run(id, 'remove', () => this.change(id, 'remove', path, false, (p) => this.device.unlink(p, this.okReply(id)))));
    c.on('MKDIR', (id, path, attrs) => run(id, 'mkdir', () => this.change(id, 'mkdir', path, false, (p) => this.device.mkdir(p, attrs, this.okReply(id)))));
    c.on('RMDIR', (id, path) => run(id, 'rmdir', () => this.rmdir(id, path)));
    c.on('RENAME', (id, from, to) => run(id, 'rename', () => this.rename(id, from, to)));
    c.on('SYMLINK', (id, linkPath, target) => run(id, 'symlink', () => this.symlink(id, linkPath, target)));
  }

  /** Ends every open file as a partial transfer (a cut, or a session that closed with files open). */
  endAll(why: string): void {
    for (const e of this.handles.values()) if (e.kind === 'file') this.endFile(e, why);
    this.handles.clear();
  }

  /** No answer is sent to the client from now on. */
  stop(): void {
    this.closed = true;
  }

  // ---------------------------------------------------------------------------------------------
  // files

  private async open(reqid: number, filename: string, flags: number, attrs: Attributes): Promise<void> {
    const { policy } = this.hooks;
    const writes = (flags & WRITE_FLAGS) !== 0;
    const reads = (flags & OPEN_MODE.READ) !== 0;
    const direction = writes ? 'upload' : 'download';
    const startedAt = this.hooks.now();
    const refuse = (path: string, reason: string) => {
      this.hooks.onTransfer({ direction, path, bytes: 0, sha256: null, startedAt, endedAt: this.hooks.now(), outcome: 'refused', reason });
      this.status(reqid, STATUS.PERMISSION_DENIED, `Portcullis: ${reason}`);
    };
    const held = this.hooks.heldBack?.();
    if (held) return refuse(display(filename), held);
    if (writes && !policy.allowUpload) return refuse(display(filename), 'uploads are not allowed on this device by policy');
    if (reads && !policy.allowDownload) return refuse(display(filename), 'downloads are not allowed on this device by policy');
    const resolved = await this.resolve(reqid, () => resolveFile(this.lookup, filename, policy.transferPaths, true));
    if (!resolved) return;
    if (!resolved.ok) return refuse(resolved.path, resolved.reason);
    const limit = { limitBytes: maxTransferBytes(policy), limitMiB: policy.maxTransferMiB, path: resolved.path, startedAt };
    let handle: Buffer;
    try {
      handle = await this.call<Buffer>((cb) => this.device.open(resolved.path, flags, attrs, cb));
    } catch (err) {
      const { message } = statusOf(err);
      this.hooks.onTransfer({ direction, path: resolved.path, bytes: 0, sha256: null, startedAt, endedAt: this.hooks.now(), outcome: 'failed', reason: `the device refused to open the file: ${message}` });
      return this.error(reqid, err);
    }
    const entry: FileEntry = { kind: 'file', device: handle, created: writes && !resolved.existed ? resolved.path : null };
    if (writes) entry.upload = new TransferTracker({ ...limit, direction: 'upload' });
    if (reads) {
      const size = await this.call<Stats>((cb) => this.device.fstat(handle, cb)).then((s) => s.size, () => null);
      entry.download = new TransferTracker({ ...limit, direction: 'download', sizeAtOpen: size });
      if (!writes && size !== null && !entry.download.withinLimit(size).ok) {
        this.device.close(handle, () => undefined);
        this.endFile(entry, null);
        return this.status(reqid, STATUS.PERMISSION_DENIED, `Portcullis: the file exceeds the device's transfer limit of ${policy.maxTransferMiB} MiB`);
      }
    }
    this.reply(() => this.client.handle(reqid, this.register(entry)));
  }

  private write(reqid: number, handle: Buffer, offset: number, data: Buffer): void {
    const e = this.handles.get(handle.toString('hex'));
    if (!e) return this.status(reqid, STATUS.FAILURE, 'invalid handle');
    if (e.kind !== 'file' || !e.upload) return this.status(reqid, STATUS.PERMISSION_DENIED, 'Portcullis: the file was not opened for writing');
    const tracker = e.upload;
    const verdict = tracker.take(offset, data);
    if (!verdict.ok) return this.status(reqid, verdict.refused ? STATUS.PERMISSION_DENIED : STATUS.FAILURE, `Portcullis: ${verdict.reason}`);
    this.hooks.onBytes('in', data.length);
    this.device.write(e.device, data, 0, data.length, offset, (err) => {
      if (!err) return this.status(reqid, STATUS.OK);
      tracker.fail(`the device failed a write: ${statusOf(err).message}`);
      this.error(reqid, err);
    });
  }

  private read(reqid: number, handle: Buffer, offset: number, len: number): void {
    const e = this.handles.get(handle.toString('hex'));
    if (!e) return this.status(reqid, STATUS.FAILURE, 'invalid handle');
    if (e.kind !== 'file' || !e.download) return this.status(reqid, STATUS.PERMISSION_DENIED, 'Portcullis: the file was not opened for reading');
    const tracker = e.download;
    if (tracker.refused || !tracker.withinLimit(offset + 1).ok) {
      return this.status(reqid, STATUS.PERMISSION_DENIED, `Portcullis: the file exceeds the device's transfer limit of ${this.hooks.policy.maxTransferMiB} MiB`);
    }
    const n = Math.max(1, Math.min(len, MAX_READ));
    const done = (err: unknown, nb: number, data: Buffer) => {
      if (err) {
        if (statusOf(err).code === STATUS.EOF) tracker.eof(offset);
        else tracker.fail(`the device failed a read: ${statusOf(err).message}`);
        return this.error(reqid, err);
      }
      const chunk = data.subarray(0, nb);
      const verdict = tracker.take(offset, chunk);
      if (!verdict.ok) return this.status(reqid, verdict.refused ? STATUS.PERMISSION_DENIED : STATUS.FAILURE, `Portcullis: ${verdict.reason}`);
      this.hooks.onBytes('out', nb);
      this.reply(() => this.client.data(reqid, chunk));
    };
    // end of file is reported as an error (not as an empty read), so the client gets SFTP's EOF status
    (done as unknown as { _wantEOFError: boolean })._wantEOFError = true;
    this.device.read(e.device, Buffer.allocUnsafe(n), 0, n, offset, done as never);
  }

  private async closeHandle(reqid: number, handle: Buffer): Promise<void> {
    const key = handle.toString('hex');
    const e = this.handles.get(key);
    if (!e) return this.status(reqid, STATUS.FAILURE, 'invalid handle');
    this.handles.delete(key);
    if (e.kind === 'dir') return this.device.close(e.device, this.okReply(reqid));
    if (e.upload && !e.upload.refused) {
      const size = await this.call<Stats>((cb) => this.device.fstat(e.device, cb)).then((s) => s.size, () => null);
      if (size !== null) e.upload.closedAtSize(size);
    }
    this.device.close(e.device, (err) => {
      if (err) e.upload?.fail(`the device failed to close the file: ${statusOf(err).message}`);
      if (err) this.error(reqid, err);
      else this.status(reqid, STATUS.OK);
      // a refused upload of a new file leaves nothing behind
      if (e.upload?.refused && e.created) this.device.unlink(e.created, () => undefined);
      this.endFile(e, null);
    });
  }

  private endFile(e: FileEntry, interrupted: string | null): void {
    const now = this.hooks.now();
    const up = e.upload?.result(now, interrupted);
    if (up) this.hooks.onTransfer(up);
    // a file opened for reading and writing is a download too once something was read from it
    if (e.download && (!e.upload || e.download.bytes > 0)) {
      const down = e.download.result(now, interrupted);
      if (down) this.hooks.onTransfer(down);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // directories and changes

  private async opendir(reqid: number, path: string): Promise<void> {
    const resolved = await this.resolve(reqid, () => resolveDirectory(this.lookup, path, this.hooks.policy.transferPaths));
    if (!resolved) return;
    if (!resolved.ok) return this.refuseOperation(reqid, 'opendir', resolved.path, resolved.reason);
    try {
      const handle = await this.call<Buffer>((cb) => this.device.opendir(resolved.path, cb));
      this.reply(() => this.client.handle(reqid, this.register({ kind: 'dir', device: handle })));
    } catch (err) {
      this.error(reqid, err);
    }
  }

  /** a change to the device's files (setstat, remove, mkdir): needs uploads allowed and a path inside the transfer paths */
  private async change(reqid: number, op: string, path: string, follow: boolean, act: (resolvedPath: string) => void): Promise<void> {
    if (!this.mayChange(reqid, op, path)) return;
    const resolved = await this.resolve(reqid, () => resolveFile(this.lookup, path, this.hooks.policy.transferPaths, follow));
    if (!resolved) return;
    if (!resolved.ok) return this.refuseOperation(reqid, op, resolved.path, resolved.reason);
    act(resolved.path);
  }

  private async rmdir(reqid: number, path: string): Promise<void> {
    if (!this.mayChange(reqid, 'rmdir', path)) return;
    const resolved = await this.resolve(reqid, () => resolveDirectory(this.lookup, path, this.hooks.policy.transferPaths));
    if (!resolved) return;
    if (!resolved.ok) return this.refuseOperation(reqid, 'rmdir', resolved.path, resolved.reason);
    this.device.rmdir(resolved.path, this.okReply(reqid));
  }

  private async rename(reqid: number, from: string, to: string): Promise<void> {
    if (!this.mayChange(reqid, 'rename', from)) return;
    const prefixes = this.hooks.policy.transferPaths;
    const a = await this.resolve(reqid, () => resolveFile(this.lookup, from, prefixes, false));
    if (!a) return;
    if (!a.ok) return this.refuseOperation(reqid, 'rename', a.path, a.reason);
    const b = await this.resolve(reqid, () => resolveFile(this.lookup, to, prefixes, false));
    if (!b) return;
    if (!b.ok) return this.refuseOperation(reqid, 'rename', b.path, b.reason);
    this.device.rename(a.path, b.path, this.okReply(reqid));
  }

  private async symlink(reqid: number, linkPath: string, target: string): Promise<void> {
    if (!this.mayChange(reqid, 'symlink', linkPath)) return;
    const prefixes = this.hooks.policy.transferPaths;
    const link = await this.resolve(reqid, () => resolveFile(this.lookup, linkPath, prefixes, false));
    if (!link) return;
    if (!link.ok) return this.refuseOperation(reqid, 'symlink', link.path, link.reason);
    const to = symlinkTarget(link.path, target);
    if (!withinTransferPaths(to, prefixes)) {
      return this.refuseOperation(reqid, 'symlink', link.path, `the link would point to ${to}, outside the device's transfer paths (${prefixes.join(', ')})`);
    }
    this.device.symlink(target, link.path, this.okReply(reqid));
  }

  private mayChange(reqid: number, op: string, path: string): boolean {
    const held = this.hooks.heldBack?.();
    if (held) {
      this.refuseOperation(reqid, op, display(path), held);
      return false;
    }
    if (this.hooks.policy.allowUpload) return true;
    this.refuseOperation(reqid, op, display(path), `changing files on this device (${op}) needs uploads, which its policy does not allow`);
    return false;
  }

  private refuseOperation(reqid: number, op: string, path: string, reason: string): void {
    this.hooks.onRefusedOperation(op, path, reason);
    this.status(reqid, STATUS.PERMISSION_DENIED, `Portcullis: ${reason}`);
  }

  // ---------------------------------------------------------------------------------------------
  // plumbing

  /** runs a path resolution; a device error is answered to the client (null) */
  private async resolve(reqid: number, fn: () => Promise<Resolved>): Promise<Resolved | null> {
    try {
      return await fn();
    } catch (err) {
      this.error(reqid, err);
      return null;
    }
  }

  private register(entry: Entry): Buffer {
    const handle = Buffer.alloc(4);
    handle.writeUInt32BE(this.nextHandle);
    this.nextHandle = (this.nextHandle + 1) >>> 0 || 1;
    this.handles.set(handle.toString('hex'), entry);
    return handle;
  }

  private withEntry(reqid: number, handle: Buffer, fn: (e: Entry) => void): void {
    const e = this.handles.get(handle.toString('hex'));
    if (!e) return this.status(reqid, STATUS.FAILURE, 'invalid handle');
    fn(e);
  }

  private call<T>(fn: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      try {
        fn((err, value) => (err ? reject(err) : resolve(value)));
      } catch (err) {
        reject(err instanceof Error ? err : new DeviceError(STATUS.FAILURE, String(err)));
      }
    });
  }

  private okReply(reqid: number) {
    return (err?: Error | null) => (err ? this.error(reqid, err) : this.status(reqid, STATUS.OK));
  }

  private attrsReply(reqid: number) {
    return (err: Error | undefined, stats: Stats) => (err ? this.error(reqid, err) : this.reply(() => this.client.attrs(reqid, stats)));
  }

  private error(reqid: number, err: unknown): void {
    const { code, message } = statusOf(err);
    this.status(reqid, code, message);
  }

  private status(reqid: number, code: number, message?: string): void {
    this.reply(() => this.client.status(reqid, code, message));
  }

  /** answers the client unless the relay has closed (the channel may be gone) */
  private reply(send: () => void): void {
    if (this.closed) return;
    try {
      send();
    } catch (err) {
      this.hooks.log.debug({ err: (err as Error).message }, 'SFTP reply not sent');
    }
  }
}
