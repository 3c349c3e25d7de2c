/** Statistics, a worker pool, and the one way every measurement runs the real OpenSSH client. */
import os from 'node:os';
import { exited, spawnTracked } from './procs.js';

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  // nearest-rank: p99 of 10 samples is the largest; of 1,000 the 990th
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** a pool of `n` workers over `items` */
export async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

export const median = (v: number[]) => {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const round = (v: number, digits = 1) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

export const loadavg = () => os.loadavg().map((v) => round(v, 2)) as [number, number, number];

export type PathName = 'direct' | 'jump' | 'portcullis';
export const PATHS: PathName[] = ['direct', 'jump', 'portcullis'];
/** the Host of the generated ssh_config for each path */
export const HOST: Record<PathName, string> = { direct: 'direct', jump: 'viajump', portcullis: 'portcullis' };

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** spawn to exit, hi-res */
  wallMs: number;
  /** Date.now() when the ssh process had exited (same clock as the device's `date`) */
  exitedAtMs: number;
}

/**
 * Runs `sh -c <shellLine>` (for local pipes and redirections) and collects stdout/stderr (not for bulk
 * data: bulk output goes to /dev/null inside shellLine).
 */
export async function runShell(shellLine: string, timeoutMs = 600_000): Promise<SshResult> {
  const t0 = process.hrtime.bigint();
  const child = spawnTracked('sh', ['-c', shellLine], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited(child);
  const exitedAtMs = Date.now();
  clearTimeout(timer);
  return { code, stdout, stderr, wallMs: Number(process.hrtime.bigint() - t0) / 1e6, exitedAtMs };
}

/** Single-quotes a string for sh. */
export const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export const sshLine = (config: string, host: string, remote: string, extra = '') => `exec ssh -F ${sq(config)} ${extra} ${host} ${sq(remote)}`;
