/** The issue's targets, checked against the measured figures, and the Markdown report. */
import type { CutoffResult } from './cutoff.js';
import type { KeystrokeResult } from './keystroke.js';
import type { MemoryResult } from './memory.js';
import type { ScpResult } from './scp.js';
import type { SetupResult } from './setup-time.js';
import { DOWNLOADS, SCENARIOS, type ThroughputResult } from './throughput.js';
import { round } from './measure.js';

export interface Results {
  throughput?: ThroughputResult;
  scp?: ScpResult;
  keystroke?: KeystrokeResult;
  setup?: SetupResult;
  cutoff?: CutoffResult;
  memory?: MemoryResult;
}

export interface Check {
  figure: string;
  target: string;
  measured: string;
  /** null: not measured at the size the target names (e.g. a smoke run) */
  pass: boolean | null;
}

const fmt = (v: number | undefined, unit = '') => (v === undefined || !Number.isFinite(v) ? '–' : `${v}${unit}`);
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? round(a / b, 2) : undefined);

export function checkTargets(r: Results): Check[] {
  const checks: Check[] = [];
  const t = r.throughput?.medianMiBps;
  if (t) {
    for (const s of ['upload-binary', 'upload-text'] as const) {
      if (!Number.isFinite(t[s].portcullis)) continue;
      const x = ratio(t[s].portcullis, t[s].direct)!;
      checks.push({ figure: `${s} vs direct`, target: '≥ 0.95×', measured: `${x}×`, pass: x >= 0.95 });
      const j = ratio(t[s].portcullis, t[s].jump)!;
      checks.push({ figure: `${s} vs ssh -J`, target: '≥ 2×', measured: `${j}×`, pass: j >= 2 });
    }
    if (Number.isFinite(t['download-text'].portcullis)) {
      const txt = ratio(t['download-text'].portcullis, t['download-text'].direct)!;
      checks.push({ figure: 'download-text vs direct', target: '≥ 0.95×', measured: `${txt}×`, pass: txt >= 0.95 });
    }
    if (Number.isFinite(t['download-binary'].portcullis)) {
      const bin = ratio(t['download-binary'].portcullis, t['download-binary'].direct)!;
      checks.push({ figure: 'download-binary vs direct', target: '≥ 0.6×', measured: `${bin}×`, pass: bin >= 0.6 });
    }
  }
  const sc = r.scp;
  if (sc) {
    for (const s of ['scp-upload', 'scp-download'] as const) {
      const m = sc.medianMiBps[s];
      if (!Number.isFinite(m.portcullis)) continue; // not measured (BENCH_SCENARIOS)
      const x = ratio(m.portcullis, m.direct)!;
      checks.push({ figure: `${s} vs direct`, target: '≥ 0.8×', measured: `${x}×`, pass: x >= 0.8 });
      const j = ratio(m.portcullis, m.jump)!;
      checks.push({ figure: `${s} vs ssh -J`, target: '≥ 1.5×', measured: `${j}×`, pass: j >= 1.5 });
      checks.push({ figure: `${s} proxy RSS growth during the transfer`, target: '≤ 64 MB', measured: `${sc.maxRssGrowthMB[s]} MB`, pass: sc.maxRssGrowthMB[s] <= 64 });
      checks.push({ figure: `${s} transfer recorded (complete, SHA-256 equal)`, target: 'every run', measured: sc.recordsOk[s] ? 'yes' : 'no', pass: sc.recordsOk[s] });
    }
  }
  if (r.keystroke) {
    const k = r.keystroke;
    checks.push({ figure: 'keystroke round trip median', target: `≤ ssh -J (${k.medianUs.jump} µs)`, measured: `${k.medianUs.portcullis} µs`, pass: k.medianUs.portcullis <= k.medianUs.jump });
    checks.push({ figure: 'keystroke round trip p99', target: '≤ 1000 µs', measured: `${k.p99Us.portcullis} µs`, pass: k.p99Us.portcullis <= 1000 });
  }
  if (r.setup) {
    const s = r.setup.medianMs;
    checks.push({ figure: 'connection setup', target: `≤ direct + 50 ms (${round(s.direct + 50, 1)} ms)`, measured: `${s.portcullis} ms`, pass: s.portcullis <= s.direct + 50 });
  }
  if (r.cutoff) {
    checks.push({ figure: 'revocation cut-off p99', target: '≤ 1000 ms', measured: `${r.cutoff.revocation.p99Ms} ms`, pass: r.cutoff.revocation.p99Ms <= 1000 });
    checks.push({ figure: 'expiry cut-off p99', target: '≤ 1000 ms', measured: `${r.cutoff.expiry.p99Ms} ms`, pass: r.cutoff.expiry.p99Ms <= 1000 });
  }
  if (r.memory) {
    const p = r.memory.points.find((x) => x.sessions === 1000);
    if (p) checks.push({ figure: 'proxy RSS, 1,000 idle sessions', target: '≤ 300 MB', measured: `${p.rssMB} MB`, pass: p.rssMB <= 300 });
    else checks.push({ figure: `proxy RSS, ${r.memory.points.at(-1)?.sessions} idle sessions (1,000 not measured)`, target: '≤ 300 MB at 1,000', measured: `${r.memory.points.at(-1)?.rssMB} MB`, pass: null });
  }
  return checks;
}

/**
 * Issue 17's table: the figures of 2026-11-30 (before it) that this run is shown beside, and its targets.
 * Ratios are always taken within one run (the machine is shared and noisy): this run's against its own
 * direct and jump-host figures.
 */
export const BEFORE_ISSUE_17 = {
  'upload-binary': { direct: 245, jump: 127, portcullis: 155 },
  'download-binary': { direct: 235, jump: 140, portcullis: 151 },
  'download-text': { direct: 277, jump: 149, portcullis: 81 },
  keystrokeMedianUs: { direct: 318, jump: 456, portcullis: 511 },
  keystrokeP99Us: { direct: 681, jump: 1717, portcullis: 3620 },
  fullGcsPerGiB: '54–76',
} as const;

/** Issue 17's rows: before (its table) and now (this run) side by side, with its targets checked on this run. */
export function issue17Table(r: Results): { lines: string[]; checks: Check[] } {
  const lines = ['| figure (issue 17) | before: direct / `ssh -J` / Portcullis (× direct) | now: direct / `ssh -J` / Portcullis (× direct) | target | now |', '|---|---|---|---|---|'];
  const checks: Check[] = [];
  const t = r.throughput;
  for (const s of ['upload-binary', 'download-binary', 'download-text'] as const) {
    const b = BEFORE_ISSUE_17[s];
    const m = t?.medianMiBps[s];
    const x = m && Number.isFinite(m.portcullis) ? ratio(m.portcullis, m.direct) : undefined;
    const check = x === undefined ? null : x >= 0.85;
    if (x !== undefined) checks.push({ figure: `${s} vs direct (issue 17)`, target: '≥ 0.85×', measured: `${x}×`, pass: check });
    lines.push(`| ${s} MiB/s | ${b.direct} / ${b.jump} / ${b.portcullis} (${round(b.portcullis / b.direct, 2)}×) | ${m && x !== undefined ? `${m.direct} / ${m.jump} / ${m.portcullis} (${x}×)` : 'not measured'} | ≥ 0.85× direct | ${check === null ? 'n/a' : check ? 'PASS' : '**FAIL**'} |`);
  }
  const k = r.keystroke;
  const bm = BEFORE_ISSUE_17.keystrokeMedianUs;
  const bp = BEFORE_ISSUE_17.keystrokeP99Us;
  const medianOk = k ? k.medianUs.portcullis <= k.medianUs.direct + 100 : null;
  const p99Ok = k ? k.p99Us.portcullis <= k.p99Us.jump : null;
  if (k) {
    checks.push({ figure: 'keystroke median (issue 17)', target: `≤ direct + 100 µs (${round(k.medianUs.direct + 100, 0)} µs)`, measured: `${k.medianUs.portcullis} µs`, pass: medianOk });
    checks.push({ figure: 'keystroke p99 (issue 17)', target: `≤ ssh -J's p99 (${k.p99Us.jump} µs)`, measured: `${k.p99Us.portcullis} µs`, pass: p99Ok });
  }
  const verdict = (v: boolean | null) => (v === null ? 'n/a' : v ? 'PASS' : '**FAIL**');
  lines.push(`| keystroke median µs | ${bm.direct} / ${bm.jump} / ${bm.portcullis} | ${k ? `${k.medianUs.direct} / ${k.medianUs.jump} / ${k.medianUs.portcullis}` : 'not measured'} | ≤ direct + 100 µs | ${verdict(medianOk)} |`);
  lines.push(`| keystroke p99 µs | ${bp.direct} / ${bp.jump} / ${bp.portcullis} | ${k ? `${k.p99Us.direct} / ${k.p99Us.jump} / ${k.p99Us.portcullis}` : 'not measured'} | ≤ the jump host's p99 | ${verdict(p99Ok)} |`);
  if (t) {
    const gcs = SCENARIOS
      .filter((sc) => Number.isFinite(t.proxyMajorGCsPerGiB[sc])).map((sc) => [sc, t.proxyMajorGCsPerGiB[sc]] as const);
    const worst = Math.max(...gcs.map(([, v]) => v));
    const ok = gcs.length ? worst <= 2 : null;
    if (gcs.length) checks.push({ figure: 'proxy full GCs per GiB relayed, worst scenario (issue 17)', target: '≤ 2', measured: String(worst), pass: ok });
    lines.push(`| proxy full GCs per GiB relayed | ${BEFORE_ISSUE_17.fullGcsPerGiB} | ${gcs.map(([sc, v]) => `${sc} ${v}`).join(', ') || 'not measured'} | ≤ 2 | ${verdict(ok)} |`);
  }
  return { lines, checks };
}

export function markdown(r: Results, meta: Record<string, unknown>, checks: Check[]): string {
  const lines: string[] = [];
  const row = (cells: (string | number | undefined)[]) => lines.push(`| ${cells.map((c) => (c === undefined ? '–' : String(c))).join(' | ')} |`);
  lines.push(`# Portcullis benchmark — ${meta.startedAt}`, '');
  lines.push(`${meta.note}`, '');
  lines.push('| figure | direct OpenSSH | `ssh -J` | Portcullis (recording on) | vs direct | vs jump |', '|---|---|---|---|---|---|');
  const t = r.throughput;
  if (t) {
    for (const s of SCENARIOS) {
      const m = t.medianMiBps[s];
      if (!Number.isFinite(m.portcullis)) continue; // not measured (BENCH_SCENARIOS)
      row([`${s} MiB/s (${t.mib} MiB)`, m.direct, m.jump, m.portcullis, fmt(ratio(m.portcullis, m.direct), '×'), fmt(ratio(m.portcullis, m.jump), '×')]);
    }
  }
  const scp = r.scp;
  if (scp) {
    for (const s of ['scp-upload', 'scp-download'] as const) {
      const m = scp.medianMiBps[s];
      if (!Number.isFinite(m.portcullis)) continue;
      row([`${s} MiB/s (${scp.mib} MiB, wall time of \`scp\`, set-up included)`, m.direct, m.jump, m.portcullis, fmt(ratio(m.portcullis, m.direct), '×'), fmt(ratio(m.portcullis, m.jump), '×')]);
    }
  }
  const k = r.keystroke;
  if (k) {
    row([`keystroke round trip median µs (${k.echoes} echoes, after ${k.warmup ?? 50} not counted)`, k.medianUs.direct, k.medianUs.jump, k.medianUs.portcullis, fmt(ratio(k.medianUs.portcullis, k.medianUs.direct), '×'), fmt(ratio(k.medianUs.portcullis, k.medianUs.jump), '×')]);
    row(['keystroke round trip p99 µs', k.p99Us.direct, k.p99Us.jump, k.p99Us.portcullis, fmt(ratio(k.p99Us.portcullis, k.p99Us.direct), '×'), fmt(ratio(k.p99Us.portcullis, k.p99Us.jump), '×')]);
    // the hop's own processes (Portcullis: the proxy; the jump host: its sshd for the connection and the client's ssh -W)
    if (k.hopCpuUs && k.hopWaitUs) {
      row(["the hop's CPU µs per echo", '', k.hopCpuUs.jump, k.hopCpuUs.portcullis, '', fmt(ratio(k.hopCpuUs.portcullis, k.hopCpuUs.jump), '×')]);
      row(["the hop's run-queue wait µs per echo (runnable, no CPU free)", '', k.hopWaitUs.jump, k.hopWaitUs.portcullis, '', fmt(ratio(k.hopWaitUs.portcullis, k.hopWaitUs.jump), '×')]);
    }
  }
  const s = r.setup;
  if (s) {
    row([`\`ssh … true\` median ms (${s.runs} runs)`, s.medianMs.direct, s.medianMs.jump, s.medianMs.portcullis, `${fmt(ratio(s.medianMs.portcullis, s.medianMs.direct), '×')} (${round(s.medianMs.portcullis - s.medianMs.direct, 1)} ms)`, fmt(ratio(s.medianMs.portcullis, s.medianMs.jump), '×')]);
  }
  const c = r.cutoff;
  if (c) {
    row([`revocation → ssh closed, median / p99 ms (${c.revocation.runs.length} runs)`, '', '', `${c.revocation.medianMs} / ${c.revocation.p99Ms}`, '', '']);
    row([`expiry (ends_at) → ssh closed, median / p99 ms (${c.expiry.runs.length} runs)`, '', '', `${c.expiry.medianMs} / ${c.expiry.p99Ms}`, '', '']);
  }
  const m = r.memory;
  if (m) {
    row(['proxy RSS, fresh process, MB', '', '', m.baselineRssMB, '', '']);
    for (const p of m.points) row([`proxy RSS, ${p.sessions} idle sessions, MB`, '', '', `${p.rssMB} (${p.perSessionKB} KB/session)`, '', '']);
  }
  if (t) {
    lines.push('', '| recording / CPU | output bytes | recording bytes | recording ÷ output | binary "b" events | dropped (backlog) | proxy CPU-s/GiB | proxy full GCs/GiB |', '|---|---|---|---|---|---|---|---|');
    for (const sc of DOWNLOADS) {
      const rec = t.recording[sc];
      if (!Number.isFinite(rec.outputBytes)) continue;
      row([sc, rec.outputBytes, rec.recordingBytes, rec.ratio, rec.binaryKeptEvents, rec.backlogDroppedBytes, t.proxyCpuSPerGiB[sc], t.proxyMajorGCsPerGiB[sc]]);
    }
    for (const sc of ['upload-binary', 'upload-text'] as const) if (Number.isFinite(t.proxyCpuSPerGiB[sc])) row([`${sc} (input, recorded as i/b events)`, '', '', '', '', '', t.proxyCpuSPerGiB[sc], t.proxyMajorGCsPerGiB[sc]]);
  }
  if (scp) {
    lines.push('', '| scp through Portcullis | proxy RSS before, MB | peak during, MB | growth, MB (max) | proxy CPU-s/GiB | transfer records |', '|---|---|---|---|---|---|');
    for (const s of ['scp-upload', 'scp-download'] as const) {
      const runs = scp.runs[s].filter((x) => x.path === 'portcullis');
      if (!runs.length) continue;
      const records = runs.map((x) => `${x.record?.outcome}${x.record?.ok ? ', sha256 equal' : ', MISMATCH'}`).join('; ');
      row([s, runs.map((x) => x.proxyRssBeforeMB).join(' / '), runs.map((x) => x.proxyRssPeakMB).join(' / '), scp.maxRssGrowthMB[s], scp.proxyCpuSPerGiB[s], records]);
    }
  }
  lines.push('', '| target (recording on) | required | measured | result |', '|---|---|---|---|');
  for (const ch of checks) row([ch.figure, ch.target, ch.measured, ch.pass === null ? 'n/a' : ch.pass ? 'PASS' : '**FAIL**']);
  lines.push('', `Machine: ${meta.machine}. Load average (1/5/15 min) at start ${JSON.stringify(meta.loadStart)}, at end ${JSON.stringify(meta.loadEnd)}.`);
  const phases = meta.phaseLoad as Record<string, unknown> | undefined;
  if (phases) lines.push(`Load by phase (1-min loadavg after each phase): ${Object.entries(phases).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  lines.push(`Versions: ${meta.versions}.`);
  return lines.join('\n') + '\n';
}
