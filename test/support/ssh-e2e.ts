/**
 * End-to-end SSH tests against real parts: the broker (in-process, or API+worker in-process and the
 * SSH proxy as a separate `node server/main.ts` process), a real OpenSSH sshd as the device, the real
 * `ssh` client (optionally under `script` for a real tty) and the real API.
 *
 * Modes: `single` (one broker, all roles), `split` (proxy in its own OS process; revocations cross
 * processes over PostgreSQL LISTEN/NOTIFY), `split-redis` (the same with REDIS_URL on both sides).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { parseCast, type ParsedCast } from '../../proxy/recording/asciicast.js';
import { freePort, generateKey, startDeviceSshd, type DeviceSshd } from './device-sshd.js';
export * from './ssh-client.js';
import { killStrays, shq } from './ssh-client.js';
import { addUser, startTestBroker, type TestBroker } from './test-broker.js';

const execFileP = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type ModeName = 'single' | 'split' | 'split-redis';
export const MODES: ModeName[] = ['single', 'split'];
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * every e2e broker/proxy warns 3 s before a grant's end (only the expiry test gets that close), and
 * audits each refused SSH authentication on its own (tests look for single refusals by reason; the
 * per-minute aggregation is tested in ssh-preauth.test.ts)
 */
export const E2E_ENV = { SESSION_WARNING_MINUTES: '0.05', SSH_AUTH_AUDIT_WINDOW_SECONDS: '0.01' };

// ---------------------------------------------------------------------------------------------
// environment: broker(s), proxy, device sshd

export interface E2E {
  mode: ModeName;
  /** the in-process broker: all roles (single) or api,worker (split) */
  broker: TestBroker;
  sshPort: number;
  /** where the SSH proxy's process serves /metrics (split: the proxy process's PORT) */
  proxyHttpUrl: string;
  sshd: DeviceSshd;
  /** scratch directory for technicians' keys and downloaded recordings */
  dir: string;
  /** the proxy's log lines (in-process or the child's stdout/stderr) */
  proxyLog(): string;
  /** split modes: the proxy process's pid */
  proxyPid?: () => number;
  /** split modes: SIGKILL the proxy process, then start it again on the same port and data directory */
  crashAndRestartProxy?: () => Promise<void>;
  /** false when the proxy (process) has died */
  proxyAlive(): boolean;
  stop(): Promise<void>;
}

/**
 * Registers a describe block's hooks: one environment for its tests, stopped after them, and no
 * ssh process left behind by any test. Read `.e` inside tests.
 */
export function useE2E(mode: ModeName, env: Record<string, string> = {}): { readonly e: E2E } {
  const ref = {} as { e: E2E };
  beforeAll(async () => {
    ref.e = await startE2E(mode, env);
  }, 120_000);
  afterAll(async () => {
    await ref.e?.stop();
  });
  afterEach(() => killStrays());
  return ref;
}

export async function startE2E(mode: ModeName, env: Record<string, string> = {}): Promise<E2E> {
  const common = { ...E2E_ENV, ...(mode === 'split-redis' ? { REDIS_URL } : {}), ...env };
  const [broker, sshd, dir] = await Promise.all([
    startTestBroker(mode === 'single' ? common : { ...common, ROLES: 'api,worker' }),
    startDeviceSshd(),
    fs.mkdtemp(path.join(os.tmpdir(), 'pc-e2e-')),
  ]);
  retryStaleKeepAlive(broker);
  if (mode === 'single') {
    return {
      mode, broker, sshd, dir, sshPort: broker.sshPort!, proxyHttpUrl: broker.httpUrl!,
      proxyLog: () => broker.logLines.join(''),
      proxyAlive: () => true,
      async stop() {
        await broker.stop();
        await sshd.stop();
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  }
  let proxy: ProxyProcess;
  try {
    proxy = await startProxyProcess(broker, common);
  } catch (err) {
    await broker.stop();
    await sshd.stop();
    throw err;
  }
  return {
    mode, broker, sshd, dir, sshPort: proxy.port, proxyHttpUrl: `http://127.0.0.1:${proxy.httpPort}`,
    proxyLog: () => proxy.log(),
    proxyPid: () => proxy.proc.pid!,
    proxyAlive: () => proxy.proc.exitCode === null && proxy.proc.signalCode === null,
    async crashAndRestartProxy() {
      await proxy.crash();
      proxy = await startProxyProcess(broker, common, { port: proxy.port, httpPort: proxy.httpPort, dataDir: proxy.dataDir });
    },
    async stop() {
      await proxy.stop();
      await broker.stop();
      await sshd.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * fetch reuses keep-alive sockets; on a loaded machine the server's 5 s keep-alive timer can close one just
 * as a request goes out (ECONNRESET before any byte of the request was read). Such a request never reached
 * a handler, so it is sent again once.
 */
const staleSocket = (err: unknown) =>
  err instanceof TypeError && /ECONNRESET|EPIPE|UND_ERR_SOCKET/.test(String((err as { cause?: { code?: string } }).cause?.code ?? ''));

export async function fetchRetry(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (!staleSocket(err)) throw err;
    return fetch(url, init);
  }
}

function retryStaleKeepAlive(broker: TestBroker): void {
  const call = broker.api.call.bind(broker.api);
  broker.api.call = async (...args: Parameters<typeof call>) => {
    try {
      return await call(...args);
    } catch (err) {
      if (!staleSocket(err)) throw err;
      return call(...args);
    }
  };
}

export interface ProxyProcess {
  port: number;
  /** the PORT it was given (a proxy-only process may or may not listen there) */
  httpPort: number;
  dataDir: string;
  proc: ChildProcess;
  log(): string;
  /** SIGTERM (graceful), then removes its data directory */
  stop(): Promise<void>;
  /** SIGKILL: nothing is cleaned up, the data directory stays */
  crash(): Promise<void>;
}

/** A port freePort handed out was bound by another test's listener before the proxy could bind it. */
class PortTaken extends Error {}

/**
 * `node --import tsx server/main.ts` with ROLES=proxy (or env.ROLES), sharing the broker's database (or
 * env.DATABASE_URL) and keys. Ready once the process itself says its SSH listener is up (its HTTP server
 * starts before it) — a connectable port alone could be another test's listener that took a port
 * freePort handed out; when that makes the proxy fail to bind, it is started again on fresh ports.
 */
export async function startProxyProcess(
  broker: TestBroker,
  env: Record<string, string> = {},
  reuse: { port?: number; httpPort?: number; dataDir?: string } = {},
): Promise<ProxyProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchProxyProcess(broker, env, reuse);
    } catch (err) {
      if (!(err instanceof PortTaken) || reuse.port !== undefined || reuse.httpPort !== undefined || attempt >= 3) throw err;
    }
  }
}

async function launchProxyProcess(
  broker: TestBroker,
  env: Record<string, string>,
  reuse: { port?: number; httpPort?: number; dataDir?: string },
): Promise<ProxyProcess> {
  const port = reuse.port ?? (await freePort());
  const httpPort = reuse.httpPort ?? (await freePort());
  const dataDir = reuse.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'pc-proxy-')));
  const childEnv: NodeJS.ProcessEnv = {
    // like the test broker: no role must enrol a second factor unless the test's env says so
    ...process.env, MFA_REQUIRED_ROLES: '', ...env,
    ROLES: env.ROLES ?? 'proxy', DATABASE_URL: env.DATABASE_URL ?? inject('databaseUrl'), KEYS_DIR: path.join(broker.dataDir, 'keys'),
    DATA_DIR: dataDir, SSH_PORT: String(port), PORT: String(httpPort), HOST: '127.0.0.1', LOG_LEVEL: 'debug',
  };
  delete childEnv.NODE_OPTIONS;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  proc.stdout!.on('data', (d) => out.push(String(d)));
  proc.stderr!.on('data', (d) => out.push(String(d)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000; // tsx compiles the server first: slow on a loaded machine
  while (!(out.join('').includes('"msg":"SSH proxy listening"') && (await canConnect(port)))) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      if (!reuse.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
      const log = out.join('');
      throw new (log.includes('EADDRINUSE') ? PortTaken : Error)(`proxy process exited during start-up:\n${log}`);
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`proxy process did not listen on ${port}:\n${out.join('')}`);
    }
    await sleep(50);
  }
  return {
    port, httpPort, dataDir, proc,
    log: () => out.join(''),
    async crash() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const uniq = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

// ---------------------------------------------------------------------------------------------
// the world: people, a vendor and a deployed device pointing at the real sshd

export interface Person { id: string; username: string; token: string }
export interface DeviceJson {
  id: string; name: string; department: string; lifecycleState: string; hostKey: string | null;
  policy: { approvalsRequired: number; approverDepartment: string; allowExec: boolean; allowPortForwarding: boolean; allowSftp: boolean };
}
export interface World {
  e: E2E;
  admin: Person;
  auditor: Person;
  vendor: { id: string; name: string };
  device: DeviceJson;
  tech: Person;
  approver: Person;
}

export interface WorldOptions {
  policy?: Record<string, unknown>;
  /**
   * the pinned host key (default: the real sshd's). Deploying tests the device with the real one, so
   * another one is pinned after deployment, as when a deployed device's key no longer matches.
   */
  hostKey?: string;
  /** the device sshd to enroll (default: the environment's shared one) */
  sshd?: DeviceSshd;
  /** the credential to vault (default: the sshd's login key) */
  credential?: Record<string, unknown>;
}

export async function makeWorld(e: E2E, opts: WorldOptions = {}): Promise<World> {
  const { broker } = e;
  const api = broker.api;
  const sshd = opts.sshd ?? e.sshd;
  const department = uniq('dept');
  const [admin, auditor] = await Promise.all([addUser(broker, ['admin']), addUser(broker, ['auditor'])]);
  const vendor = await api.ok('POST', '/api/vendors', admin.token, { name: uniq('Vendor'), contractRef: uniq('C'), contractEnd: '2099-01-01' });
  const created = await api.ok<DeviceJson>('POST', '/api/devices', admin.token, {
    name: uniq('dev').toLowerCase(), manufacturer: 'Acme Medical', model: 'Infusion 3000', firmwareBaseline: '4.2.1', department,
    clinicalPurpose: 'e2e test device', criticality: 'low', address: '127.0.0.1', sshPort: sshd.port,
    hostKey: sshd.hostKey, vendorIds: [vendor.id], credential: opts.credential ?? sshd.credential,
    policy: { approvalsRequired: 1, ...opts.policy },
  });
  let device = await api.ok<DeviceJson>('POST', `/api/devices/${created.id}/lifecycle`, admin.token, { state: 'deployed', reason: 'e2e' });
  if (opts.hostKey) device = await api.ok<DeviceJson>('PATCH', `/api/devices/${created.id}`, admin.token, { hostKey: opts.hostKey });
  const [tech, approver] = await Promise.all([
    addUser(broker, ['technician'], { vendorId: vendor.id }),
    addUser(broker, ['approver'], { department: device.policy.approverDepartment }),
  ]);
  return { e, admin, auditor, vendor, device, tech, approver };
}

export interface GrantJson { id: string; status: string; startsAt: string; endsAt: string; deviceId: string; technicianId: string }

/** A request by the world's technician, approved by its approver, through the real API: an active grant. */
export async function grantFor(w: World, durationMinutes = 30): Promise<GrantJson> {
  const api = w.e.broker.api;
  const req = await api.ok('POST', '/api/access-requests', w.tech.token, { deviceId: w.device.id, reason: 'e2e maintenance', ticketRef: uniq('CHG'), durationMinutes });
  const decided = await api.ok('POST', `/api/access-requests/${req.id}/approve`, w.approver.token, { comment: 'ok' });
  expect(decided.grant?.status).toBe('active');
  return decided.grant as GrantJson;
}

export interface KeyPair { path: string; privateKey: string; publicKey: string; certPath: string }

/** A fresh ed25519 key pair from ssh-keygen in the scratch directory. */
export function newKey(e: E2E, type: 'ed25519' | 'rsa' | 'ecdsa' = 'ed25519'): KeyPair {
  const k = generateKey(e.dir, uniq(`tech-${type}`), type);
  return { ...k, certPath: `${k.path}-cert.pub` };
}

/** Asks the API for a certificate of `key` for `grant` and writes it to `<key>-cert.pub`. */
export async function certify(w: World, grant: { id: string }, key: KeyPair): Promise<{ certificate: string; serial: number; principal: string; sshCommand: string }> {
  const cert = await w.e.broker.api.ok('POST', `/api/grants/${grant.id}/ssh-certificate`, w.tech.token, { publicKey: key.publicKey });
  await fs.writeFile(key.certPath, cert.certificate + '\n');
  return cert;
}

// ---------------------------------------------------------------------------------------------
// running ssh

/** ssh arguments for `user@127.0.0.1` through the proxy; `cert: false` presents the plain key only. */
export function sshArgs(e: E2E, key: KeyPair, user: string, extra: string[] = [], opts: { cert?: string | false } = {}): string[] {
  const cert = opts.cert === undefined ? key.certPath : opts.cert;
  return [
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5',
    '-o', 'IdentitiesOnly=yes', '-p', String(e.sshPort), '-i', key.path, ...(cert ? ['-o', `CertificateFile=${cert}`] : []),
    ...extra, `${user}@127.0.0.1`,
  ];
}

// ---------------------------------------------------------------------------------------------
// sessions, recordings, audit

export interface SessionJson {
  id: string; grantId: string; technicianId: string; deviceId: string; channel: string; command: string | null;
  startedAt: string; endedAt: string | null; endReason: string | null; bytesIn: number; bytesOut: number;
}

export async function sessionsOf(w: World, grantId: string): Promise<SessionJson[]> {
  return (await w.e.broker.api.ok('GET', `/api/sessions?grantId=${grantId}`, w.admin.token)).items;
}

/** Polls until the grant has `count` sessions, all ended; returns them (newest first). */
export async function endedSessions(w: World, grantId: string, count = 1, timeout = 5000): Promise<SessionJson[]> {
  let last: SessionJson[] = [];
  await expect.poll(async () => {
    last = await sessionsOf(w, grantId);
    return last.length === count && last.every((s) => s.endedAt !== null);
  }, { timeout, interval: 50 }).toBe(true);
  return last;
}

/** Polls until the grant has a live session; returns it. */
export async function liveSession(w: World, grantId: string, timeout = 5000): Promise<SessionJson> {
  let found: SessionJson | undefined;
  await expect.poll(async () => {
    found = (await w.e.broker.api.ok('GET', `/api/sessions?grantId=${grantId}&live=true`, w.admin.token)).items[0];
    return found !== undefined;
  }, { timeout, interval: 50 }).toBe(true);
  return found!;
}

export interface Download { status: number; contentType: string | null; sha256Header: string | null; body: string }

export async function downloadRecording(w: World, sessionId: string, token: string): Promise<Download> {
  const res = await fetchRetry(`${w.e.broker.api.baseUrl}/api/sessions/${sessionId}/recording`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, contentType: res.headers.get('content-type'), sha256Header: res.headers.get('x-recording-sha256'), body: await res.text() };
}

/** The recording as the auditor downloads it, parsed. */
export async function recordingOf(w: World, sessionId: string): Promise<ParsedCast & { text: string }> {
  const d = await downloadRecording(w, sessionId, w.auditor.token);
  expect(d.status, d.body).toBe(200);
  return { ...parseCast(d.body), text: d.body };
}

export const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Plays a cast file back with the real `asciinema cat` (it needs a terminal: under `script`). */
export async function asciinemaCat(file: string, opts: { maxBuffer?: number } = {}): Promise<string> {
  // -e: script exits with asciinema's status (without it, a failing asciinema still exits 0)
  const { stdout } = await execFileP('script', ['-qec', `asciinema cat ${shq(file)}`, '/dev/null'], { timeout: 15_000, maxBuffer: opts.maxBuffer ?? 1024 * 1024, env: { ...process.env, TERM: 'xterm-256color' } });
  return stdout;
}

export interface AuditRow { seq: number; action: string; actorType: string; actorId: string | null; subjectId: string | null; details: Record<string, any> }

/** Audit events matching a subject id, or a details field, in chain order. */
export async function auditWhere(e: E2E, where: { subjectId?: string; action?: string; detail?: [string, string] }): Promise<AuditRow[]> {
  const { rows } = await e.broker.pool.query(
    `SELECT seq::int, action, actor_type, actor_id, subject_id, details FROM audit_events
      WHERE ($1::text IS NULL OR subject_id = $1) AND ($2::text IS NULL OR action = $2)
        AND ($3::text IS NULL OR details ->> $3 = $4) ORDER BY seq`,
    [where.subjectId ?? null, where.action ?? null, where.detail?.[0] ?? null, where.detail?.[1] ?? null],
  );
  return rows.map((r) => ({ seq: r.seq, action: r.action, actorType: r.actor_type, actorId: r.actor_id, subjectId: r.subject_id, details: r.details }));
}

/** Waits until at least one matching audit event exists and returns the matches. */
export async function awaitAudit(e: E2E, where: Parameters<typeof auditWhere>[1], timeout = 5000): Promise<AuditRow[]> {
  let rows: AuditRow[] = [];
  await expect.poll(async () => (rows = await auditWhere(e, where)).length, { timeout, interval: 50 }).toBeGreaterThan(0);
  return rows;
}

/** Strips ANSI escapes and CRs, for matching terminal output. */
export const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

/** Sum of a Prometheus metric's samples whose labels include `labels` (e.g. 'reason="revoked"'). */
export async function metricValue(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetchRetry(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}
