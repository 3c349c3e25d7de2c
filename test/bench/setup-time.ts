/**
 * Connection set-up: wall time of `ssh host true` (key exchange, authentication — for Portcullis the
 * certificate verification and the grant check in the database —, the device connection, exec, exit).
 */
import { HOST, PATHS, median, quantile, round, runShell, sshLine, type PathName } from './measure.js';
import type { Stack } from './stack.js';

export interface SetupResult {
  runs: number;
  samplesMs: Record<PathName, number[]>;
  medianMs: Record<PathName, number>;
  p90Ms: Record<PathName, number>;
}

export async function measureSetup(stack: Stack, o: { runs: number; log: (s: string) => void }): Promise<SetupResult> {
  const samplesMs = { direct: [], jump: [], portcullis: [] } as Record<PathName, number[]>;
  for (const p of PATHS) await runShell(sshLine(stack.sshConfig, HOST[p], 'true')); // warm caches, not counted
  for (let i = 0; i < o.runs; i++) {
    for (const p of PATHS) {
      const r = await runShell(sshLine(stack.sshConfig, HOST[p], 'true'));
      if (r.code !== 0) throw new Error(`ssh ${p} true failed (${r.code}): ${r.stderr}`);
      samplesMs[p].push(round(r.wallMs, 1));
    }
  }
  const medianMs = Object.fromEntries(PATHS.map((p) => [p, round(median(samplesMs[p]), 1)])) as Record<PathName, number>;
  const p90Ms = Object.fromEntries(PATHS.map((p) => [p, round(quantile(samplesMs[p], 0.9), 1)])) as Record<PathName, number>;
  o.log(`  ssh … true, median of ${o.runs}: ${PATHS.map((p) => `${p} ${medianMs[p]} ms`).join(', ')}`);
  return { runs: o.runs, samplesMs, medianMs, p90Ms };
}
