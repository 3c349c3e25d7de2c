/**
 * Patch delivery with the real OpenSSH `scp` (SFTP mode, the default): upload and download of one file
 * of random bytes, directly, through `ssh -J` and through Portcullis (SFTP relay: hashing, transfer
 * record, audit and recording on), the three paths interleaved in every round.
 *
 * The figure is the file's size over the wall time of the `scp` process, so connection set-up is
 * included, equally for all three paths. For Portcullis runs: the proxy's RSS before the transfer and
 * its peak during it (VmRSS sampled every 100 ms), its CPU seconds, and the transfer's record (outcome
 * `complete`, SHA-256 equal to the file's), read back through the API.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { HOST, PATHS, median, round, runShell, sq, type PathName } from './measure.js';
import { cpuSeconds, rssBytes } from './procs.js';
import type { Stack } from './stack.js';

export type ScpScenario = 'scp-upload' | 'scp-download';
export const SCP_SCENARIOS: ScpScenario[] = ['scp-upload', 'scp-download'];

export interface ScpRecord {
  outcome: string;
  sha256: string | null;
  bytes: number;
  /** outcome complete, SHA-256 equal to the file's, all bytes */
  ok: boolean;
}

export interface ScpRun {
  path: PathName;
  mibPerS: number;
  wallMs: number;
  proxyCpuS?: number;
  proxyRssBeforeMB?: number;
  proxyRssPeakMB?: number;
  proxyRssGrowthMB?: number;
  record?: ScpRecord;
}

export interface ScpResult {
  mib: number;
  sha256: string;
  runs: Record<ScpScenario, ScpRun[]>;
  medianMiBps: Record<ScpScenario, Record<PathName, number>>;
  /** the largest growth (peak during − before) over the Portcullis runs, MB */
  maxRssGrowthMB: Record<ScpScenario, number>;
  /** every Portcullis run's transfer was recorded complete with the file's SHA-256 */
  recordsOk: Record<ScpScenario, boolean>;
  proxyCpuSPerGiB: Record<ScpScenario, number>;
}

interface TransferJson { direction: string; path: string; bytes: number; sha256: string | null; outcome: string; startedAt: string }

const MB = 1e6;

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The transfer the proxy recorded for this run (by SHA-256, direction, device path, not before the run). */
async function recordOf(stack: Stack, o: { sha256: string; direction: 'upload' | 'download'; devicePath: string; since: number; bytes: number }): Promise<ScpRecord> {
  let last: TransferJson | undefined;
  for (let i = 0; i < 100; i++) {
    const list = await stack.api.ok('GET', `/api/transfers?sha256=${o.sha256}&limit=50`, stack.adminToken);
    last = (list.items as TransferJson[]).find((t) => t.direction === o.direction && t.path === o.devicePath && Date.parse(t.startedAt) >= o.since - 1000);
    if (last) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!last) return { outcome: 'not recorded', sha256: null, bytes: 0, ok: false };
  return { outcome: last.outcome, sha256: last.sha256, bytes: Number(last.bytes), ok: last.outcome === 'complete' && last.sha256 === o.sha256 && Number(last.bytes) === o.bytes };
}

async function scpOnce(stack: Stack, scenario: ScpScenario, p: PathName, o: { file: string; sha256: string; bytes: number; deviceDir: string; localDir: string; n: number }): Promise<ScpRun> {
  const host = HOST[p];
  // the device is this machine: the device-side path of a download is the local random file itself
  const devicePath = scenario === 'scp-upload' ? path.join(o.deviceDir, `up-${p}-${o.n}.bin`) : o.file;
  const target = scenario === 'scp-upload' ? devicePath : path.join(o.localDir, `down-${p}-${o.n}.bin`);
  const line = scenario === 'scp-upload'
    ? `exec scp -q -F ${sq(stack.sshConfig)} ${sq(o.file)} ${sq(`${host}:${devicePath}`)}`
    : `exec scp -q -F ${sq(stack.sshConfig)} ${sq(`${host}:${devicePath}`)} ${sq(target)}`;

  const proxy = p === 'portcullis' ? stack.proxy.pid : 0;
  const rss0 = proxy ? rssBytes(proxy) : 0;
  const cpu0 = proxy ? cpuSeconds(proxy) : 0;
  let peak = rss0;
  const sampler = proxy ? setInterval(() => (peak = Math.max(peak, rssBytes(proxy))), 100) : undefined;
  const since = Date.now();
  const r = await runShell(line).finally(() => clearInterval(sampler));
  if (proxy) peak = Math.max(peak, rssBytes(proxy));
  const cpu1 = proxy ? cpuSeconds(proxy) : 0;
  try {
    if (r.code !== 0) throw new Error(`${scenario} via ${p} failed (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
    const size = (await fs.stat(target)).size;
    if (size !== o.bytes) throw new Error(`${scenario} via ${p}: ${target} has ${size} bytes, expected ${o.bytes}`);
  } finally {
    await fs.rm(target, { force: true }); // disk budget: 512 MiB per copy
  }
  const run: ScpRun = { path: p, wallMs: round(r.wallMs, 1), mibPerS: round(o.bytes / 1048576 / (r.wallMs / 1000), 1) };
  if (proxy) {
    run.proxyCpuS = round(cpu1 - cpu0, 2);
    run.proxyRssBeforeMB = round(rss0 / MB, 1);
    run.proxyRssPeakMB = round(peak / MB, 1);
    run.proxyRssGrowthMB = round((peak - rss0) / MB, 1);
    run.record = await recordOf(stack, { sha256: o.sha256, direction: scenario === 'scp-upload' ? 'upload' : 'download', devicePath, since, bytes: o.bytes });
  }
  return run;
}

export async function measureScp(stack: Stack, o: { mib: number; runs: number; log: (s: string) => void; scenarios?: ScpScenario[] }): Promise<ScpResult> {
  const bytes = Math.round(o.mib * 1048576);
  const work = await fs.mkdtemp(path.join(stack.tmp, 'scp-'));
  await fs.chmod(work, 0o755);
  const deviceDir = path.join(work, 'device');
  await fs.mkdir(deviceDir);
  await fs.chmod(deviceDir, 0o777); // written by the device's login user
  const file = path.join(work, 'random.bin');
  const scenarios = o.scenarios ?? SCP_SCENARIOS;
  const runs = Object.fromEntries(SCP_SCENARIOS.map((s) => [s, [] as ScpRun[]])) as Record<ScpScenario, ScpRun[]>;
  let sha256 = '';
  try {
    o.log(`  writing ${o.mib} MiB of random bytes…`);
    const w = await runShell(`head -c ${bytes} /dev/urandom > ${sq(file)}`);
    if (w.code !== 0) throw new Error(`could not write ${file}: ${w.stderr}`);
    await fs.chmod(file, 0o644); // the device's login user reads it (downloads)
    sha256 = await sha256File(file);
    for (const scenario of scenarios) {
      for (let i = 0; i < o.runs; i++) {
        for (const p of PATHS) {
          const r = await scpOnce(stack, scenario, p, { file, sha256, bytes, deviceDir, localDir: work, n: i });
          runs[scenario].push(r);
          const extra = r.record
            ? `  proxy RSS ${r.proxyRssBeforeMB} → peak ${r.proxyRssPeakMB} MB (+${r.proxyRssGrowthMB}), CPU ${r.proxyCpuS} s, record ${r.record.outcome}${r.record.ok ? ', sha256 equal' : ' MISMATCH'}`
            : '';
          o.log(`  ${scenario.padEnd(15)} run ${i + 1}/${o.runs} ${p.padEnd(10)} ${String(r.mibPerS).padStart(7)} MiB/s${extra}`);
        }
      }
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  const pc = (s: ScpScenario) => runs[s].filter((r) => r.path === 'portcullis');
  const gib = bytes / 1073741824;
  return {
    mib: o.mib,
    sha256,
    runs,
    medianMiBps: Object.fromEntries(SCP_SCENARIOS.map((s) => [s, Object.fromEntries(PATHS.map((p) => [p, round(median(runs[s].filter((r) => r.path === p).map((r) => r.mibPerS)), 1)]))])) as ScpResult['medianMiBps'],
    maxRssGrowthMB: Object.fromEntries(SCP_SCENARIOS.map((s) => [s, pc(s).length ? Math.max(...pc(s).map((r) => r.proxyRssGrowthMB!)) : NaN])) as Record<ScpScenario, number>,
    recordsOk: Object.fromEntries(SCP_SCENARIOS.map((s) => [s, pc(s).length > 0 && pc(s).every((r) => r.record?.ok)])) as Record<ScpScenario, boolean>,
    proxyCpuSPerGiB: Object.fromEntries(SCP_SCENARIOS.map((s) => [s, round(median(pc(s).map((r) => r.proxyCpuS! / gib)), 2)])) as Record<ScpScenario, number>,
  };
}
