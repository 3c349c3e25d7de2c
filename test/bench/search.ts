/**
 * Search phase (issue 16): N synthetic ended sessions, each with a recording of about K KB of terminal
 * text (a device shell: typed commands one keystroke per "i" event, the device's output in coalesced "o"
 * events — log lines, listings, configuration, hex dumps, with per-session timestamps, pids and serials),
 * indexed through the real code path — the worker's search indexer (server/jobs/search-indexer.ts)
 * reading the cast files and writing segments — into a dedicated throw-away database, dropped after.
 * Recordings are written in batches, indexed and deleted (disk stays at one batch); only the indexer's
 * passes are timed. Then auditors' queries with filters (device, vendor, technician, time range) run
 * through the search repository (the SQL behind GET /api/search, without HTTP), several times each.
 * Figures: indexing throughput (MB of recording text — the bytes the device sent and the technician
 * typed — per second, and MB of cast file per second), search p50/p95 per query and overall.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { readingFor, searchEstimates, searchRepo, searchStatement } from '../../server/db/search-repo.js';
import { parseQuery } from '../../server/core/search-tokens.js';
import { systemClock } from '../../server/core/clock.js';
import { startSearchIndexer } from '../../server/jobs/search-indexer.js';
import { createTestDatabase } from '../support/databases.js';
import { loadavg, median, quantile, round } from './measure.js';
import { cpuSeconds, onCleanup } from './procs.js';

export interface SearchQueryResult {
  name: string;
  q: string;
  filters: string;
  hits: number;
  p50Ms: number;
  p95Ms: number;
}

export interface SearchResult {
  sessions: number;
  kbPerSession: number;
  /** bytes of recording text (output + input) over all sessions, MB (10^6) */
  textMB: number;
  castMB: number;
  segments: number;
  indexSeconds: number;
  indexTextMBps: number;
  /** CPU seconds the indexing took: the indexer (this process) and its PostgreSQL backends */
  indexCpuSeconds: { node: number; postgres: number };
  /** MB of text per CPU second (node + postgres): what the machine gives when it is not shared */
  indexTextMBPerCpuSecond: number;
  /** how late a 5 ms timer fired in the indexing process during its passes, p99 / max ms */
  indexLoopDelayMs?: { p99: number; max: number };
  indexCastMBps: number;
  tableMB: number;
  queries: SearchQueryResult[];
  /** over every query execution */
  p50Ms: number;
  p95Ms: number;
  load: [number, number, number];
  /** 1-minute load average after each batch: min, median, max */
  loadDuringIndexing: [number, number, number];
  /** the other ways of indexing measured alongside (BENCH_SEARCH_COMPARE) */
  compared: SearchVariantResult[];
}

/**
 * BENCH_SEARCH_SESSIONS (10,000; smoke 100), BENCH_SEARCH_KB (KB of recording text per session: 200;
 * smoke 20), BENCH_SEARCH_RUNS (executions of each query: 20; smoke 3), BENCH_SEARCH_COMPARE (1: also
 * index the way it was done before migration 036, alternating, see measureSearch), BENCH_SEARCH_EXPLAIN (1: log
 * each query's plan, EXPLAIN ANALYZE, once), BENCH_SEARCH_KEEP (1: keep the search database and print
 * its URL, for trying queries by hand; drop it yourself). The full size indexes about 2 GB
 * of text (minutes on a small machine, and several GB in the throw-away database while it runs).
 */
export function searchConfig(num: (name: string, def: number) => number, smoke: boolean) {
  return {
    sessions: Math.round(num('BENCH_SEARCH_SESSIONS', smoke ? 100 : 10_000)),
    kbPerSession: num('BENCH_SEARCH_KB', smoke ? 20 : 200),
    queryRuns: Math.round(num('BENCH_SEARCH_RUNS', smoke ? 3 : 20)),
    compare: num('BENCH_SEARCH_COMPARE', 0) > 0,
    explain: num('BENCH_SEARCH_EXPLAIN', 0) > 0,
  };
}

// ---------------------------------------------------------------------------------------------
// synthetic sessions (deterministic)

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ra', 'te', 'pu', 'mp', 'in', 'fu', 'so', 'ch', 'an', 'ne', 'lo', 'cc', 'lu', 'si', 'on', 'al', 'ar', 'mc', 'le', 'ar', 'ed', 'do', 'se', 'va', 'lv', 'ex', 'ta', 'ba', 'tt', 'er', 'yo', 'ck', 'ki', 'mo', 'de'];
const COMMON = ['rate', 'ml/h', 'channel', 'pump', 'occlusion', 'alarm', 'cleared', 'battery', 'level', 'door', 'open', 'closed', 'bolus', 'dose',
  'drug', 'library', 'version', 'firmware', 'update', 'check', 'ok', 'error', 'warning', 'info', 'sensor', 'pressure', 'upstream', 'downstream',
  'air', 'in', 'line', 'detected', 'volume', 'infused', 'remaining', 'kvo', 'mode', 'standby', 'running', 'paused', 'network', 'wifi', 'signal',
  'dhcp', 'lease', 'renewed', 'service', 'started', 'stopped', 'config', 'saved', 'user', 'session', 'login', 'logout', 'calibration', 'due'];
const COMMANDS = ['ls -l /var/log', 'cat /var/log/infusion.log', 'tail -n 50 /var/log/pump/events.log', 'uptime', 'df -h', 'free -m', 'ps aux',
  'dmesg | tail', 'cat /etc/pump/config.ini', 'ifconfig eth0', 'systemctl status pumpd', 'journalctl -u pumpd -n 40', 'hexdump -C /dev/mtd0 | head',
  'grep -i alarm /var/log/infusion.log', 'cd /opt/firmware', 'sha256sum pump-4.3.0.bin', 'mount', 'top -b -n 1 | head -20', 'date', 'whoami'];
// rarer commands an auditor looks for
const RARE = ['passwd vendorsvc', 'rm -rf /tmp/update-staging', 'cat /etc/shadow', 'sqlite3 /data/druglib.db .dump', 'iptables -F',
  'fw_setenv bootdelay 0', 'chmod 777 /opt/firmware', 'scp pump-4.3.0.bin root@10.0.0.5:/tmp', 'echo CHG-1042 applied', 'reboot'];

class SessionText {
  private readonly rnd: () => number;
  private readonly words: string[];
  constructor(seed: number, vocabulary: string[]) {
    this.rnd = prng(seed);
    this.words = vocabulary;
  }
  private pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.rnd() * a.length)]!;
  }
  /** a Zipf-ish draw: common words often, the long tail rarely */
  private word(): string {
    const r = this.rnd();
    return r < 0.6 ? this.pick(COMMON) : this.words[Math.floor(Math.pow(this.rnd(), 3) * this.words.length)]!;
  }
  private hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(this.rnd() * 16)];
    return s;
  }
  outputLine(t: number, serial: string): string {
    const kind = this.rnd();
    const ts = new Date(Date.UTC(2026, 10, 30, 8) + t * 1000).toISOString();
    if (kind < 0.45) {
      const n = 4 + Math.floor(this.rnd() * 10);
      const words = Array.from({ length: n }, () => this.word()).join(' ');
      return `${ts} pumpd[${1000 + Math.floor(this.rnd() * 9000)}]: ${words} ${serial}`;
    }
    if (kind < 0.65) return `-rw-r--r-- 1 root root ${Math.floor(this.rnd() * 1e6)} Nov 30 08:${String(Math.floor(this.rnd() * 60)).padStart(2, '0')} ${this.word()}-${this.hex(4)}.log`;
    if (kind < 0.8) return `${this.word()}_${this.word()}=${Math.floor(this.rnd() * 1000)}`;
    if (kind < 0.92) return `${this.hex(8)}  ${Array.from({ length: 16 }, () => this.hex(2)).join(' ')}  |................|`;
    return `\x1b[1;3${1 + Math.floor(this.rnd() * 6)}m${this.word()} ${this.word()}\x1b[0m ${Math.floor(this.rnd() * 100)}%`;
  }
  command(): string {
    return this.rnd() < 0.03 ? this.pick(RARE) : this.pick(COMMANDS);
  }
  next(): number {
    return this.rnd();
  }
}

/** the long tail of device words (made-up, pronounceable), the same in every run */
const VOCABULARY = Array.from({ length: 5000 }, (_, i) => {
  const r = prng(i + 1);
  return Array.from({ length: 2 + Math.floor(r() * 3) }, () => SYLLABLES[Math.floor(r() * SYLLABLES.length)]).join('');
});

/** The cast of one session: about `textBytes` bytes of output and input; returns the cast and its text size. */
export function syntheticCast(seed: number, textBytes: number, startedAt: Date): { cast: string; text: number; seconds: number } {
  const g = new SessionText(seed, VOCABULARY);
  const serial = `SN-${seed.toString(36).toUpperCase().padStart(6, '0')}`;
  const lines: string[] = [JSON.stringify({ version: 2, width: 120, height: 40, timestamp: Math.floor(startedAt.getTime() / 1000), title: 'bench' })];
  let t = 0.1;
  let text = 0;
  const ev = (code: 'o' | 'i', data: string) => {
    lines.push(`[${t.toFixed(6)}, "${code}", ${JSON.stringify(data)}]`);
    text += Buffer.byteLength(data);
  };
  ev('o', 'pump$ ');
  while (text < textBytes) {
    const cmd = g.command();
    for (const ch of cmd + '\r') {
      t += 0.05 + g.next() * 0.2;
      ev('i', ch);
    }
    t += 0.01;
    ev('o', `${cmd}\r\n`);
    const outLines = 5 + Math.floor(g.next() * 60);
    let chunk = '';
    for (let i = 0; i < outLines; i++) {
      chunk += g.outputLine(t, serial) + '\r\n';
      if (chunk.length > 3000) {
        t += 0.02;
        ev('o', chunk);
        chunk = '';
      }
    }
    ev('o', `${chunk}pump$ `);
    t += 1 + g.next() * 5;
  }
  return { cast: lines.join('\n') + '\n', text, seconds: t };
}

// ---------------------------------------------------------------------------------------------

interface Fixtures { vendors: string[]; devices: string[]; technicians: { id: string; vendor: string }[]; grants: { id: string; tech: string; device: string }[] }

/** vendors, devices, technicians and their (ended) grants, straight into the bench's own database */
async function fixtures(db: pg.Pool): Promise<Fixtures> {
  const vendors = Array.from({ length: 5 }, () => randomUUID());
  for (const [i, id] of vendors.entries()) {
    await db.query(`INSERT INTO vendors (id, name, contract_ref, contract_end) VALUES ($1, $2, 'BENCH', '2099-12-31')`, [id, `Bench vendor ${i}`]);
  }
  const devices = Array.from({ length: 50 }, () => randomUUID());
  for (const [i, id] of devices.entries()) {
    await db.query(
      `INSERT INTO devices (id, name, manufacturer, model, firmware_baseline, department, clinical_purpose, criticality, address, approvals_required, approver_department)
       VALUES ($1, $2, 'Bench', 'Pump', '4.2', 'icu', 'infusion', 'high', '127.0.0.1', 1, 'biomed')`, [id, `bench-pump-${i}`]);
  }
  const technicians = Array.from({ length: 50 }, (_, i) => ({ id: randomUUID(), vendor: vendors[i % vendors.length]! }));
  for (const [i, t] of technicians.entries()) {
    await db.query(
      `INSERT INTO users (id, username, display_name, roles, password_hash, vendor_id) VALUES ($1, $2, 'Bench tech', '{technician}', 'x', $3)`, [t.id, `bench-tech-${i}`, t.vendor]);
  }
  const grants: Fixtures['grants'] = [];
  for (let i = 0; i < 400; i++) {
    const tech = technicians[i % technicians.length]!;
    const device = devices[(i * 7) % devices.length]!;
    const req = randomUUID();
    const id = randomUUID();
    await db.query(
      `INSERT INTO access_requests (id, technician_id, device_id, reason, ticket_ref, starts_at, duration_minutes, approvals_required, status, expires_at, closed_at)
       VALUES ($1, $2, $3, 'bench', 'BENCH-1', '2026-01-01', 60, 1, 'approved', '2026-01-02', '2026-01-01')`, [req, tech.id, device]);
    await db.query(
      `INSERT INTO grants (id, request_id, technician_id, device_id, vendor_id, status, starts_at, ends_at, ended_at)
       VALUES ($1, $2, $3, $4, $5, 'expired', '2026-01-01', '2027-01-01', '2027-01-01')`, [id, req, tech.id, device, tech.vendor]);
    grants.push({ id, tech: tech.id, device });
  }
  return { vendors, devices, technicians, grants };
}

/** One way of indexing, in its own throw-away database, measured on the same sessions as the others. */
interface Variant {
  name: string;
  tsvector: 'worker' | 'database';
  db: pg.Pool;
  fx: Fixtures;
  indexer: ReturnType<typeof startSearchIndexer>;
  backendCpu: () => number;
  nodeCpuUs: number;
  /** how late a 5 ms timer fired in this process during the indexer's passes (what a proxy sharing its loop would wait) */
  lateMs: number[];
  pgCpu: number;
  indexMs: number;
}

export interface SearchVariantResult {
  name: string;
  indexSeconds: number;
  indexTextMBps: number;
  indexCpuSeconds: { node: number; postgres: number };
  indexTextMBPerCpuSecond: number;
  /** how late a 5 ms timer fired in this process during the passes, p99 / max ms */
  indexLoopDelayMs: { p99: number; max: number };
  segments: number;
  tableMB: number;
  queries: SearchQueryResult[];
  p50Ms: number;
  p95Ms: number;
}

/** Samples how late a `everyMs` timer fires in this process, into `into`, until stopped. */
function timerLateness(everyMs: number, into: number[]): { stop(): void } {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    into.push(Math.max(0, now - last - everyMs));
    last = now;
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}

async function openVariant(name: string, tsvector: Variant['tsvector'], log: (s: string) => void): Promise<Variant & { close: () => Promise<void> }> {
  const database = await createTestDatabase('portcullis_bench_search');
  let dropped = false;
  const drop = async () => {
    if (process.env.BENCH_SEARCH_KEEP === '1') {
      if (!dropped) log(`  BENCH_SEARCH_KEEP=1: the search database is kept: ${database.url}`);
    } else if (!dropped) await database.drop();
    dropped = true;
  };
  onCleanup('search phase database', drop);
  // idle connections are kept: the same backends all along, so their CPU time can be read from /proc
  const db = new pg.Pool({ connectionString: database.url, max: 4, idleTimeoutMillis: 0 });
  db.on('error', (err) => log(`  search phase: a database connection failed: ${err.message}`)); // not an uncaught exception
  const fx = await fixtures(db);
  const held = await Promise.all(Array.from({ length: 4 }, () => db.connect()));
  const backends = await Promise.all(held.map(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number));
  for (const c of held) c.release();
  // the indexer as the worker runs it, but passes only when the phase asks (runOnce)
  const indexer = startSearchIndexer({ pool: db, clock: systemClock, logger: pino({ level: 'warn' }) }, { intervalMs: 3_600_000, tsvector });
  await indexer.runOnce(); // nothing yet: the first pass happens outside the timing
  return {
    name, tsvector, db, fx, indexer, backendCpu: () => backends.reduce((a, pid) => a + cpuSeconds(pid), 0), nodeCpuUs: 0, pgCpu: 0, indexMs: 0,
    lateMs: [],
    async close() {
      await indexer.close();
      await db.end();
      await drop();
    },
  };
}

/**
 * BENCH_SEARCH_COMPARE=1: the same sessions are also indexed the way it was done before migration 036
 * (PostgreSQL's to_tsvector parses the text) into a second database, the two alternating batch by batch
 * (which goes first alternates too), so CPU seconds per MB compare under the same load.
 */
export async function measureSearch(o: { sessions: number; kbPerSession: number; queryRuns: number; compare?: boolean; explain?: boolean; tmp: string; log: (s: string) => void }): Promise<SearchResult> {
  const dir = await fs.mkdtemp(path.join(o.tmp, 'search-'));
  const variants: (Variant & { close: () => Promise<void> })[] = [];
  try {
    variants.push(await openVariant('tokens built by the indexer', 'worker', o.log));
    if (o.compare) variants.push(await openVariant('to_tsvector in PostgreSQL (before)', 'database', o.log));
    const yearStart = Date.UTC(2026, 0, 1);
    const BATCH = 100;
    let textBytes = 0;
    let castBytes = 0;
    const loads: number[] = [];
    const t0 = Date.now();
    for (let start = 0; start < o.sessions; start += BATCH) {
      const n = Math.min(BATCH, o.sessions - start);
      const sessionIds: string[] = [];
      const starts: Date[] = [];
      const ends: Date[] = [];
      const paths: string[] = [];
      const sizes: number[] = [];
      for (let i = 0; i < n; i++) {
        const k = start + i;
        const startedAt = new Date(yearStart + Math.floor((k / o.sessions) * 330 * 86_400_000));
        const { cast, text, seconds } = syntheticCast(k + 1, o.kbPerSession * 1024, startedAt);
        const file = path.join(dir, `${k}.cast`);
        await fs.writeFile(file, cast);
        textBytes += text;
        castBytes += Buffer.byteLength(cast);
        sessionIds.push(randomUUID());
        starts.push(startedAt);
        ends.push(new Date(startedAt.getTime() + seconds * 1000));
        paths.push(file);
        sizes.push(Buffer.byteLength(cast));
      }
      for (const v of variants) {
        const grants = sessionIds.map((_, i) => v.fx.grants[(start + i) % v.fx.grants.length]!);
        await v.db.query(
          `INSERT INTO sessions (id, grant_id, technician_id, device_id, channel, started_at, ended_at, end_reason)
           SELECT id, g, t, d, 'shell', s, e, 'client_closed' FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::timestamptz[]) AS u(id, g, t, d, s, e)`,
          [sessionIds, grants.map((g) => g.id), grants.map((g) => g.tech), grants.map((g) => g.device), starts, ends],
        );
        await v.db.query(
          `INSERT INTO recordings (session_id, path, size_bytes, duration_ms, sha256, finalised_at)
           SELECT s, p, b, 1000, repeat('0', 64), now() FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS u(s, p, b)`,
          [sessionIds, paths, sizes],
        );
      }
      // alternate which variant goes first
      const order = (start / BATCH) % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const c0 = process.cpuUsage();
        const p0 = v.backendCpu();
        const i0 = process.hrtime.bigint();
        const late = timerLateness(5, v.lateMs);
        const done = await v.indexer.runOnce();
        late.stop();
        v.indexMs += Number(process.hrtime.bigint() - i0) / 1e6;
        const c1 = process.cpuUsage(c0);
        v.nodeCpuUs += c1.user + c1.system;
        v.pgCpu += v.backendCpu() - p0;
        if (done !== n) throw new Error(`${v.name}: the indexer completed ${done} sessions of ${n}`);
      }
      loads.push(loadavg()[0]);
      await Promise.all(paths.map((p) => fs.rm(p, { force: true })));
      if ((start / BATCH) % 10 === 9 || start + n >= o.sessions) {
        for (const v of variants) {
          o.log(`  ${v.name}: indexed ${start + n}/${o.sessions} sessions: ${round(textBytes / 1e6, 1)} MB of text in ${round(v.indexMs / 1000, 1)} s of indexing (${round(textBytes / 1e6 / (v.indexMs / 1000), 1)} MB/s; CPU node ${round(v.nodeCpuUs / 1e6, 1)} s + postgres ${round(v.pgCpu, 1)} s = ${round(textBytes / 1e6 / (v.nodeCpuUs / 1e6 + v.pgCpu), 2)} MB per CPU-second)`);
        }
        o.log(`  ${round((Date.now() - t0) / 1000)} s elapsed, load ${loadavg().join(' ')}`);
      }
    }
    const results: SearchVariantResult[] = [];
    for (const v of variants) {
      await v.indexer.close();
      const { rows: [stats] } = await v.db.query(`SELECT count(*)::bigint AS n, pg_total_relation_size('search_segments') AS bytes FROM search_segments`);
      await v.db.query('ANALYZE search_segments');
      o.log(`  queries on the index built with ${v.name}:`);
      const q = await measureQueries(v.db, v.fx, o.queryRuns, o.log, o.explain);
      const cpu = { node: round(v.nodeCpuUs / 1e6, 1), postgres: round(v.pgCpu, 1) };
      results.push({
        name: v.name, indexSeconds: round(v.indexMs / 1000, 1), indexTextMBps: round(textBytes / 1e6 / (v.indexMs / 1000), 1), indexCpuSeconds: cpu,
        indexTextMBPerCpuSecond: round(textBytes / 1e6 / (v.nodeCpuUs / 1e6 + v.pgCpu), 2), segments: Number(stats.n),
        indexLoopDelayMs: { p99: round(quantile(v.lateMs, 0.99), 1), max: round(v.lateMs.reduce((a, b) => Math.max(a, b), 0), 1) },
        tableMB: round(Number(stats.bytes) / 1e6, 1), queries: q.queries, p50Ms: q.p50Ms, p95Ms: q.p95Ms,
      });
    }
    const main = results[0]!;
    return {
      indexCpuSeconds: main.indexCpuSeconds, indexTextMBPerCpuSecond: main.indexTextMBPerCpuSecond, indexLoopDelayMs: main.indexLoopDelayMs,
      sessions: o.sessions, kbPerSession: o.kbPerSession, textMB: round(textBytes / 1e6, 1), castMB: round(castBytes / 1e6, 1), segments: main.segments,
      indexSeconds: main.indexSeconds, indexTextMBps: main.indexTextMBps, indexCastMBps: round(castBytes / 1e6 / (main.indexSeconds), 1),
      tableMB: main.tableMB, queries: main.queries, p50Ms: main.p50Ms, p95Ms: main.p95Ms, load: loadavg(),
      loadDuringIndexing: loads.length ? [Math.min(...loads), round(median(loads), 2), Math.max(...loads)] : [0, 0, 0],
      compared: results.slice(1),
    };
  } finally {
    for (const v of variants) await v.close().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The bench's vendors, devices and technicians read back from its database (in creation order). */
export async function fixturesOf(db: pg.Pool): Promise<Pick<Fixtures, 'vendors' | 'devices' | 'technicians'>> {
  const n = (name: string) => Number(/(\d+)$/.exec(name)![1]);
  const byName = (rows: { id: string; name: string }[]) => rows.sort((a, b) => n(a.name) - n(b.name)).map((r) => r.id);
  const vendors = byName((await db.query("SELECT id, name FROM vendors WHERE name LIKE 'Bench vendor %'")).rows);
  const devices = byName((await db.query("SELECT id, name FROM devices WHERE name LIKE 'bench-pump-%'")).rows);
  const techs = (await db.query("SELECT id, username AS name, vendor_id FROM users WHERE username LIKE 'bench-tech-%'")).rows;
  techs.sort((a, b) => n(a.name) - n(b.name));
  return { vendors, devices, technicians: techs.map((t) => ({ id: t.id as string, vendor: t.vendor_id as string })) };
}

/** Auditors' questions — rare and common words, a phrase, a change ticket, a serial — with filters, `runs` times each. */
export async function measureQueries(db: pg.Pool, fx: Pick<Fixtures, 'vendors' | 'devices' | 'technicians'>, runs: number, log: (s: string) => void, explain = false) {
  const repo = searchRepo(db);
  const quarter = { from: new Date(Date.UTC(2026, 6, 1)), to: new Date(Date.UTC(2026, 9, 1)) };
  const queries: { name: string; q: string; filters: Record<string, unknown> }[] = [
    { name: 'passwd, all sessions', q: 'passwd', filters: {} },
    { name: '"rm -rf" on one device', q: '"rm -rf"', filters: { deviceId: fx.devices[3] } },
    { name: 'passwd or shadow, one vendor, one quarter', q: 'passwd or shadow', filters: { vendorId: fx.vendors[1], ...quarter } },
    { name: 'occlusion alarm, one technician', q: 'occlusion alarm', filters: { technicianId: fx.technicians[7]!.id } },
    { name: 'firmware update, one quarter', q: 'firmware update', filters: quarter },
    { name: 'change ticket CHG-1042', q: 'CHG-1042', filters: {} },
    { name: 'a device serial', q: `SN-${(4242).toString(36).toUpperCase().padStart(6, '0')}`, filters: {} },
    { name: 'sqlite3 dump, one device, one quarter', q: 'sqlite3 .dump', filters: { deviceId: fx.devices[10], ...quarter } },
  ];
  const results: SearchQueryResult[] = [];
  const all: number[] = [];
  for (const q of queries) {
    const ms: number[] = [];
    let hits = 0;
    for (let i = 0; i < runs; i++) {
      const s0 = process.hrtime.bigint();
      hits = (await repo.search({ q: q.q, limit: 50, ...q.filters })).length;
      ms.push(Number(process.hrtime.bigint() - s0) / 1e6);
    }
    all.push(...ms);
    const parsed = explain ? parseQuery(q.q) : null;
    if (parsed) {
      // the statement the search repository picks for it (readingFor)
      const query = { q: q.q, limit: 50, ...q.filters };
      const from = readingFor(await searchEstimates(db, query, parsed.tsquery));
      const st = searchStatement(query, parsed.tsquery, from);
      const plan = (await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${st.text}`, st.values)).rows.map((r) => r['QUERY PLAN'] as string);
      log(`  plan of ${JSON.stringify(q.q)} (reading ${from === 'matches' ? 'the matches first' : 'the newest segments'}):\n${plan.filter((l) => /->|Execution|Buffers: shared/.test(l)).slice(0, 40).map((l) => `      ${l}`).join('\n')}`);
    }
    const filters = Object.keys(q.filters).filter((k) => k !== 'to').map((k) => (k === 'from' ? 'time range' : k.replace(/Id$/, ''))).join(', ') || 'none';
    results.push({ name: q.name, q: q.q, filters, hits, p50Ms: round(median(ms), 1), p95Ms: round(quantile(ms, 0.95), 1) });
    log(`  search ${JSON.stringify(q.q)} (${filters}): ${hits} hits, p50 ${round(median(ms), 1)} ms, p95 ${round(quantile(ms, 0.95), 1)} ms`);
  }
  return { queries: results, p50Ms: round(median(all), 1), p95Ms: round(quantile(all, 0.95), 1) };
}

/** The phase's part of the report: its table and its checks (targets from issue 16). */
export function searchMarkdown(r: SearchResult): { lines: string[]; checks: { figure: string; target: string; measured: string; pass: boolean | null }[] } {
  const full = r.sessions >= 10_000 && r.kbPerSession >= 200;
  const lines = [
    '', `Search phase: ${r.sessions} sessions × ${r.kbPerSession} KB of recording text (${r.textMB} MB of text, ${r.castMB} MB of cast files), ${r.segments} segments, search tables ${r.tableMB} MB; load ${r.load.join(' ')}.`, '',
    '| search query | filters | hits (limit 50) | p50 ms | p95 ms |', '|---|---|---|---|---|',
    ...r.queries.map((q) => `| \`${q.q}\` | ${q.filters} | ${q.hits} | ${q.p50Ms} | ${q.p95Ms} |`),
    `| **all queries** | | | ${r.p50Ms} | ${r.p95Ms} |`, '',
    `Indexing: ${r.indexTextMBps} MB/s of recording text (${r.indexCastMBps} MB/s of cast file), ${r.indexSeconds} s of indexer passes; CPU ${r.indexCpuSeconds.node} s in the indexer + ${r.indexCpuSeconds.postgres} s in PostgreSQL = ${r.indexTextMBPerCpuSecond} MB of text per CPU second; load average during indexing ${r.loadDuringIndexing.join(' / ')} (min / median / max)${r.indexLoopDelayMs ? `; during the passes a 5 ms timer in the indexing process fired late by p99 ${r.indexLoopDelayMs.p99} / max ${r.indexLoopDelayMs.max} ms (what a proxy sharing the process would wait)` : ''}.`,
    ...r.compared.flatMap((c) => [
      '', `Compared, same sessions, batches alternating — ${c.name}: ${c.indexTextMBps} MB/s, CPU ${c.indexCpuSeconds.node} s indexer + ${c.indexCpuSeconds.postgres} s PostgreSQL = ${c.indexTextMBPerCpuSecond} MB per CPU second, ${c.segments} segments, ${c.tableMB} MB; queries p50 ${c.p50Ms} / p95 ${c.p95Ms} ms (${c.queries.map((q) => `\`${q.q}\` ${q.p95Ms}`).join(', ')}).`,
    ]),
  ];
  return {
    lines,
    checks: [
      { figure: `search p95 (${r.sessions} sessions × ${r.kbPerSession} KB)`, target: '≤ 200 ms at 10,000 × 200 KB', measured: `${r.p95Ms} ms`, pass: full ? r.p95Ms <= 200 : null },
      { figure: 'search indexing throughput', target: '≥ 20 MB/s of recording text', measured: `${r.indexTextMBps} MB/s`, pass: full ? r.indexTextMBps >= 20 : null },
    ],
  };
}
