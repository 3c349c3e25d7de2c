/**
 * The periodic audit checkpoint (worker role): at start and every AUDIT_CHECKPOINT_MINUTES the log
 * is verified and a signed checkpoint of its head is appended to the log and, one JSON line each,
 * to DATA_DIR/audit-checkpoints.jsonl — a copy outside the database. The last line of that file is
 * checked against the database on the next run, so a rewrite done while the broker was stopped shows.
 * The first run walks the whole log; later ones check that the last checkpoint still holds and walk
 * only what follows it (`GET /api/audit/verify` always walks everything).
 * Runs never overlap; several workers each writing checkpoints is harmless.
 */
import fs from 'node:fs/promises';
import { writeAuditCheckpoint, type CheckpointOutcome } from '../core/audit.js';
import { checkpointSignedBy, type AuditCheckpoint } from '../core/audit-checkpoint.js';
import type { CoreDeps } from '../core/ports.js';

export interface AuditCheckpointOptions {
  file: string;
  intervalMs: number;
  logger: CheckpointLog;
}

/** The part of the operator log (pino) the job writes to. */
export interface CheckpointLog {
  info(context: object, message: string): void;
  warn(context: object, message: string): void;
  error(context: object, message: string): void;
}

export interface AuditCheckpointJob {
  /** one run now (waits for a run in progress instead of starting another) */
  runOnce(): Promise<CheckpointOutcome | null>;
  close(): Promise<void>;
}

const TAIL_BYTES = 64 * 1024;

/** The last checkpoint line of the file, if any (only its tail is read). */
export async function readLastCheckpoint(file: string): Promise<AuditCheckpoint | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const last = buf.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean).pop();
    return last ? (JSON.parse(last) as AuditCheckpoint) : undefined;
  } finally {
    await handle.close();
  }
}

export function startAuditCheckpoints(deps: CoreDeps, opts: AuditCheckpointOptions): AuditCheckpointJob {
  const log = opts.logger;
  let running: Promise<CheckpointOutcome | null> | null = null;
  // the last checkpoint this process verified the whole log up to: later runs walk only what follows
  let since: { seq: number; hash: string } | undefined;

  const run = async (): Promise<CheckpointOutcome | null> => {
    let previous: AuditCheckpoint | undefined;
    try {
      previous = await readLastCheckpoint(opts.file);
    } catch (err) {
      log.warn({ err, file: opts.file }, 'audit checkpoints file unreadable: checking the log without it');
    }
    const key = deps.checkpointKey;
    if (previous && key && !checkpointSignedBy(key, previous)) {
      const why = previous.publicKey === key.publicKey ? 'its signature does not verify' : 'it was signed with another key';
      log.warn({ file: opts.file, seq: previous.seq }, `the last checkpoint in the file is not used: ${why}`);
    }
    const outcome = await writeAuditCheckpoint(deps, { previous, since });
    if (!outcome.ok) {
      log.error({ firstBadSeq: outcome.firstBadSeq, problem: outcome.problem }, 'audit log does not verify: no checkpoint signed');
      return outcome;
    }
    since = { seq: outcome.checkpoint.seq, hash: outcome.checkpoint.hash };
    await fs.appendFile(opts.file, `${JSON.stringify(outcome.checkpoint)}\n`, { mode: 0o640 });
    log.info({ seq: outcome.checkpoint.seq, hash: outcome.checkpoint.hash }, 'audit checkpoint signed');
    return outcome;
  };

  const runOnce = (): Promise<CheckpointOutcome | null> => {
    running ??= run()
      .catch((err: unknown) => {
        log.error({ err }, 'audit checkpoint failed');
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };

  void runOnce();
  const timer = setInterval(() => void runOnce(), opts.intervalMs);
  return {
    runOnce,
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
