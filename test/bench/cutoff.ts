/**
 * Cut-off latency across processes: the API process (ROLES=api) takes the revocation, the
 * proxy process (ROLES=proxy) hears it on the revocation bus and cuts the live session.
 * - revocation: from just before `POST /api/grants/:id/revoke` is sent to the exit of the
 *   technician's ssh (an interactive pty session running `cat`);
 * - expiry: the grant's ends_at is moved to a few seconds from now in the database before the
 *   technician connects (the proxy arms its own timer from the grant it reads at connection time);
 *   measured from ends_at to the exit of ssh. A fresh technician per expiry run: the shortened grant
 *   stays `active` in the database (its expiry job is due at the original end), and a technician may
 *   hold only one open grant per device.
 */
import { generateKey } from '../support/device-sshd.js';
import { exited, spawnTracked } from './procs.js';
import { median, quantile, round } from './measure.js';
import type { Stack, Technician, Grant } from './stack.js';

export interface CutRun {
  ms: number;
  endReason: string | null;
  apiMs?: number;
}

export interface CutoffResult {
  revocation: { runs: CutRun[]; medianMs: number; p99Ms: number; maxMs: number };
  expiry: { runs: CutRun[]; medianMs: number; p99Ms: number; maxMs: number };
}

/** Starts an interactive session as `keyPath`'s certificate and resolves once the device shell runs. */
async function liveSession(stack: Stack, keyPath: string) {
  const child = spawnTracked('ssh', ['-F', stack.sshConfig, '-tt', '-i', keyPath, 'pc', 'echo READY; exec cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  // hi-res time of the exit, taken in the exit handler (the revocation may be answered after it)
  const gone = exited(child).then(() => process.hrtime.bigint());
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes('READY')) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
    void gone.then(() => {
      clearInterval(timer);
      reject(new Error(`ssh exited (${child.exitCode}) before the session was live: ${output}`));
    });
  });
  return { child, gone, output: () => output };
}

async function sessionEndReason(stack: Stack, grant: Grant): Promise<string | null> {
  for (let i = 0; i < 50; i++) {
    const list = await stack.api.ok('GET', `/api/sessions?grantId=${grant.id}&limit=1`, stack.adminToken);
    if (list.items[0]?.endReason) return list.items[0].endReason;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

const summary = (runs: CutRun[]) => {
  const ms = runs.map((r) => r.ms);
  return { runs, medianMs: round(median(ms), 1), p99Ms: round(quantile(ms, 0.99), 1), maxMs: round(Math.max(...ms), 1) };
};

export async function measureCutoff(stack: Stack, o: { runs: number; expiryLeadMs: number; log: (s: string) => void }): Promise<CutoffResult> {
  const key = generateKey(stack.tmp, 'cut_ed25519');
  const revoker: Technician = await stack.newTechnician('revoke');
  const rev: CutRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    const grant = await stack.newGrant(revoker, 60);
    await stack.certificate(revoker, grant, key.path);
    const s = await liveSession(stack, key.path);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = process.hrtime.bigint();
    const res = await stack.api.call('POST', `/api/grants/${grant.id}/revoke`, stack.adminToken, { reason: 'benchmark kill switch' });
    const apiMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.status >= 300) throw new Error(`revoke failed: ${res.status} ${JSON.stringify(res.body)}`);
    const ms = Number((await s.gone) - t0) / 1e6;
    const endReason = await sessionEndReason(stack, grant);
    rev.push({ ms: round(ms, 1), apiMs: round(apiMs, 1), endReason });
    o.log(`  revocation ${i + 1}/${o.runs}: ssh closed ${round(ms, 1)} ms after the request (API answered in ${round(apiMs, 1)} ms; session ${endReason})`);
  }

  const exp: CutRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    const tech = await stack.newTechnician(`expiry${i}`);
    const grant = await stack.newGrant(tech, 60);
    await stack.certificate(tech, grant, key.path);
    const { rows } = await stack.db.query<{ ends_at: Date }>(
      `UPDATE grants SET ends_at = now() + make_interval(secs => $2) WHERE id = $1 RETURNING ends_at`, [grant.id, o.expiryLeadMs / 1000],
    );
    const endsAt = rows[0].ends_at.getTime();
    const s = await liveSession(stack, key.path);
    if (Date.now() >= endsAt) throw new Error('the session was not live before the shortened grant end; raise BENCH_EXPIRY_LEAD_MS');
    await s.gone;
    const ms = Date.now() - endsAt;
    const endReason = await sessionEndReason(stack, grant);
    exp.push({ ms: round(ms, 1), endReason });
    o.log(`  expiry ${i + 1}/${o.runs}: ssh closed ${ms} ms after ends_at (session ${endReason})`);
  }
  return { revocation: summary(rev), expiry: summary(exp) };
}
