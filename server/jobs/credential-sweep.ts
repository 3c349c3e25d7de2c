/**
 * The worker's credential sweep (§8.4): every hour, a `credential.rotate` job for each rotated device key
 * that has reached CREDENTIAL_MAX_AGE_DAYS or whose rotation was left unfinished. Start-up reconciliation
 * runs the same check; deterministic job ids make several workers sweeping at once harmless.
 */
import { scheduleDueRotations } from '../core/credential-report.js';
import type { CoreDeps } from '../core/ports.js';
import type { Logger } from '../logger.js';

export const CREDENTIAL_SWEEP_MS = 60 * 60_000;

export function startCredentialSweep(deps: CoreDeps, opts: { intervalMs?: number; logger: Logger }): { close(): Promise<void> } {
  const sweep = () => {
    scheduleDueRotations(deps).then(
      (n) => (n ? opts.logger.info({ scheduled: n }, 'device key rotations due') : undefined),
      (err) => opts.logger.warn({ err }, 'credential sweep failed'),
    );
  };
  const timer = setInterval(sweep, opts.intervalMs ?? CREDENTIAL_SWEEP_MS);
  timer.unref();
  return { close: async () => clearInterval(timer) };
}
