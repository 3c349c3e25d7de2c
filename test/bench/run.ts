/**
 * `npm run bench` (`npm run bench:smoke` for tiny sizes): Portcullis side by side with direct OpenSSH
 * and an OpenSSH jump host, on this machine, with real processes — see README "Benchmark".
 *
 * Settings (environment): BENCH_MIB (512), BENCH_RUNS (3), BENCH_ECHOES (10000), BENCH_SETUP_RUNS (10),
 * BENCH_CUT_RUNS (10), BENCH_SESSIONS ("200,1000"), BENCH_CONCURRENCY (16), BENCH_EXPIRY_LEAD_MS (3000),
 * BENCH_SEARCH_* (search.ts), BENCH_LOAD_* (load.ts), BENCH_ONLY (comma list of setup,keystroke,throughput,cutoff,memory,search,load), BENCH_SCENARIOS (comma list of
 * upload-binary,upload-text,download-binary,download-text,download-random,scp-upload,scp-download), BENCH_PROFILE=1 (proxy under
 * `node --cpu-prof`, one profile per phase, summarised), BENCH_REDIS_URL (revocation bus and jobs on
 * Redis instead of PostgreSQL), BENCH_LOG_LEVEL (broker log level, default warn).
 * `--hold`: start everything, print how to reach it, and wait for Ctrl-C (for investigation by hand).
 * Writes bench-results/<timestamp>/{report.json,report.md,logs/,profiles/} and prints the table.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdir } from 'node:fs/promises';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { measureCutoff } from './cutoff.js';
import { measureKeystrokes } from './keystroke.js';
import { loadavg, round } from './measure.js';
import { measureMemory } from './memory.js';
import { cleanupAll, installSignalHandlers, isStopping, onCleanup } from './procs.js';
import { summariseFile, summaryMarkdown } from './profile.js';
import { checkTargets, issue17Table, markdown, type Results } from './report.js';
import { measureSetup } from './setup-time.js';
import { repoRoot, startStack, type Stack } from './stack.js';
import { measureScp, SCP_SCENARIOS, type ScpScenario } from './scp.js';
import { measureThroughput, SCENARIOS, type Scenario } from './throughput.js';
import { loadConfig, measureLoad, type LoadResult } from './load.js';
import { loadMarkdown } from './load-report.js';
import { measureSearch, searchConfig, searchMarkdown, type SearchResult } from './search.js';

const PHASES = ['setup', 'keystroke', 'throughput', 'cutoff', 'memory', 'search', 'load'] as const;
type Phase = (typeof PHASES)[number];

const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const num = (name: string, def: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
};
const cfg = {
  smoke,
  mib: num('BENCH_MIB', smoke ? 8 : 512),
  runs: Math.round(num('BENCH_RUNS', smoke ? 1 : 3)),
  echoes: Math.round(num('BENCH_ECHOES', smoke ? 200 : 10000)),
  setupRuns: Math.round(num('BENCH_SETUP_RUNS', smoke ? 3 : 10)),
  cutRuns: Math.round(num('BENCH_CUT_RUNS', smoke ? 2 : 10)),
  sessions: (process.env.BENCH_SESSIONS || (smoke ? '20,50' : '200,1000')).split(',').map((s) => Math.round(Number(s))).filter((n) => n > 0),
  concurrency: Math.round(num('BENCH_CONCURRENCY', 16)),
  expiryLeadMs: num('BENCH_EXPIRY_LEAD_MS', 3000),
  only: (process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : [...PHASES]) as Phase[],
  profile: process.env.BENCH_PROFILE === '1',
  // issue 16 / 17 phases: BENCH_SEARCH_* and BENCH_LOAD_* (see search.ts, load.ts)
  search: searchConfig(num, smoke),
  load: loadConfig(num, smoke),
  scenarios: (process.env.BENCH_SCENARIOS ? process.env.BENCH_SCENARIOS.split(',').map((s) => s.trim()) : [...SCENARIOS, ...SCP_SCENARIOS]) as (Scenario | ScpScenario)[],
};
const ALL_SCENARIOS: string[] = [...SCENARIOS, ...SCP_SCENARIOS];
for (const s of cfg.scenarios) if (!ALL_SCENARIOS.includes(s)) throw new Error(`BENCH_SCENARIOS: unknown scenario ${s} (${ALL_SCENARIOS.join(', ')})`);
const stdioScenarios = cfg.scenarios.filter((s): s is Scenario => (SCENARIOS as string[]).includes(s));
const scpScenarios = cfg.scenarios.filter((s): s is ScpScenario => (SCP_SCENARIOS as string[]).includes(s));
for (const p of cfg.only) if (!PHASES.includes(p)) throw new Error(`BENCH_ONLY: unknown phase ${p} (${PHASES.join(', ')})`);

const log = (s: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const tryRun = (cmd: string, args: string[]) => {
  try {
    // `ssh -V` prints to stderr
    return execFileSync('sh', ['-c', '"$0" "$@" 2>&1', cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
};

async function preflight(tmpRoot: string): Promise<void> {
  for (const bin of ['ssh', '/usr/sbin/sshd', 'ssh-keygen']) {
    if (!tryRun('sh', ['-c', `command -v ${bin} || true`])) throw new Error(`${bin} is not installed (apt-get install openssh-client openssh-server)`);
  }
  // the text file, plus one recording of it at a time (deleted after each run); scp: the random file
  // and one copy of it at a time; plus slack
  const needMiB = (cfg.only.includes('throughput') ? (stdioScenarios.length ? 2.2 : 0) * cfg.mib + (scpScenarios.length ? 2.2 : 0) * cfg.mib : 0) + 512;
  const st = await fs.statfs(tmpRoot);
  const freeMiB = (st.bavail * st.bsize) / 1048576;
  if (freeMiB < needMiB) throw new Error(`not enough disk under ${tmpRoot}: ${Math.round(freeMiB)} MiB free, ${Math.round(needMiB)} MiB needed; lower BENCH_MIB`);
  const transfers = cfg.only.includes('throughput') ? cfg.scenarios.length * 3 * cfg.runs : 0;
  const estimateS = 30 + transfers * (cfg.mib / 150 + 0.5) + (cfg.only.includes('keystroke') ? 3 * cfg.runs * (1 + cfg.echoes * 0.0006) : 0) +
    (cfg.only.includes('setup') ? 3 * (cfg.setupRuns + 1) * 0.4 : 0) + (cfg.only.includes('cutoff') ? cfg.cutRuns * (1.5 + cfg.expiryLeadMs / 1000) : 0) +
    (cfg.only.includes('memory') ? Math.max(...cfg.sessions, 0) * 0.06 + 20 : 0);
  log(`disk: ${Math.round(freeMiB)} MiB free under ${tmpRoot} (needs ~${Math.round(needMiB)} MiB); expected duration ~${Math.round(estimateS / 60)} min`);
}

async function main(): Promise<number> {
  installSignalHandlers();
  const startedAt = new Date();
  const runDir = path.join(repoRoot, 'bench-results', startedAt.toISOString().replace(/[:.]/g, '-'));
  await fs.mkdir(runDir, { recursive: true });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-bench-'));
  await fs.chmod(tmp, 0o755); // the device user reads the text file from here
  onCleanup('temporary directory', () => fs.rm(tmp, { recursive: true, force: true }));

  const require = createRequire(import.meta.url);
  const meta: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    config: cfg,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${round(os.totalmem() / 2 ** 30, 1)} GiB RAM, ${os.release()}`,
    versions: [
      tryRun('ssh', ['-V']), `node ${process.version}`, `ssh2 ${require('ssh2/package.json').version}`,
      `ssh2 native crypto binding ${require('ssh2/lib/protocol/crypto').bindingAvailable ? 'yes' : 'NO'}`,
      `commit ${tryRun('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD'])}${tryRun('git', ['-C', repoRoot, 'status', '--porcelain', 'proxy']) ? ' + uncommitted proxy changes' : ''}`,
    ].join('; '),
    loadStart: loadavg(),
    phaseLoad: {} as Record<string, number>,
    note: [
      cfg.smoke ? '**Smoke run (tiny sizes): the figures are not representative and the targets are not meaningful.**' : '',
      cfg.profile ? '**Profiled run (`node --cpu-prof` on the proxy): figures include profiler overhead.**' : '',
      `Medians of ${cfg.runs} run(s), ${cfg.mib} MiB per transfer, default ciphers, loopback. Throughput excludes connection set-up (measured on its own), except the scp rows: those are the file size over the wall time of the \`scp\` process (SFTP mode), connection set-up included for all three paths alike.`,
      'The broker runs as three processes as in docker-compose.yml (ROLES=api, ROLES=worker, ROLES=proxy) over one throw-away PostgreSQL database; recording is on.',
    ].filter(Boolean).join(' '),
  };
  const results: Results = {};
  const extra: { search?: SearchResult; load?: LoadResult } = {};
  const errors: Record<string, string> = {};
  let stack: Stack | undefined;
  const profileDirs: { dir: string; skipMs: number }[] = [];
  try {
    await preflight(os.tmpdir());
    stack = await startStack(runDir, tmp, log);
    log(`proxy pid ${stack.proxy.pid} on port ${stack.proxyPort}; api pid ${stack.apiProcess.pid} at ${stack.api.baseUrl}; device sshd :${stack.device.port}, jump sshd :${stack.jump.port}`);
    if (process.argv.includes('--hold')) {
      // for investigation by hand: everything stays up until Ctrl-C (which cleans up as usual);
      // with BENCH_PROFILE=1 the proxy runs under --cpu-prof (profile written when it stops)
      if (cfg.profile) await stack.restartProxy({ profileDir: path.join(runDir, 'profiles', 'hold') });
      log(`holding; try: ssh -F ${stack.sshConfig} portcullis|direct|viajump …  (Ctrl-C stops everything)`);
      await new Promise(() => undefined);
    }
    for (const phase of PHASES) {
      if (!cfg.only.includes(phase) || isStopping()) continue;
      // memory and load start a fresh proxy themselves (load profiles it from its typing window on)
      if (cfg.profile && phase !== 'memory' && phase !== 'load') {
        const dir = path.join(runDir, 'profiles', phase);
        await stack.restartProxy({ profileDir: dir });
        // only the phase's own samples: skip the proxy's start-up (module loading)
        profileDirs.push({ dir, skipMs: Date.now() - stack.proxySpawnedAt });
      }
      log(`${phase}… (load ${loadavg().join(' ')})`);
      try {
        if (phase === 'setup') results.setup = await measureSetup(stack, { runs: cfg.setupRuns, log });
        if (phase === 'keystroke') results.keystroke = await measureKeystrokes(stack, { echoes: cfg.echoes, runs: cfg.runs, log });
        if (phase === 'throughput' && stdioScenarios.length) results.throughput = await measureThroughput(stack, { mib: cfg.mib, runs: cfg.runs, log, scenarios: stdioScenarios });
        if (phase === 'throughput' && scpScenarios.length) results.scp = await measureScp(stack, { mib: cfg.mib, runs: cfg.runs, log, scenarios: scpScenarios });
        if (phase === 'cutoff') results.cutoff = await measureCutoff(stack, { runs: cfg.cutRuns, expiryLeadMs: cfg.expiryLeadMs, log });
        if (phase === 'memory') results.memory = await measureMemory(stack, { counts: cfg.sessions, concurrency: cfg.concurrency, log });
        if (phase === 'search') extra.search = await measureSearch({ ...cfg.search, tmp, log });
        if (phase === 'load') {
          const dir = cfg.profile ? path.join(runDir, 'profiles', phase) : undefined;
          extra.load = await measureLoad(stack, { ...cfg.load, log, profileDir: dir });
          if (dir) profileDirs.push({ dir, skipMs: extra.load.windowStartMs - stack.proxySpawnedAt });
        }
      } catch (err) {
        errors[phase] = (err as Error).stack ?? String(err);
        log(`${phase} FAILED: ${(err as Error).message}`);
      }
      (meta.phaseLoad as Record<string, number>)[phase] = loadavg()[0];
    }
  } catch (err) {
    errors.setup = (err as Error).stack ?? String(err);
    log(`FAILED: ${(err as Error).message}`);
  } finally {
    log('stopping every process the benchmark started…');
    await cleanupAll();
  }
  meta.loadEnd = loadavg();

  const checks = checkTargets(results);
  const before17 = (results.throughput || results.keystroke) && issue17Table(results);
  const issue17 = before17 && { lines: ['', 'Issue 17: the figures of its table (2026-11-30, before it) beside this run\'s, and its targets checked on this run.', '', ...before17.lines], checks: before17.checks };
  const parts = [issue17, extra.search && searchMarkdown(extra.search), extra.load && loadMarkdown(extra.load)].filter((x) => !!x);
  for (const part of parts) checks.push(...part.checks);
  let md = markdown(results, meta, checks);
  for (const part of parts) md += part.lines.join('\n') + '\n';
  if (Object.keys(errors).length) md += `\nErrors: ${Object.entries(errors).map(([k, v]) => `${k}: ${v.split('\n')[0]}`).join('; ')}\n`;
  for (const { dir, skipMs } of profileDirs) {
    // the main thread's profile (thread 0); the others are tsx's module-loader thread
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f));
    for (const f of files) {
      md += '\n' + summaryMarkdown(await summariseFile(path.join(dir, f), skipMs), `proxy CPU profile, phase ${path.basename(dir)} (${f}, main thread, start-up skipped)`);
    }
  }
  await fs.writeFile(path.join(runDir, 'report.json'), JSON.stringify({ meta, results: { ...results, ...extra }, checks, errors }, null, 2) + '\n');
  await fs.writeFile(path.join(runDir, 'report.md'), md);
  process.stdout.write('\n' + md + '\n');
  log(`report: ${path.relative(process.cwd(), runDir)}/report.{md,json}`);
  return Object.keys(errors).length ? 1 : 0;
}

process.exitCode = await main();
