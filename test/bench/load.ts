/**
 * Load phase (issue 17), everything at once against a freshly started proxy process:
 * - N interactive sessions (ssh2 clients in this process, as in memory.ts), each a pty running
 *   `stty raw -echo; echo READY; exec cat` on the device and typing `rate` keystrokes a second (at
 *   random moments); every keystroke's round trip is timed until its echo comes back;
 * - M concurrent downloads of a base64 text file of S MiB, by the real OpenSSH client through the proxy
 *   (`ssh … 'exec cat file' | sha256sum`: what the client received is hashed outside this process);
 * - a revocation storm: R of the interactive sessions each hold their own grant (their own technician),
 *   and those R grants are revoked through the API within one second while everything else runs; the
 *   cut is the time from a grant's revoke request to its session's channel closing at the client.
 * Reported: keystroke p50/p99/max over the whole window, cut p50/p99/max, the proxy's RSS (sampled) and
 * CPU, the transfers' MiB/s. Checked afterwards: every recording is complete — the output the recording
 * holds (read with proxy/recording/extract.ts) equals, byte for byte, what the client received (the
 * proxy's own notice lines, which the client gets in colour and the recording plain, left out of both);
 * for the transfers, the SHA-256 of the recorded output equals the file's and the client's — and no
 * session outlives its grant (each revoked grant's session has ended, and its channel was closed within 1 s
 * of the revocation being committed, i.e. of the API's answer).
 * BENCH_LOAD_SESSIONS (200; smoke 10), BENCH_LOAD_RATE (5 keystrokes/s), BENCH_LOAD_SECONDS (typing
 * window, at least until the transfers end: 30; smoke 6), BENCH_LOAD_TRANSFERS (10; smoke 2),
 * BENCH_LOAD_TRANSFER_MIB (256; smoke 8), BENCH_LOAD_REVOKE (100; smoke 5), BENCH_LOAD_BROKER_NICE (investigation:
 * the api, the worker and PostgreSQL at this nice value for the phase, the proxy's share of the CPU against theirs).
 * - A control group: C more typists (BENCH_LOAD_CONTROL, 20; smoke 2) connected straight to the device's
 *   sshd, not through the proxy, typing at the same rate in the same window: what this machine, loaded
 *   the same way, gives a keystroke without Portcullis in its path (the device and the typists' client
 *   are shared with the measured sessions).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import ssh2 from 'ssh2';
import { extractStreamsFromFile } from '../../proxy/recording/extract.js';
import { certificateKey } from '../../proxy/ssh2-cert-auth.js';
import { generateKey } from '../support/device-sshd.js';
import { cutStages, listenForEarlyCuts, type CutStages } from './cut-stages.js';
import { loadavg, median, pool, quantile, round, runShell, sq, sshLine } from './measure.js';
import { cpuSeconds, cpuSecondsOfCommand, cpuTicks, loopDelay, pidsOfCommand, rssBytes } from './procs.js';
import type { Grant, Stack, Technician } from './stack.js';
import { makeTextFile } from './throughput.js';

export function loadConfig(num: (name: string, def: number) => number, smoke: boolean) {
  return {
    sessions: Math.round(num('BENCH_LOAD_SESSIONS', smoke ? 10 : 200)),
    rate: num('BENCH_LOAD_RATE', 5),
    seconds: num('BENCH_LOAD_SECONDS', smoke ? 6 : 30),
    transfers: Math.round(num('BENCH_LOAD_TRANSFERS', smoke ? 2 : 10)),
    transferMiB: num('BENCH_LOAD_TRANSFER_MIB', smoke ? 8 : 256),
    revokes: Math.round(num('BENCH_LOAD_REVOKE', smoke ? 5 : 100)),
    control: Math.round(num('BENCH_LOAD_CONTROL', smoke ? 2 : 20)),
    /** investigation: the api and worker processes and PostgreSQL run at this nice value for the phase (0: as they are) */
    brokerNice: Math.round(num('BENCH_LOAD_BROKER_NICE', 0)),
  };
}
type LoadConfig = ReturnType<typeof loadConfig>;

export interface LoadResult {
  config: LoadConfig;
  keystrokes: number;
  /** keystrokes whose echo never came back (sessions cut by the storm excluded) */
  keystrokesLost: number;
  keystrokeP50Ms: number;
  keystrokeP99Ms: number;
  keystrokeMaxMs: number;
  /** keystrokes sent before the downloads started (the first seconds of typing): p50 / p99 */
  quietKeystrokes: number;
  quietKeystrokeP50Ms: number;
  quietKeystrokeP99Ms: number;
  /** keystrokes with the downloads running, split: sent while the storm was handled (first revoke request to last close) / the rest — count, p50, p99 ms */
  storm: StormSplit;
  /** CPU seconds over the storm (first revoke request until every revoked session closed, `seconds`), and the machine's busy fraction */
  stormCpu: { seconds: number; api: number; worker: number; proxy: number; postgres: number; machineBusy: number };
  /** the control group (straight to the device, same window): keystrokes with the downloads running, p50 / p99 ms */
  control: { sessions: number; keystrokes: number; p50Ms: number; p99Ms: number; quietP50Ms: number; quietP99Ms: number; storm: StormSplit };
  /** event-loop delay over the window (p99 / max ms): the proxy, the api+worker process, this process (the typists' clients) */
  loopDelay: { proxy: LoopDelay | null; api: LoopDelay | null; bench: LoopDelay };
  /** the machine's CPU busy over the window, all cores (1.0 = every core busy) */
  machineBusy: number;
  cuts: number;
  cutP50Ms: number;
  cutP99Ms: number;
  cutMaxMs: number;
  /** the revoke requests went out over this many ms */
  stormSpreadMs: number;
  revokeApiP99Ms: number;
  transferMiBps: number[];
  transferSeconds: number;
  proxyRssBaselineMB: number;
  proxyRssPeakMB: number;
  proxyCpuSeconds: number;
  /** proxy CPU over the window's wall time, in cores (1.0 = one core busy) */
  proxyCpuCores: number;
  windowSeconds: number;
  /** when the typing window started (epoch ms): a profile is summarised from here */
  windowStartMs: number;
  recordingsChecked: number;
  recordingsComplete: number;
  recordingProblems: string[];
  /** sessions of revoked grants not ended in the database, or still open at the client 1 s after the revocation was committed */
  sessionsOutlivingGrant: number;
  /** from the API's answer (revocation committed) to the channel closing; negative: closed before the answer arrived */
  cutAfterCommitP99Ms: number;
  /** where each cut's time went (cut-stages.ts) */
  cutStages: CutStages | null;
  load: [number, number, number];
}

/** keystrokes sent while the storm was handled / the others: count, p50, p99 ms */
type StormSplit = { during: [number, number, number]; outside: [number, number, number] };
export type LoopDelay = { p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };

const MB = 1024 * 1024;
/** when the downloads of the current load phase started (keystrokes sent before count as quiet) */
let bulkStartedAt: bigint | null = null;

const NOTICE = /\r\n(?:\x1b\[1;33m)?\[portcullis\](?:\x1b\[0m)? [^\r\n]*\r\n/g;
const withoutNotices = (b: Buffer) => b.toString('latin1').replace(NOTICE, '');

interface Typist {
  /** the session's command, unique per connection: how its session is found */
  command: string;
  tech: Technician;
  grant: Grant;
  client: ssh2.Client;
  stream: ssh2.ClientChannel;
  received: Buffer[];
  /** send times (hrtime ns) of the keystrokes waiting for their echo */
  inFlight: bigint[];
  samples: number[];
  /** when each of `samples` was sent (hrtime ns) */
  sampleSentAt: bigint[];
  /** round trips of keystrokes sent before the downloads started */
  quiet: number[];
  closedAt: bigint | null;
  revokedAt: bigint | null;
  /** when the API answered the revoke request: the revocation is committed by then */
  answeredAt: bigint | null;
  /** when the revocation's notice began to reach the client (the proxy writes it as it cuts, before the close) */
  noticeAt: bigint | null;
  /** when the early cut of its grant reached a subscriber of the revocation bus in this process */
  busAt?: bigint;
  timer: NodeJS.Timeout | null;
}

/**
 * A typist's session: through the proxy with its technician's certificate, or (`direct`, the control
 * group) straight to the device's sshd with the device's own login key — then `tech` and `grant` are
 * only carried along, nothing of the broker is involved.
 */
function openTypist(stack: Stack, key: ssh2.ParsedKey, tech: Technician, grant: Grant, n: number, direct = false): Promise<Typist> {
  const command = `stty raw -echo; echo READY; exec cat # load ${direct ? 'control' : 'typist'} ${n}`;
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const fail = (err: Error) => {
      client.end();
      reject(err);
    };
    client.once('error', fail);
    client.once('ready', () => {
      client.exec(command, { pty: { term: 'xterm', cols: 80, rows: 24 } }, (err, stream) => {
        if (err) return fail(err);
        const t: Typist = { command, tech, grant, client, stream, received: [], inFlight: [], samples: [], sampleSentAt: [], quiet: [], closedAt: null, revokedAt: null, answeredAt: null, noticeAt: null, timer: null };
        let ready = false;
        stream.on('data', (d: Buffer) => {
          t.received.push(d);
          if (!ready) {
            if (Buffer.concat(t.received).includes('READY')) {
              ready = true;
              client.removeListener('error', fail);
              client.on('error', () => undefined);
              resolve(t);
            }
            return;
          }
          const now = process.hrtime.bigint();
          // echoes are letters; a revoked session's notice starts with CRLF, and neither it nor anything
          // after it is an echo (counted as one, a keystroke cut off by the revocation took the cut's time)
          let echoes = t.noticeAt ? 0 : d.length;
          if (t.revokedAt && !t.noticeAt) {
            const crlf = d.indexOf('\r\n');
            if (crlf >= 0) (t.noticeAt = now, echoes = crlf);
          }
          for (let i = 0; i < echoes && t.inFlight.length; i++) {
            const sent = t.inFlight.shift()!;
            if (bulkStartedAt === null || sent < bulkStartedAt) t.quiet.push(Number(now - sent) / 1e6);
            else (t.samples.push(Number(now - sent) / 1e6), t.sampleSentAt.push(sent));
          }
        });
        stream.stderr.on('data', (d: Buffer) => t.received.push(d));
        stream.on('close', () => {
          t.closedAt ??= process.hrtime.bigint();
          if (t.timer) clearTimeout(t.timer);
          if (!ready) fail(new Error(`session closed before it was live: ${Buffer.concat(t.received).toString('latin1').slice(0, 300)}`));
        });
      });
    });
    const common = { host: '127.0.0.1', readyTimeout: 120_000, hostVerifier: () => true };
    if (direct) client.connect({ ...common, port: stack.device.port, username: stack.device.user, privateKey: stack.device.loginPrivateKey });
    else {
      client.connect({
        ...common, port: stack.proxyPort, username: stack.deviceName,
        authHandler: [{ type: 'publickey', username: stack.deviceName, key } as ssh2.PublicKeyAuthMethod],
      });
    }
  });
}

/** types one letter at a random moment in each 1/rate s slot, until stopped or the session closes */
function startTyping(t: Typist, rate: number): void {
  const slot = 1000 / rate;
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let n = 0;
  let due = Date.now() + Math.random() * slot;
  const tick = () => {
    if (t.closedAt) return;
    t.inFlight.push(process.hrtime.bigint());
    t.stream.write(letters[n++ % letters.length]!);
    due += slot;
    t.timer = setTimeout(tick, Math.max(0, due - Date.now()));
  };
  t.timer = setTimeout(tick, Math.max(0, due - Date.now()));
}

/** GET through the API, tried again (up to 3 times) when the request fails on a loaded machine */
async function apiGet(stack: Stack, url: string): Promise<any> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await stack.api.ok('GET', url, stack.adminToken);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof TypeError)) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The finalised recording of a session (waits for it), its output stream, and the file is deleted. */
async function recordedOutput(stack: Stack, sessionId: string): Promise<Buffer> {
  for (let i = 0; i < 600; i++) {
    const s = await apiGet(stack, `/api/sessions/${sessionId}`);
    if (s.endedAt && s.recording?.finalisedAt) {
      const { output } = await extractStreamsFromFile(s.recording.path);
      await rm(s.recording.path, { force: true }); // disk budget: the transfers' recordings are GBs
      return output;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`session ${sessionId}: not ended or its recording not finalised`);
}

export async function measureLoad(stack: Stack, o: LoadConfig & { log: (s: string) => void; profileDir?: string }): Promise<LoadResult> {
  const revokes = Math.min(o.revokes, o.sessions);
  o.log('  restarting the proxy process (a fresh heap)…');
  await stack.restartProxy({ profileDir: o.profileDir });
  const textFile = path.join(stack.tmp, 'load-text.b64');
  const bytes = Math.round(o.transferMiB * MB);
  o.log(`  writing ${o.transferMiB} MiB of base64 text; ${revokes + 1} technicians, grants and certificates…`);
  await makeTextFile(textFile, bytes);
  const fileSha = createHash('sha256').update(await readFile(textFile)).digest('hex');

  // R technicians with a grant each (revoked in the storm), and one whose grant holds the other sessions
  const holders: { tech: Technician; grant: Grant; key: ssh2.ParsedKey }[] = [];
  const specs = Array.from({ length: revokes + 1 }, (_, i) => i);
  await pool(specs, 4, async (i) => {
    const tech = await stack.newTechnician(`load${i}`);
    const grant = await stack.newGrant(tech, 60);
    const k = generateKey(stack.tmp, `load_${i}_ed25519`);
    await stack.certificate(tech, grant, k.path);
    holders[i] = { tech, grant, key: certificateKey(k.privateKey, await readFile(`${k.path}-cert.pub`, 'utf8')) };
  });
  const shared = holders[revokes]!;

  // The device (its sshd, and every session it forks from now on) would be another machine too: it runs
  // below the proxy's priority for this phase, as the technicians' download clients do, so what is
  // measured is the proxy under load rather than the two cores' scheduler among the load generators.
  const renice = (n: number, pids: number[]) => execFileSync('renice', ['-n', String(n), '-p', ...pids.map(String)], { stdio: 'ignore' });
  renice(10, [stack.device.pid]);
  // BENCH_LOAD_BROKER_NICE: the rest of the broker (and PostgreSQL, whose new backends inherit the postmaster's) below the proxy
  const broker = () => [stack.apiProcess.pid, stack.workerProcess.pid, ...pidsOfCommand('postgres')];
  if (o.brokerNice) renice(o.brokerNice, broker());
  try {
    return await measureUnderLoad(stack, o, { revokes, holders, shared, textFile, fileSha });
  } finally {
    renice(0, [stack.device.pid]);
    if (o.brokerNice) renice(0, broker());
    await rm(textFile, { force: true });
  }
}

async function measureUnderLoad(
  stack: Stack,
  o: LoadConfig & { log: (s: string) => void },
  { revokes, holders, shared, textFile, fileSha }: {
    revokes: number; holders: { tech: Technician; grant: Grant; key: ssh2.ParsedKey }[]; shared: { tech: Technician; grant: Grant; key: ssh2.ParsedKey };
    textFile: string; fileSha: string;
  },
): Promise<LoadResult> {

  const typists: Typist[] = [];
  const t0open = Date.now();
  await pool(Array.from({ length: o.sessions }, (_, i) => i), 16, async (i) => {
    const h = i < revokes ? holders[i]! : shared;
    typists[i] = await openTypist(stack, h.key, h.tech, h.grant, i);
  });
  const controls: Typist[] = [];
  await pool(Array.from({ length: o.control }, (_, i) => i), 8, async (i) => {
    controls[i] = await openTypist(stack, shared.key, shared.tech, shared.grant, i, true);
  });
  o.log(`  ${o.sessions} interactive sessions live in ${round((Date.now() - t0open) / 1000, 1)} s; typing at ${o.rate}/s, ${o.transfers} × ${o.transferMiB} MiB downloads, then ${revokes} grants revoked within 1 s…`);

  const pid = stack.proxy.pid;
  const rss0 = rssBytes(pid);
  let rssPeak = rss0;
  const sampler = setInterval(() => {
    try {
      rssPeak = Math.max(rssPeak, rssBytes(pid));
    } catch {
      /* the proxy went away: the checks below say so */
    }
  }, 250);
  const apiMetricsUrl = `${stack.api.baseUrl}/metrics`;
  await Promise.all([loopDelay(stack.proxyMetricsUrl), loopDelay(apiMetricsUrl)]); // a scrape starts their histograms afresh
  const benchLoop = monitorEventLoopDelay({ resolution: 10 });
  benchLoop.enable();
  const ticks0 = cpuTicks();
  bulkStartedAt = null;
  const cpu0 = cpuSeconds(pid);
  const w0 = Date.now();
  for (const t of [...typists, ...controls]) startTyping(t, o.rate);
  // a few seconds of typing alone first: the keystroke figures with and without the downloads
  await new Promise((r) => setTimeout(r, Math.min(o.seconds * 100, 3_000)));
  bulkStartedAt = process.hrtime.bigint();

  const transfers = Array.from({ length: o.transfers }, async (_, i) => {
    const command = `exec cat ${sq(textFile)} # load transfer ${i}`;
    // the technicians' side of the downloads (OpenSSH and sha256sum) would be other machines: here it runs at the
    // lowest CPU priority, so the two cores' contention does not land on the proxy being measured
    const r = await runShell(`nice -n 19 ${sshLine(stack.sshConfig, 'portcullis', command).replace(/^exec /, '')} | nice -n 19 sha256sum`);
    return { ...r, command, sha: r.stdout.trim().split(/\s+/)[0] };
  });
  const transfersDone = Promise.all(transfers);

  // the storm, once everything is going: R revoke requests spread evenly over one second; this process
  // listens on the revocation bus too, beside the proxy, to time when each early cut arrives
  await new Promise((r) => setTimeout(r, Math.min(o.seconds * 500, 10_000)));
  const stopListening = await listenForEarlyCuts(stack, typists.slice(0, revokes));
  // what the storm costs the machine: CPU of the api, the worker, the proxy and PostgreSQL from its first request to its last close
  const stormCpu = () => ({ api: cpuSeconds(stack.apiProcess.pid), worker: cpuSeconds(stack.workerProcess.pid), proxy: cpuSeconds(pid), postgres: cpuSecondsOfCommand('postgres'), ticks: cpuTicks() });
  const stormCpu0 = stormCpu();
  const stormStart = process.hrtime.bigint();
  const apiMs: number[] = [];
  const revokeFailures: string[] = [];
  // a request that fails or hangs is a failed cut (counted, reported), not the end of the phase
  const revoke = async (t: Typist): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await Promise.race([
          stack.api.call('POST', `/api/grants/${t.grant.id}/revoke`, stack.adminToken, { reason: 'benchmark revocation storm' }),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 60 s')), 60_000)),
        ]);
        t.answeredAt = process.hrtime.bigint();
        apiMs.push(Number(t.answeredAt - t.revokedAt!) / 1e6);
        // a retried request may find the grant revoked by the first one
        if (res.status >= 300 && !(attempt > 1 && res.status === 409)) revokeFailures.push(`revoke ${t.grant.id}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        return;
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        if (attempt >= 2) {
          revokeFailures.push(`revoke ${t.grant.id}: ${cause}`);
          return;
        }
      }
    }
  };
  const requests = typists.slice(0, revokes).map((t, i) => new Promise<void>((resolve) => {
    setTimeout(() => {
      t.revokedAt = process.hrtime.bigint();
      void revoke(t).then(resolve);
    }, (i * 1000) / revokes);
  }));
  await Promise.all(requests);
  const stormSpreadMs = Number(typists[revokes - 1]?.revokedAt ?? stormStart) / 1e6 - Number(stormStart) / 1e6;
  // every revoked session closed at the client (or 10 s passed)
  for (let i = 0; i < 100 && typists.slice(0, revokes).some((t) => !t.closedAt); i++) await new Promise((r) => setTimeout(r, 100));
  const stormCpu1 = stormCpu();
  const stormSeconds = Number(process.hrtime.bigint() - stormStart) / 1e9;
  await stopListening();

  const results = await transfersDone;
  const rest = o.seconds * 1000 - (Date.now() - w0);
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  for (const t of [...typists, ...controls]) if (t.timer) clearTimeout(t.timer);
  await new Promise((r) => setTimeout(r, 500)); // the last echoes
  const windowSeconds = (Date.now() - w0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const ticks1 = cpuTicks();
  benchLoop.disable();
  const [proxyLoop, apiLoop] = await Promise.all([loopDelay(stack.proxyMetricsUrl), loopDelay(apiMetricsUrl)]);
  const machineBusy = (ticks1.busy - ticks0.busy) / Math.max(1, ticks1.total - ticks0.total);
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, rssBytes(pid));
  const transferSeconds = Math.max(...results.map((r) => r.wallMs / 1000), 0);

  // every client goes (the survivors end their sessions as a technician does)
  await Promise.all([...typists, ...controls].map((t) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    t.client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    t.client.end();
  })));

  const samples = typists.flatMap((t) => t.samples);
  const quiet = typists.flatMap((t) => t.quiet);
  const controlSamples = controls.flatMap((t) => t.samples);
  // keystrokes sent while the storm was handled (its first request to its last close) and the others
  const stormEnd = typists.slice(0, revokes).reduce((a, t) => (t.closedAt && t.closedAt > a ? t.closedAt : a), stormStart);
  const byStorm = (group: Typist[]) => {
    const during: number[] = [];
    const outside: number[] = [];
    for (const t of group) t.samples.forEach((ms, i) => (t.sampleSentAt[i]! >= stormStart && t.sampleSentAt[i]! <= stormEnd ? during : outside).push(ms));
    const figures = (x: number[]): [number, number, number] => [x.length, round(median(x), 2), round(quantile(x, 0.99), 2)];
    return { during: figures(during), outside: figures(outside) };
  };
  const controlQuiet = controls.flatMap((t) => t.quiet);
  const lost = typists.filter((t) => !t.revokedAt).reduce((a, t) => a + t.inFlight.length, 0);
  const cuts = typists.slice(0, revokes).map((t) => (t.closedAt && t.revokedAt ? Number(t.closedAt - t.revokedAt) / 1e6 : Infinity));
  o.log(`  keystrokes: ${samples.length} (lost ${lost}), p50 ${round(median(samples), 2)} ms, p99 ${round(quantile(samples, 0.99), 2)} ms (control, no proxy: p50 ${round(median(controlSamples), 2)}, p99 ${round(quantile(controlSamples, 0.99), 2)}); cuts: p50 ${round(median(cuts), 1)} ms, p99 ${round(quantile(cuts, 0.99), 1)} ms; proxy RSS ${round(rss0 / 1e6, 1)} → peak ${round(rssPeak / 1e6, 1)} MB, CPU ${round(cpu, 1)} s over ${round(windowSeconds, 1)} s`);

  // checks: complete recordings, no session beyond its grant
  const problems: string[] = [...revokeFailures];
  let complete = 0;
  const sessionIds = new Map<string, string>(); // command → session
  for (const grantId of new Set([stack.grant.id, ...typists.map((t) => t.grant.id)])) {
    const r = await apiGet(stack, `/api/sessions?grantId=${grantId}&limit=500`);
    for (const x of r.items as { id: string; command: string | null }[]) if (x.command) sessionIds.set(x.command, x.id);
  }
  const sessionFor = (command: string) => {
    const id = sessionIds.get(command);
    if (!id) throw new Error(`no session with the command ${JSON.stringify(command)}`);
    return id;
  };
  for (const [i, r] of results.entries()) {
    const sha = createHash('sha256').update(await recordedOutput(stack, sessionFor(r.command))).digest('hex');
    if (r.code === 0 && r.sha === fileSha && sha === fileSha) complete++;
    else problems.push(`transfer ${i}: ssh exit ${r.code}, client ${r.sha === fileSha ? 'received the file' : 'did not receive the file'}, recording ${sha === fileSha ? 'holds the file' : 'does not hold the file'}`);
  }
  for (const t of typists) {
    const id = sessionFor(t.command);
    const recorded = withoutNotices(await recordedOutput(stack, id));
    const got = withoutNotices(Buffer.concat(t.received));
    if (recorded === got) complete++;
    else problems.push(`session ${id}: recorded ${recorded.length} bytes of output, the client received ${got.length}`);
  }
  const checked = results.length + typists.length;
  // a grant has ended once its revocation is committed (the API has answered): its session must be
  // gone (channel closed at the client) within 1 s of that, and ended in the database
  const { rows } = await stack.db.query(
    `SELECT g.id, s.ended_at AS session_ended FROM grants g JOIN sessions s ON s.grant_id = g.id WHERE g.id = ANY($1::uuid[])`,
    [typists.slice(0, revokes).map((t) => t.grant.id)],
  );
  const endedInDb = new Set(rows.filter((r) => r.session_ended).map((r) => r.id as string));
  const stages = await cutStages(stack, typists.slice(0, revokes));
  const afterCommit = typists.slice(0, revokes).map((t) => (t.closedAt && t.answeredAt ? Number(t.closedAt - t.answeredAt) / 1e6 : Infinity));
  const outliving = typists.slice(0, revokes).filter((t, i) => !endedInDb.has(t.grant.id) || afterCommit[i]! > 1000).length;

  return {
    config: o, keystrokes: samples.length, keystrokesLost: lost,
    keystrokeP50Ms: round(median(samples), 2), keystrokeP99Ms: round(quantile(samples, 0.99), 2), keystrokeMaxMs: round(samples.reduce((a, b) => Math.max(a, b), 0), 1),
    quietKeystrokes: quiet.length, quietKeystrokeP50Ms: round(median(quiet), 2), quietKeystrokeP99Ms: round(quantile(quiet, 0.99), 2),
    storm: byStorm(typists),
    stormCpu: {
      seconds: round(stormSeconds, 2), api: round(stormCpu1.api - stormCpu0.api, 2), worker: round(stormCpu1.worker - stormCpu0.worker, 2),
      proxy: round(stormCpu1.proxy - stormCpu0.proxy, 2), postgres: round(stormCpu1.postgres - stormCpu0.postgres, 2),
      machineBusy: round((stormCpu1.ticks.busy - stormCpu0.ticks.busy) / Math.max(1, stormCpu1.ticks.total - stormCpu0.ticks.total), 2),
    },
    control: {
      sessions: controls.length, keystrokes: controlSamples.length, p50Ms: round(median(controlSamples), 2), p99Ms: round(quantile(controlSamples, 0.99), 2),
      quietP50Ms: round(median(controlQuiet), 2), quietP99Ms: round(quantile(controlQuiet, 0.99), 2), storm: byStorm(controls),
    },
    loopDelay: { proxy: proxyLoop, api: apiLoop, bench: { p50Ms: round(benchLoop.percentile(50) / 1e6, 1), p90Ms: round(benchLoop.percentile(90) / 1e6, 1), p99Ms: round(benchLoop.percentile(99) / 1e6, 1), maxMs: round(benchLoop.max / 1e6, 1) } },
    machineBusy: round(machineBusy, 2),
    cuts: cuts.length, cutP50Ms: round(median(cuts), 1), cutP99Ms: round(quantile(cuts, 0.99), 1), cutMaxMs: round(Math.max(...cuts), 1),
    stormSpreadMs: round(stormSpreadMs, 1), revokeApiP99Ms: round(quantile(apiMs, 0.99), 1),
    transferMiBps: results.map((r) => round(o.transferMiB / (r.wallMs / 1000), 1)), transferSeconds: round(transferSeconds, 1),
    proxyRssBaselineMB: round(rss0 / 1e6, 1), proxyRssPeakMB: round(rssPeak / 1e6, 1), proxyCpuSeconds: round(cpu, 1),
    proxyCpuCores: round(cpu / windowSeconds, 2), windowSeconds: round(windowSeconds, 1), windowStartMs: w0,
    recordingsChecked: checked, recordingsComplete: complete, recordingProblems: problems.slice(0, 20),
    sessionsOutlivingGrant: outliving, cutAfterCommitP99Ms: round(quantile(afterCommit, 0.99), 1), cutStages: stages, load: loadavg(),
  };
}
