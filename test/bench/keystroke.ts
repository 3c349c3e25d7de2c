/**
 * Keystroke round trip: `ssh -tt host 'stty raw -echo; echo READY; exec cat'` — a pty on the device,
 * raw mode so every byte reaches cat at once, no echo so each byte comes back exactly once. One byte is
 * written to ssh's stdin and the clock (process.hrtime) stops when it is read back from ssh's stdout;
 * the next byte goes at once. The same Node loop measures every path, so its overhead cancels in ratios.
 */
import { exited, processTree, schedSeconds, spawnTracked } from './procs.js';
import { HOST, PATHS, median, quantile, round, type PathName } from './measure.js';
import type { Stack } from './stack.js';

export interface EchoRun {
  path: PathName;
  medianUs: number;
  p99Us: number;
  maxUs: number;
  samples: number;
  /** every round trip in order (µs), for looking at the tail */
  samplesUs: number[];
  /**
   * The hop's own processes (Portcullis: the proxy, every thread; the jump host: its sshd's processes for
   * this connection and the client's `ssh -W` child; none for direct) over the counted echoes: CPU time
   * and run-queue wait (runnable but not on a CPU) per echo, µs. The device's sshd and cat and the client
   * are the same on every path and not counted.
   */
  relayCpuUsPerEcho?: number;
  relayWaitUsPerEcho?: number;
}

export interface KeystrokeResult {
  echoes: number;
  /** echoes at the start of each run not counted (reports from before it was recorded used 50) */
  warmup?: number;
  runs: EchoRun[];
  /** median over runs of the per-run median / p99 */
  medianUs: Record<PathName, number>;
  p99Us: Record<PathName, number>;
  /** median over runs of the hop's CPU and run-queue wait per echo (jump and portcullis; see EchoRun) */
  hopCpuUs?: Record<'jump' | 'portcullis', number>;
  hopWaitUs?: Record<'jump' | 'portcullis', number>;
}

// echoes not counted, and a pause after the session is live (its start is still being recorded:
// session row, audit event, recording header), so the figure is the steady state of a live session.
// 3,000, not 50: a freshly started proxy compiles its relay path (ssh2's parser and ciphers, the relay,
// the recorder) during its first thousands of packets, and those compilations were the p99 — 1.9–3.1 ms
// after 50 echoes, 0.29–0.36 ms after 3,000 (the jump host 0.5–1.5 → 0.23–0.29 ms; direct unchanged). A
// proxy in service has compiled it long before a technician's session; the warm-up is the same for all paths.
const WARMUP = Number(process.env.BENCH_ECHO_WARMUP ?? 3000);
const SETTLE_MS = Number(process.env.BENCH_ECHO_SETTLE_MS ?? 100);

export async function echoRun(stack: Stack, p: PathName, echoes: number): Promise<EchoRun> {
  const child = spawnTracked('ssh', ['-F', stack.sshConfig, '-tt', HOST[p], 'stty raw -echo; echo READY; exec cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const out = child.stdout!;
  let waiting: ((b: Buffer) => void) | null = null;
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      seen += d.toString('latin1');
      if (seen.includes('READY')) {
        out.off('data', onData);
        resolve();
      }
    };
    out.on('data', onData);
    child.once('exit', (code) => reject(new Error(`ssh via ${p} exited (${code}) before the echo loop: ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, SETTLE_MS)); // let "READY\n" and anything after it arrive
  out.on('data', (d: Buffer) => waiting?.(d));
  out.resume();

  const samples: number[] = [];
  const relay = relayPids(stack, p, child.pid!);
  let sched0 = { cpu: 0, wait: 0 };
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < WARMUP + echoes; i++) {
    const byte = letters[i % letters.length];
    if (i === WARMUP) sched0 = schedSeconds(relay);
    const t0 = process.hrtime.bigint();
    const got = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo within 5 s via ${p}`)), 5000);
      waiting = (b) => {
        clearTimeout(timer);
        waiting = null;
        resolve(b);
      };
      child.stdin!.write(byte);
    });
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (got.toString('latin1') !== byte) throw new Error(`echo via ${p}: sent ${JSON.stringify(byte)}, got ${JSON.stringify(got.toString('latin1'))}`);
    if (i >= WARMUP) samples.push(us);
  }
  const sched1 = schedSeconds(relay);
  const perEcho = (s: number) => round((s * 1e6) / echoes, 1);
  const relayFigures = relay.length ? { relayCpuUsPerEcho: perEcho(sched1.cpu - sched0.cpu), relayWaitUsPerEcho: perEcho(sched1.wait - sched0.wait) } : {};
  // a raw-mode cat on a pty never sees EOF: end the client (the session ends as client_closed)
  child.kill('SIGTERM');
  await exited(child);
  return { path: p, medianUs: round(median(samples), 1), p99Us: round(quantile(samples, 0.99), 1), maxUs: round(Math.max(...samples), 1), samples: samples.length, samplesUs: samples.map((v) => round(v, 1)), ...relayFigures };
}

/** The processes of the hop between client and device on path `p` (see EchoRun.relayCpuUsPerEcho). */
function relayPids(stack: Stack, p: PathName, clientPid: number): number[] {
  if (p === 'portcullis') return [stack.proxy.pid];
  if (p === 'direct') return [];
  const below = (pid: number) => processTree(pid).filter((x) => x !== pid);
  return [...below(stack.jump.pid), ...below(clientPid)];
}

export async function measureKeystrokes(stack: Stack, o: { echoes: number; runs: number; log: (s: string) => void }): Promise<KeystrokeResult> {
  const runs: EchoRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    for (const p of PATHS) {
      const r = await echoRun(stack, p, o.echoes);
      runs.push(r);
      o.log(`  echo run ${i + 1}/${o.runs} ${p.padEnd(10)} median ${r.medianUs} µs  p99 ${r.p99Us} µs${r.relayCpuUsPerEcho !== undefined ? `  (hop: CPU ${r.relayCpuUsPerEcho} µs, run-queue wait ${r.relayWaitUsPerEcho} µs per echo)` : ''}`);
    }
  }
  const per = (f: (r: EchoRun) => number) => Object.fromEntries(PATHS.map((p) => [p, round(median(runs.filter((r) => r.path === p).map(f)), 1)])) as Record<PathName, number>;
  const hop = (f: (r: EchoRun) => number | undefined) => {
    const of = (p: 'jump' | 'portcullis') => round(median(runs.filter((r) => r.path === p).map((r) => f(r) ?? NaN)), 1);
    return { jump: of('jump'), portcullis: of('portcullis') };
  };
  return { echoes: o.echoes, warmup: WARMUP, runs, medianUs: per((r) => r.medianUs), p99Us: per((r) => r.p99Us), hopCpuUs: hop((r) => r.relayCpuUsPerEcho), hopWaitUs: hop((r) => r.relayWaitUsPerEcho) };
}
