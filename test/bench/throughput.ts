/**
 * Throughput with the real OpenSSH client: upload (stdin to `cat >/dev/null` on the device) and
 * download (binary: /dev/zero; text: base64 of random bytes; random: /dev/urandom, which is not valid UTF-8 — a
 * firmware image or a disk dump — and so is recorded as "b" events with their display form), directly, through `ssh -J` and through
 * Portcullis, the three paths interleaved in every round so load from elsewhere hits all of them.
 *
 * Connection set-up is kept out of the figure (it is measured on its own): the device's shell prints
 * `date +%s%N` when the command starts; an upload ends when the device's `cat` has read everything
 * (second timestamp), a download when the local ssh has exited. Same machine, same clock.
 * For Portcullis runs: the proxy's CPU seconds (utime+stime from /proc) and the recording's size.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { cpuSeconds, gcStats } from './procs.js';
import { HOST, PATHS, median, round, runShell, sq, sshLine, type PathName } from './measure.js';
import type { Stack } from './stack.js';

export type Scenario = 'upload-binary' | 'upload-text' | 'download-binary' | 'download-text' | 'download-random';
export const SCENARIOS: Scenario[] = ['upload-binary', 'upload-text', 'download-binary', 'download-text', 'download-random'];
/** the downloads, whose recordings are measured */
export const DOWNLOADS = ['download-binary', 'download-text', 'download-random'] as const;
export type Download = (typeof DOWNLOADS)[number];

export interface RecordingInfo {
  sessionId: string;
  bytesOut: number;
  recordingBytes: number;
  binaryKeptEvents: number;
  backlogDroppedBytes: number;
}

export interface TransferRun {
  path: PathName;
  mibPerS: number;
  seconds: number;
  wallMs: number;
  proxyCpuS?: number;
  /** the proxy's full (mark-compact) garbage collections during the run, and their seconds */
  proxyMajorGCs?: number;
  proxyMajorGCSeconds?: number;
  recording?: RecordingInfo;
}

export interface ThroughputResult {
  mib: number;
  runs: Record<Scenario, TransferRun[]>;
  medianMiBps: Record<Scenario, Record<PathName, number>>;
  /** proxy CPU seconds per GiB relayed, median over the Portcullis runs */
  proxyCpuSPerGiB: Record<Scenario, number>;
  /** the proxy's full GCs per GiB relayed, median over the Portcullis runs */
  proxyMajorGCsPerGiB: Record<Scenario, number>;
  recording: Record<Download, { outputBytes: number; recordingBytes: number; ratio: number; binaryKeptEvents: number; backlogDroppedBytes: number }>;
}

const UPLOAD_REMOTE = 't0=$(date +%s%N); cat >/dev/null; t1=$(date +%s%N); echo "$t0 $t1"';

/** base64 of random bytes, exactly `bytes` long, readable by the device user */
export async function makeTextFile(file: string, bytes: number): Promise<void> {
  const r = await runShell(`head -c ${Math.ceil((bytes * 3) / 4) + 1024} /dev/urandom | base64 | head -c ${bytes} > ${sq(file)}`);
  if (r.code !== 0) throw new Error(`could not write ${file}: ${r.stderr}`);
  await fs.chmod(file, 0o644);
}

const nsToMs = (ns: string) => Number(BigInt(ns) / 1000n) / 1000;

async function transfer(stack: Stack, scenario: Scenario, p: PathName, bytes: number, textFile: string): Promise<TransferRun> {
  const host = HOST[p];
  let line: string;
  if (scenario === 'upload-binary') line = `head -c ${bytes} /dev/zero | ${sshLine(stack.sshConfig, host, UPLOAD_REMOTE)}`;
  else if (scenario === 'upload-text') line = `${sshLine(stack.sshConfig, host, UPLOAD_REMOTE)} < ${sq(textFile)}`;
  else if (scenario === 'download-binary') line = `${sshLine(stack.sshConfig, host, `date +%s%N >&2; exec head -c ${bytes} /dev/zero`)} > /dev/null`;
  else if (scenario === 'download-random') line = `${sshLine(stack.sshConfig, host, `date +%s%N >&2; exec head -c ${bytes} /dev/urandom`)} > /dev/null`;
  else line = `${sshLine(stack.sshConfig, host, `date +%s%N >&2; exec cat ${sq(textFile)}`)} > /dev/null`;

  const gc0 = p === 'portcullis' ? await gcStats(stack.proxyMetricsUrl) : {};
  const cpu0 = p === 'portcullis' ? cpuSeconds(stack.proxy.pid) : 0;
  const r = await runShell(line);
  const cpu1 = p === 'portcullis' ? cpuSeconds(stack.proxy.pid) : 0;
  const gc1 = p === 'portcullis' ? await gcStats(stack.proxyMetricsUrl) : {};
  if (r.code !== 0) throw new Error(`${scenario} via ${p} failed (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
  let seconds: number;
  if (scenario.startsWith('upload')) {
    const [t0, t1] = r.stdout.trim().split(/\s+/);
    seconds = (nsToMs(t1) - nsToMs(t0)) / 1000;
  } else {
    const t0 = /^(\d{16,})$/m.exec(r.stderr)?.[1];
    if (!t0) throw new Error(`${scenario} via ${p}: no start time in stderr: ${r.stderr.slice(0, 300)}`);
    seconds = (r.exitedAtMs - nsToMs(t0)) / 1000;
  }
  const run: TransferRun = { path: p, seconds: round(seconds, 4), mibPerS: round(bytes / 1048576 / seconds, 1), wallMs: round(r.wallMs, 1) };
  if (p === 'portcullis') {
    run.proxyCpuS = round(cpu1 - cpu0, 2);
    run.proxyMajorGCs = (gc1.major?.count ?? 0) - (gc0.major?.count ?? 0);
    run.proxyMajorGCSeconds = round((gc1.major?.seconds ?? 0) - (gc0.major?.seconds ?? 0), 3);
    if (scenario.startsWith('download')) run.recording = await lastRecording(stack);
  }
  return run;
}

/** The newest session of the bench grant, once ended and its recording finalised; the file is then deleted. */
export async function lastRecording(stack: Stack): Promise<RecordingInfo> {
  for (let i = 0; i < 300; i++) {
    const list = await stack.api.ok('GET', `/api/sessions?grantId=${stack.grant.id}&limit=1`, stack.adminToken);
    const s = list.items[0];
    if (s?.endedAt) {
      const full = await stack.api.ok('GET', `/api/sessions/${s.id}`, stack.adminToken);
      if (full.recording?.finalisedAt) {
        const notes = await scanNotices(full.recording.path);
        await fs.rm(full.recording.path, { force: true }); // disk budget: recordings of 512 MiB of text add up
        return { sessionId: s.id, bytesOut: s.bytesOut, recordingBytes: full.recording.sizeBytes, ...notes };
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the session did not end or its recording was not finalised');
}

/**
 * Counts what a cast file says it could not record: the recorder's "recording backlog: N bytes not
 * recorded" markers, and the bytes kept as "b" events (output that is not valid UTF-8, kept exactly).
 */
async function scanNotices(file: string): Promise<{ binaryKeptEvents: number; backlogDroppedBytes: number }> {
  let binaryKeptEvents = 0;
  let backlogDroppedBytes = 0;
  let tail = '';
  for await (const chunk of createReadStream(file, { encoding: 'latin1', highWaterMark: 4 << 20 })) {
    const text = tail + (chunk as string);
    const re = /"m", "recording backlog: (\d+) bytes not recorded"|, "b", "[oi]:/g;
    let m: RegExpExecArray | null;
    let consumed = 0;
    while ((m = re.exec(text))) {
      if (m[1]) backlogDroppedBytes += Number(m[1]);
      else binaryKeptEvents++;
      consumed = re.lastIndex;
    }
    tail = text.slice(Math.max(consumed, text.length - 200));
  }
  return { binaryKeptEvents, backlogDroppedBytes };
}

export async function measureThroughput(stack: Stack, o: { mib: number; runs: number; log: (s: string) => void; scenarios?: Scenario[] }): Promise<ThroughputResult> {
  const bytes = Math.round(o.mib * 1048576);
  const textFile = path.join(stack.tmp, 'text.b64');
  o.log(`  writing ${o.mib} MiB of base64 text…`);
  await makeTextFile(textFile, bytes);
  const scenarios = o.scenarios ?? SCENARIOS;
  const runs = Object.fromEntries(SCENARIOS.map((s) => [s, [] as TransferRun[]])) as Record<Scenario, TransferRun[]>;
  try {
    for (const scenario of scenarios) {
      for (let i = 0; i < o.runs; i++) {
        for (const p of PATHS) {
          const r = await transfer(stack, scenario, p, bytes, textFile);
          runs[scenario].push(r);
          const extra = r.proxyCpuS !== undefined ? `  proxy CPU ${r.proxyCpuS} s, ${r.proxyMajorGCs} full GCs (${r.proxyMajorGCSeconds} s)` : '';
          o.log(`  ${scenario.padEnd(15)} run ${i + 1}/${o.runs} ${p.padEnd(10)} ${String(r.mibPerS).padStart(7)} MiB/s${extra}`);
        }
      }
    }
  } finally {
    await fs.rm(textFile, { force: true });
  }
  const medianMiBps = Object.fromEntries(SCENARIOS.map((s) => [s, Object.fromEntries(PATHS.map((p) => [p, round(median(runs[s].filter((r) => r.path === p).map((r) => r.mibPerS)), 1)]))])) as ThroughputResult['medianMiBps'];
  const gib = bytes / 1073741824;
  const proxyCpuSPerGiB = Object.fromEntries(SCENARIOS.map((s) => [s, round(median(runs[s].filter((r) => r.path === 'portcullis').map((r) => r.proxyCpuS! / gib)), 2)])) as Record<Scenario, number>;
  const proxyMajorGCsPerGiB = Object.fromEntries(SCENARIOS.map((s) => [s, round(median(runs[s].filter((r) => r.path === 'portcullis').map((r) => r.proxyMajorGCs! / gib)), 1)])) as Record<Scenario, number>;
  const recSummary = (s: Download) => {
    const recs = runs[s].filter((r) => r.recording).map((r) => r.recording!);
    const pick = (f: (r: RecordingInfo) => number) => median(recs.map(f));
    const outputBytes = pick((r) => r.bytesOut);
    const recordingBytes = pick((r) => r.recordingBytes);
    return { outputBytes, recordingBytes, ratio: round(recordingBytes / outputBytes, 4), binaryKeptEvents: pick((r) => r.binaryKeptEvents), backlogDroppedBytes: pick((r) => r.backlogDroppedBytes) };
  };
  return { mib: o.mib, runs, medianMiBps, proxyCpuSPerGiB, proxyMajorGCsPerGiB, recording: Object.fromEntries(DOWNLOADS.map((s) => [s, recSummary(s)])) as ThroughputResult['recording'] };
}
