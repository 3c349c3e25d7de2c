/**
 * Every process the benchmark starts, and its clean-up. Children are spawned in their own process
 * group (a Ctrl-C in the terminal reaches only the benchmark, which then stops them in order), and
 * are stopped by pid together with all their descendants, found through /proc before the parent goes:
 * sshd's per-connection children call setsid() and would otherwise outlive the listener.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

type Cleanup = { name: string; run: () => Promise<void> };

const cleanups: Cleanup[] = [];
const live = new Set<ChildProcess>();
let cleaning: Promise<void> | null = null;

/** true once clean-up has begun (Ctrl-C or the end): nothing new is started after that */
export const isStopping = () => cleaning !== null;

/** Registers a clean-up step; steps run in reverse order of registration. */
export function onCleanup(name: string, run: () => Promise<void>): void {
  cleanups.push({ name, run });
}

/** Spawns a child that is tracked (killed with its descendants on clean-up if still running). */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  if (isStopping()) throw new Error('the benchmark is stopping');
  const child = spawn(cmd, args, { detached: true, ...opts });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

export const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));

/** pid and all its descendants (from /proc), children after their parents. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      /* the process ended while we looked */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stops a process and its descendants: `signal` to the whole tree (collected first), then SIGKILL
 * to whatever is left after `graceMs`.
 */
export async function killTree(pid: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  const tree = processTree(pid);
  for (const p of tree) {
    try {
      process.kill(p, signal);
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of tree.filter(alive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Runs every clean-up step once (idempotent), then kills any tracked child still running. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c.run();
      } catch (err) {
        process.stderr.write(`bench: clean-up "${c.name}" failed: ${(err as Error).message}\n`);
      }
    }
    for (const child of [...live]) if (child.pid) await killTree(child.pid, 'SIGKILL', 1000);
  })();
  return cleaning;
}

/** Ctrl-C, SIGTERM, SIGHUP and uncaught errors all end in cleanupAll(). */
export function installSignalHandlers(): void {
  const stop = (code: number, why: string) => {
    process.stderr.write(`\nbench: ${why}; cleaning up…\n`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => stop(130, 'interrupted'));
  process.on('SIGTERM', () => stop(143, 'terminated'));
  process.on('SIGHUP', () => stop(129, 'hang-up'));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    stop(1, 'uncaught exception');
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
    stop(1, 'unhandled rejection');
  });
}

/** CPU seconds (user + system) of one process, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields after ")": state(0) ppid(1) … utime(11) stime(12), in clock ticks (100 Hz on Linux)
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * CPU time and run-queue wait (runnable but not on a CPU) of some processes, every thread of each, in
 * seconds, from /proc/<pid>/task/<tid>/schedstat (nanoseconds). Processes or threads that end meanwhile
 * are skipped: compare two readings of the same long-lived processes.
 */
export function schedSeconds(pids: number[]): { cpu: number; wait: number } {
  let cpu = 0;
  let wait = 0;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // ended meanwhile
    }
    for (const tid of tids) {
      try {
        const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
        cpu += (onCpu ?? 0) / 1e9;
        wait += (waiting ?? 0) / 1e9;
      } catch {
        /* the thread ended meanwhile */
      }
    }
  }
  return { cpu, wait };
}

/** The pids of every process whose command name is `comm` (e.g. `postgres`: the server and all its backends), from /proc. */
export function pidsOfCommand(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm) pids.push(Number(entry));
    } catch {
      /* the process ended meanwhile */
    }
  }
  return pids;
}

/** CPU seconds of every process whose command name is `comm`, summed. */
export function cpuSecondsOfCommand(comm: string): number {
  return pidsOfCommand(comm).reduce((total, pid) => {
    try {
      return total + cpuSeconds(pid);
    } catch {
      return total; // ended meanwhile
    }
  }, 0);
}

/** Resident set size of one process in bytes (VmRSS from /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** The proxy's garbage collections so far, by kind (count, seconds), from its Prometheus /metrics. */
export async function gcStats(metricsUrl: string): Promise<Record<string, { count: number; seconds: number }>> {
  const out: Record<string, { count: number; seconds: number }> = {};
  try {
    const text = await (await fetch(metricsUrl)).text();
    for (const m of text.matchAll(/^\w*nodejs_gc_duration_seconds_(count|sum)\{kind="(\w+)"\} ([\d.e+-]+)$/gm)) {
      const e = (out[m[2]] ??= { count: 0, seconds: 0 });
      if (m[1] === 'count') e.count = Number(m[3]);
      else e.seconds = Number(m[3]);
    }
  } catch {
    /* metrics are a diagnostic: never fail a measurement over them */
  }
  return out;
}

/**
 * The process's event-loop delay since the last scrape (prom-client's default metrics reset their
 * histogram on every scrape): p50, p90, p99 and max in ms, null when the metrics could not be read.
 */
export async function loopDelay(metricsUrl: string): Promise<{ p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number } | null> {
  try {
    const text = await (await fetch(metricsUrl)).text();
    const read = (name: string) => Number(new RegExp(`^\\w*nodejs_eventloop_lag_${name}_seconds ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
    const [p50Ms, p90Ms, p99Ms, maxMs] = [read('p50'), read('p90'), read('p99'), read('max')];
    return [p50Ms, p90Ms, p99Ms, maxMs].every(Number.isFinite) ? { p50Ms, p90Ms, p99Ms, maxMs } : null;
  } catch {
    return null; // a diagnostic: never fail a measurement over it
  }
}

/** The machine's CPU busy fraction (all cores, from /proc/stat) between two readings of `cpuTicks()`. */
export function cpuTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
