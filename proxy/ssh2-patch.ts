/**
 * What Portcullis's patch to ssh2 (.ci/patches/ssh2+<version>.patch, applied by `patch-package` from
 * the `postinstall` script; README "Benchmark" says why and has the text offered upstream) exports on
 * `ssh2/lib/protocol/crypto`, to check that the installed ssh2 carries it:
 * - packet padding from a pool of CSPRNG output refilled 64 KiB at a time and consumed in order, each
 *   byte once, instead of one randomFillSync() per packet (~6 µs each, a third of the proxy's CPU per
 *   keystroke);
 * - a cipher reuses a packet's memory for its next packet once the TCP socket reported that it let go
 *   of it (written out synchronously), instead of a new ArrayBuffer per bulk packet for the GC.
 * Unpatched, the proxy works exactly the same, only slower: the broker warns at start.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface Ssh2PaddingPool {
  /** writes `len` padding bytes into `buf` at `offset`, from the pool */
  fill(buf: Uint8Array, offset: number, len: number): void;
  /** bytes in one fill of the pool */
  poolSize: number;
  /** bytes of the current fill used so far (poolSize: used up, the next packet refills it) */
  readonly position: number;
}

interface PatchedCrypto {
  padding?: Partial<Ssh2PaddingPool>;
  packetReuse?: { minSize?: number };
}

function patchedCrypto(): PatchedCrypto | null {
  try {
    return require('ssh2/lib/protocol/crypto') as PatchedCrypto;
  } catch {
    return null;
  }
}

/** The patched padding pool of the installed ssh2, or null when the patch is not applied. */
export function ssh2PaddingPool(): Ssh2PaddingPool | null {
  const padding = patchedCrypto()?.padding;
  return padding && typeof padding.fill === 'function' && typeof padding.poolSize === 'number' ? (padding as Ssh2PaddingPool) : null;
}

/** True when the installed ssh2 carries the whole patch (pooled padding and packet reuse). */
export function ssh2PatchApplied(): boolean {
  return ssh2PaddingPool() !== null && typeof patchedCrypto()?.packetReuse?.minSize === 'number';
}
