/**
 * The load phase's cut split into stages (load.ts), from timestamps that exist anyway: request sent →
 * the API's handler read its clock (the grant's ended_at: HTTP, token check, queueing for the process)
 * → the early cut reached this process on the revocation bus (the transaction up to the grants' end:
 * the connection, the grant's row lock, the device; the publication) → the client got the
 * revocation's notice (the proxy's event loop, the way back to the client) → the client saw its
 * channel close (the proxy's close after the notice).
 */
import { pino } from 'pino';
import { createRevocationBus } from '../../server/bus/create-bus.js';
import { median, quantile, round } from './measure.js';
import type { Stack } from './stack.js';

/** p50 / p99 ms of each stage over the revoked grants */
export interface CutStages { toHandler: [number, number]; handlerToBus: [number, number]; busToNotice: [number, number]; noticeToClose: [number, number] }

/** One revoked grant's moments as the benchmark saw them (hrtime ns). */
export interface CutTimes {
  grant: { id: string };
  revokedAt: bigint | null;
  /** when the early cut of its grant reached this process's bus subscriber */
  busAt?: bigint;
  noticeAt: bigint | null;
  closedAt: bigint | null;
}

/** Subscribes to the broker's revocation bus beside the proxy, stamping `busAt` on the early cuts of these grants. */
export async function listenForEarlyCuts(stack: Stack, revoked: CutTimes[]): Promise<() => Promise<void>> {
  const byGrant = new Map(revoked.map((t) => [t.grant.id, t]));
  const bus = createRevocationBus({ databaseUrl: stack.databaseUrl, redisUrl: stack.redisUrl || undefined, logger: pino({ level: 'silent' }) });
  const unsubscribe = await bus.subscribe((e) => {
    const now = process.hrtime.bigint();
    if (e.type !== 'grant.ended' || !e.early) return;
    for (const id of e.grantIds) {
      const t = byGrant.get(id);
      if (t) t.busAt ??= now;
    }
  });
  return async () => {
    await unsubscribe();
    await bus.close();
  };
}

/** hrtime (ns) → epoch ms, both read now (the database's timestamps are epoch) */
function wallClock(): (hr: bigint) => number {
  const wall = Date.now();
  const hr = process.hrtime.bigint();
  return (t) => wall + Number(t - hr) / 1e6;
}

/** The stages, with the grants' ended_at read from the database; null when no cut was seen whole. */
export async function cutStages(stack: Stack, revoked: CutTimes[]): Promise<CutStages | null> {
  const { rows } = await stack.db.query(`SELECT id, ended_at AS grant_ended FROM grants WHERE id = ANY($1::uuid[])`, [revoked.map((t) => t.grant.id)]);
  const ended = new Map(rows.map((r) => [r.id as string, r.grant_ended as Date | null]));
  const wall = wallClock();
  const [a, b, c, d]: number[][] = [[], [], [], []];
  for (const t of revoked) {
    const at = ended.get(t.grant.id);
    if (!at || !t.revokedAt || !t.busAt || !t.noticeAt || !t.closedAt) continue;
    a.push(at.getTime() - wall(t.revokedAt));
    b.push(wall(t.busAt) - at.getTime());
    c.push(Number(t.noticeAt - t.busAt) / 1e6);
    d.push(Number(t.closedAt - t.noticeAt) / 1e6);
  }
  if (!a.length) return null;
  const pq = (xs: number[]): [number, number] => [round(median(xs), 1), round(quantile(xs, 0.99), 1)];
  return { toHandler: pq(a), handlerToBus: pq(b), busToNotice: pq(c), noticeToClose: pq(d) };
}
