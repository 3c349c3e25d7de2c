/**
 * Summarises a V8 .cpuprofile (`node --cpu-prof`): self time by function and by where the code comes
 * from (our proxy, ssh2, node internals, native/GC), so a missed target can be traced to its cause.
 * Usable on its own: `node --import tsx test/bench/profile.ts <file.cpuprofile>`.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileSummary {
  totalMs: number;
  byFunction: { name: string; where: string; selfMs: number; pct: number }[];
  byOrigin: { origin: string; selfMs: number; pct: number }[];
}

function origin(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  if (url.includes('/node_modules/ssh2/')) return 'ssh2';
  if (url.includes('/node_modules/')) return `npm:${url.split('/node_modules/').pop()!.split('/')[0]}`;
  if (url.includes('/proxy/')) return 'proxy (ours)';
  if (url.includes('/server/')) return 'server (ours)';
  if (url.startsWith('node:')) return 'node internals';
  return 'other';
}

/** `skipMs`: ignore the first samples (start-up: module loading, migrations check) */
export function summarise(p: CpuProfile, top = 25, skipMs = 0): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += (p.timeDeltas[i] ?? 0) / 1000;
    if (at < skipMs) continue;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const fn = new Map<string, { name: string; where: string; selfMs: number }>();
  const org = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    total += ms;
    const short = url ? `${url.replace(/^.*\/(node_modules\/|proxy\/|server\/)/, '$1')}:${lineNumber + 1}` : '';
    const key = `${functionName}@${short}`;
    const e = fn.get(key) ?? { name: functionName || '(anonymous)', where: short, selfMs: 0 };
    e.selfMs += ms;
    fn.set(key, e);
    const o = origin(url, functionName);
    org.set(o, (org.get(o) ?? 0) + ms);
  }
  const pct = (ms: number) => Number(((100 * ms) / total).toFixed(1));
  return {
    totalMs: Math.round(total),
    byFunction: [...fn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top).map((e) => ({ ...e, selfMs: Math.round(e.selfMs), pct: pct(e.selfMs) })),
    byOrigin: [...org.entries()].sort((a, b) => b[1] - a[1]).map(([o, ms]) => ({ origin: o, selfMs: Math.round(ms), pct: pct(ms) })),
  };
}

export function summaryMarkdown(s: ProfileSummary, title: string): string {
  const lines = [`## ${title}`, '', `Busy (non-idle) samples: ${s.totalMs} ms (wall-clock sampling: inflated when the machine is overloaded).`, '', '| origin | self ms | % |', '|---|---|---|'];
  for (const o of s.byOrigin) lines.push(`| ${o.origin} | ${o.selfMs} | ${o.pct} |`);
  lines.push('', '| function | where | self ms | % |', '|---|---|---|---|');
  for (const f of s.byFunction) lines.push(`| ${f.name} | ${f.where} | ${f.selfMs} | ${f.pct} |`);
  return lines.join('\n') + '\n';
}

export async function summariseFile(file: string, skipMs = 0): Promise<ProfileSummary> {
  return summarise(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, 25, skipMs);
}

// `node --import tsx test/bench/profile.ts [--skip-ms N] file.cpuprofile…`
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--skip-ms');
  const skip = i >= 0 ? Number(args.splice(i, 2)[1]) : 0;
  for (const f of args) process.stdout.write(summaryMarkdown(await summariseFile(f, skip), f));
}
