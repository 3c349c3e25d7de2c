/**
 * Patch delivery policy (§8.3), pure: the `allowSftp` alias, device paths under `transferPaths`, the
 * per-file size limit and declared artifacts. Invariants: a path is judged only in its normalised
 * absolute form (no `..` can climb out of a prefix); `allowSftp` is never stored, it reads as
 * `allowUpload && allowDownload`; a declared artifact matches by SHA-256 (and size, when declared).
 */
import path from 'node:path';
import type { DeclaredArtifact, DevicePolicy } from './types.js';

const MIB = 1024 * 1024;

/**
 * The deprecated `allowSftp` written as what it stands for: both allow flags. A flag given explicitly
 * in the same change wins over the alias. The alias itself is dropped (it is derived on read).
 */
export function expandPolicyAliases<P extends Partial<DevicePolicy>>(policy: P): Omit<P, 'allowSftp'> {
  const { allowSftp, ...rest } = policy;
  if (allowSftp === undefined) return rest;
  return { ...rest, allowUpload: rest.allowUpload ?? allowSftp, allowDownload: rest.allowDownload ?? allowSftp };
}

/** A complete policy with its alias read back (`allowSftp` = both allow flags). */
export function withSftpAlias(policy: Omit<DevicePolicy, 'allowSftp'> & { allowSftp?: boolean }): DevicePolicy {
  return { ...policy, allowSftp: policy.allowUpload && policy.allowDownload };
}

/** An absolute device path with `.`, `..` and repeated slashes resolved lexically; null if not absolute. */
export function normaliseDevicePath(p: string): string | null {
  if (!p.startsWith('/') || p.includes('\0')) return null;
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** True when `devicePath` (absolute, normalised) lies in one of `prefixes` (empty: anywhere). */
export function withinTransferPaths(devicePath: string, prefixes: string[]): boolean {
  if (prefixes.length === 0) return true;
  const p = normaliseDevicePath(devicePath);
  if (p === null) return false;
  return prefixes.some((raw) => {
    const prefix = normaliseDevicePath(raw);
    if (prefix === null) return false;
    return prefix === '/' || p === prefix || p.startsWith(`${prefix}/`);
  });
}

/** The byte limit of one transfer under the policy. */
export const maxTransferBytes = (policy: Pick<DevicePolicy, 'maxTransferMiB'>) => policy.maxTransferMiB * MIB;

/** The declared artifact an upload of `sha256` and `bytes` is, if any. */
export function matchArtifact(artifacts: DeclaredArtifact[], sha256: string, bytes: number): DeclaredArtifact | null {
  const hash = sha256.toLowerCase();
  return artifacts.find((a) => a.sha256.toLowerCase() === hash && (a.sizeBytes === undefined || a.sizeBytes === bytes)) ?? null;
}
