/** The load phase's part of the benchmark report (load.ts measures): its table and its checks against issue 17's targets. */
import type { LoadResult, LoopDelay } from './load.js';
import { round } from './measure.js';

/** The phase's part of the report: its table and its checks (targets from issue 17). */
export function loadMarkdown(r: LoadResult): { lines: string[]; checks: { figure: string; target: string; measured: string; pass: boolean | null }[] } {
  const c = r.config;
  const delay = (d: LoopDelay | null) => (d ? [d.p50Ms, d.p90Ms, d.p99Ms, d.maxMs].map((v) => round(v, 1)).join(' / ') : 'n/a');
  const full = c.sessions >= 200 && c.transfers >= 10 && c.transferMiB >= 256 && c.revokes >= 100;
  const lines = [
    '', `Load phase: ${c.sessions} interactive sessions typing ${c.rate}/s, ${c.transfers} concurrent ${c.transferMiB} MiB downloads, ${Math.min(c.revokes, c.sessions)} grants revoked within one second (requests spread over ${r.stormSpreadMs} ms); window ${r.windowSeconds} s; load ${r.load.join(' ')}${c.brokerNice ? `; the api, the worker and PostgreSQL at nice ${c.brokerNice} (BENCH_LOAD_BROKER_NICE)` : ''}.`, '',
    '| load figure | measured |', '|---|---|',
    `| keystroke round trip p50 / p99 / max ms, downloads running (${r.keystrokes} keystrokes, ${r.keystrokesLost} lost) | ${r.keystrokeP50Ms} / ${r.keystrokeP99Ms} / ${r.keystrokeMaxMs} |`,
    `| keystroke round trip p50 / p99 ms, the first seconds before the downloads (${r.quietKeystrokes} keystrokes) | ${r.quietKeystrokeP50Ms} / ${r.quietKeystrokeP99Ms} |`,
    `| the same keystrokes p50 / p99 ms: sent while the revocation storm was handled (${r.storm.during[0]}); the others (${r.storm.outside[0]}) | ${r.storm.during[1]} / ${r.storm.during[2]}; ${r.storm.outside[1]} / ${r.storm.outside[2]} |`,
    `| CPU seconds over the storm (${r.stormCpu.seconds} s from its first request to its last close): api; worker; proxy; PostgreSQL — machine busy | ${r.stormCpu.api}; ${r.stormCpu.worker}; ${r.stormCpu.proxy}; ${r.stormCpu.postgres} — ${r.stormCpu.machineBusy} |`,
    ...(r.control.sessions ? [
      `| control: ${r.control.sessions} sessions straight to the device (no proxy), same window — keystroke p50 / p99 ms with the downloads running (${r.control.keystrokes} keystrokes); before them | ${r.control.p50Ms} / ${r.control.p99Ms}; ${r.control.quietP50Ms} / ${r.control.quietP99Ms} |`,
      `| control, split as above: during the storm (${r.control.storm.during[0]}); the others (${r.control.storm.outside[0]}) | ${r.control.storm.during[1]} / ${r.control.storm.during[2]}; ${r.control.storm.outside[1]} / ${r.control.storm.outside[2]} |`,
    ] : []),
    `| event-loop delay p50 / p90 / p99 / max ms: proxy; api+worker; the benchmark's clients | ${delay(r.loopDelay.proxy)}; ${delay(r.loopDelay.api)}; ${delay(r.loopDelay.bench)} |`,
    `| machine CPU busy over the window (both cores = 1.0) | ${r.machineBusy} |`,
    `| cut (revoke request → channel closed) p50 / p99 / max ms (${r.cuts} sessions; API answered p99 ${r.revokeApiP99Ms} ms) | ${r.cutP50Ms} / ${r.cutP99Ms} / ${r.cutMaxMs} |`,
    ...(r.cutStages ? [`| cut by stage p50 / p99 ms: request → API handler; → early cut on the bus; → the client got the notice; → the client saw the close | ${r.cutStages.toHandler.join(' / ')}; ${r.cutStages.handlerToBus.join(' / ')}; ${r.cutStages.busToNotice.join(' / ')}; ${r.cutStages.noticeToClose.join(' / ')} |`] : []),
    `| downloads MiB/s each (all done in ${r.transferSeconds} s) | ${r.transferMiBps.join(', ')} |`,
    `| proxy RSS fresh / peak MB | ${r.proxyRssBaselineMB} / ${r.proxyRssPeakMB} |`,
    `| proxy CPU | ${r.proxyCpuSeconds} s over ${r.windowSeconds} s (${r.proxyCpuCores} cores) |`,
    `| recordings complete (output recorded = bytes received) | ${r.recordingsComplete} / ${r.recordingsChecked} |`,
    `| sessions outliving their grant (open 1 s after the revocation was committed; commit → closed p99 ${r.cutAfterCommitP99Ms} ms) | ${r.sessionsOutlivingGrant} |`,
    ...(r.recordingProblems.length ? ['', `Problems (revocations, recordings): ${r.recordingProblems.join('; ')}`] : []),
  ];
  const at = (b: boolean) => (full ? b : null);
  return {
    lines,
    checks: [
      { figure: 'load: keystroke p99', target: '≤ 20 ms', measured: `${r.keystrokeP99Ms} ms`, pass: at(r.keystrokeP99Ms <= 20) },
      { figure: 'load: revocation storm cut p99', target: '≤ 1000 ms', measured: `${r.cutP99Ms} ms`, pass: at(r.cutP99Ms <= 1000) },
      { figure: 'load: no session outlives its grant', target: '0', measured: String(r.sessionsOutlivingGrant), pass: r.sessionsOutlivingGrant === 0 },
      { figure: 'load: every recording complete', target: 'all', measured: `${r.recordingsComplete} / ${r.recordingsChecked}`, pass: r.recordingsComplete === r.recordingsChecked },
    ],
  };
}
