/**
 * Where on the device an SFTP request may reach (§8.3 `transferPaths`). A path is judged as the
 * device resolves it: the parent directory through the device's REALPATH (so `..` and symlinked
 * directories cannot climb out of a prefix), the last component appended; when that component is a
 * symlink that will be followed, its target (the device's REALPATH of it) must lie inside too.
 * A path whose parent does not exist is answered with the device's own error.
 */
import path from 'node:path';
import { normaliseDevicePath, withinTransferPaths } from '../../server/core/transfer-policy.js';

/** What the judge asks the device (its SFTP server). */
export interface DeviceLookup {
  realpath(p: string): Promise<string>;
  /** null when there is no such file */
  lstat(p: string): Promise<{ isSymbolicLink(): boolean } | null>;
}

export type Resolved =
  | { ok: true; path: string; existed: boolean }
  | { ok: false; path: string; reason: string };

const outside = (p: string, prefixes: string[]) =>
  `${p} is outside the device's transfer paths (${prefixes.join(', ')})`;

/**
 * Resolves a file path the technician named. `follow`: the operation follows a final symlink
 * (open, setstat), so its target is checked too; otherwise (remove, rename, symlink) the link itself is.
 */
export async function resolveFile(device: DeviceLookup, raw: string, prefixes: string[], follow: boolean): Promise<Resolved> {
  const name = raw === '' ? '.' : raw;
  const base = path.posix.basename(name);
  if (base === '.' || base === '..' || base === '' || name.endsWith('/')) return resolveDirectory(device, name, prefixes);
  const parent = await device.realpath(path.posix.dirname(name));
  const candidate = normaliseDevicePath(path.posix.join(parent, base)) ?? name;
  if (!withinTransferPaths(candidate, prefixes)) return { ok: false, path: candidate, reason: outside(candidate, prefixes) };
  const st = await device.lstat(candidate);
  if (st?.isSymbolicLink() && follow && prefixes.length > 0) {
    const target = await device.realpath(candidate).catch(() => null);
    if (target === null) return { ok: false, path: candidate, reason: `${candidate} is a symlink whose target cannot be resolved` };
    if (!withinTransferPaths(target, prefixes)) return { ok: false, path: candidate, reason: `${candidate} links to ${target}, which ${outside(target, prefixes).slice(target.length + 1)}` };
  }
  return { ok: true, path: candidate, existed: st !== null };
}

/** Resolves a directory path (opendir, rmdir) wholly through the device's REALPATH. */
export async function resolveDirectory(device: DeviceLookup, raw: string, prefixes: string[]): Promise<Resolved> {
  const real = await device.realpath(raw === '' ? '.' : raw);
  const p = normaliseDevicePath(real) ?? real;
  return withinTransferPaths(p, prefixes) ? { ok: true, path: p, existed: true } : { ok: false, path: p, reason: outside(p, prefixes) };
}

/** A symlink's target as the device would find it from the link's directory (lexically: it need not exist). */
export function symlinkTarget(linkPath: string, target: string): string {
  return normaliseDevicePath(target.startsWith('/') ? target : path.posix.join(path.posix.dirname(linkPath), target)) ?? target;
}
