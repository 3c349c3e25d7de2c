/**
 * The system under test, all real processes: a throw-away database on the local PostgreSQL, the
 * device sshd and a jump-host sshd, the broker split in two processes over that database and one
 * KEYS_DIR — `ROLES=api`, `ROLES=worker` and `ROLES=proxy` (revocations cross processes on the bus) — and,
 * through the real API, a vendor, a deployed device, an approver, technicians, grants and certificates.
 */
import { openSync, closeSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase } from '../support/databases.js';
import { freePort, generateKey } from '../support/device-sshd.js';
import { Api } from './api.js';
import { exited, killTree, onCleanup, spawnTracked } from './procs.js';
import { startSshd, waitForPort, type BenchSshd } from './sshd.js';

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const ADMIN_PASSWORD = 'bench-admin-password-0123';
const USER_PASSWORD = 'bench-user-password-0123';

export interface BrokerProcess {
  pid: number;
  role: string;
  stop(): Promise<void>;
}

export interface Technician {
  id: string;
  username: string;
  token: string;
}

export interface Grant {
  id: string;
  endsAt: string;
}

export interface Stack {
  tmp: string;
  device: BenchSshd;
  jump: BenchSshd;
  api: Api;
  apiProcess: BrokerProcess;
  workerProcess: BrokerProcess;
  proxy: BrokerProcess;
  /** Date.now() when the current proxy process was spawned (profiles start there) */
  proxySpawnedAt: number;
  proxyPort: number;
  /** the proxy process's own HTTP port (/healthz, /metrics) */
  proxyMetricsUrl: string;
  recordingsDir: string;
  deviceName: string;
  deviceId: string;
  adminToken: string;
  /** the technician whose certificate the `portcullis` host of the ssh config presents */
  tech: Technician;
  grant: Grant;
  sshConfig: string;
  db: pg.Pool;
  /** the broker's database and its Redis ('' when the bus and the jobs are on PostgreSQL) */
  databaseUrl: string;
  redisUrl: string;
  /** restarts the proxy process (fresh memory; optionally with `node --cpu-prof` into profileDir) */
  restartProxy(opts?: { profileDir?: string }): Promise<void>;
  newTechnician(label: string): Promise<Technician>;
  newGrant(tech: Technician, minutes?: number): Promise<Grant>;
  /** writes `<keyPath>-cert.pub` (OpenSSH loads it next to the key) for the grant */
  certificate(tech: Technician, grant: Grant, keyPath: string): Promise<void>;
}

function startBrokerProcess(role: string, env: Record<string, string>, logPath: string, nodeArgs: string[] = []): BrokerProcess {
  const log = openSync(logPath, 'a');
  // the node flags of the Dockerfile's CMD (and `npm start`), then the investigation's own
  const child = spawnTracked(process.execPath, ['--max-semi-space-size=16', '--initial-old-space-size=128', ...nodeArgs, '--import', 'tsx', 'server/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = child.pid!;
  let stopped: Promise<void> | null = null;
  return {
    pid,
    role,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        // SIGTERM: the broker shuts down cleanly (and writes its --cpu-prof profile); then the hard way
        child.kill('SIGTERM');
        const done = await Promise.race([exited(child).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
        if (!done) await killTree(pid, 'SIGKILL', 1000);
      })()),
  };
}

async function waitHealthy(url: string, proc: BrokerProcess, logPath: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    try {
      process.kill(proc.pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the ${proc.role} process did not become healthy; see ${logPath}:\n${(await fs.readFile(logPath, 'utf8').catch(() => '')).slice(-2000)}`);
}

export async function startStack(runDir: string, tmp: string, log: (s: string) => void): Promise<Stack> {
  const logs = path.join(runDir, 'logs');
  await fs.mkdir(logs, { recursive: true });

  log('database, device sshd and jump-host sshd…');
  const [database, device, jump] = await Promise.all([createTestDatabase('portcullis_bench'), startSshd('device', tmp), startSshd('jump', tmp)]);
  onCleanup('database', () => database.drop());
  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  onCleanup('database pool', () => db.end());

  const keysDir = path.join(tmp, 'keys');
  const recordingsDir = path.join(tmp, 'recordings');
  const [apiPort, proxyPort] = [await freePort(), await freePort()];
  const common = {
    DATABASE_URL: database.url, REDIS_URL: process.env.BENCH_REDIS_URL ?? '', KEYS_DIR: keysDir, HOST: '127.0.0.1',
    PORT: String(apiPort), SSH_PORT: String(proxyPort), SSH_PUBLIC_HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
    ADMIN_PASSWORD, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', RECORDINGS_DIR: recordingsDir,
    // every benchmark client connects from 127.0.0.1, many at once (setup, memory phases)
    SSH_MAX_UNAUTHENTICATED_PER_IP: '1000',
    // the memory phase holds 1,000 sessions and the load phase 100 on one grant (one technician's many
    // connections stand for many technicians' here)
    SSH_MAX_CONNECTIONS_PER_GRANT: '5000',
    // the benchmark measures the data plane: its admin, approver and technician sign in with a password only
    MFA_REQUIRED_ROLES: '',
  };

  // three processes as in docker-compose.yml: api, worker (jobs, search indexer, SIEM) and proxy
  log('broker: api process…');
  const apiLog = path.join(logs, 'api.log');
  // BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS: extra node flags, for investigation (e.g. --cpu-prof)
  const nodeArgsOf = (name: string) => (process.env[name] ?? '').split(/\s+/).filter(Boolean);
  const apiProcess = startBrokerProcess('api', { ...common, ROLES: 'api', DATABASE_POOL_SIZE: '30', DATA_DIR: path.join(tmp, 'data-api') }, apiLog, nodeArgsOf('BENCH_API_NODE_ARGS'));
  onCleanup('api process', () => apiProcess.stop());
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitHealthy(apiUrl, apiProcess, apiLog); // it generated the keys: the worker and the proxy start after it
  log('broker: worker process…');
  const workerLog = path.join(logs, 'worker.log');
  const workerHttpPort = await freePort();
  const workerProcess = startBrokerProcess('worker', { ...common, PORT: String(workerHttpPort), ROLES: 'worker', DATA_DIR: path.join(tmp, 'data-worker') }, workerLog, nodeArgsOf('BENCH_WORKER_NODE_ARGS'));
  onCleanup('worker process', () => workerProcess.stop());
  await waitHealthy(`http://127.0.0.1:${workerHttpPort}`, workerProcess, workerLog);

  let proxyGeneration = 0;
  let proxySpawnedAt = 0;
  let proxyHttpPort = 0;
  // BENCH_PROXY_NODE_ARGS: extra node flags for the proxy process, for investigation (e.g. --trace-gc)
  const extraNodeArgs = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const startProxy = async (args: string[] = []): Promise<BrokerProcess> => {
    const nodeArgs = [...extraNodeArgs, ...args];
    const proxyLog = path.join(logs, `proxy-${++proxyGeneration}.log`);
    proxySpawnedAt = Date.now();
    // every broker process serves /healthz and /metrics on its PORT: the proxy gets its own
    proxyHttpPort = await freePort();
    const p = startBrokerProcess('proxy', { ...common, PORT: String(proxyHttpPort), ROLES: 'proxy', DATA_DIR: path.join(tmp, 'data-proxy') }, proxyLog, nodeArgs);
    onCleanup(`proxy process ${proxyGeneration}`, () => p.stop());
    await waitForPort(proxyPort, () => `see ${proxyLog}`, 1200);
    return p;
  };
  log('broker: proxy process…');
  let proxy = await startProxy();

  log('provisioning through the API: vendor, device, approver, technician, grant, certificate…');
  const api = new Api(apiUrl);
  const adminToken = await api.login('admin', ADMIN_PASSWORD);
  const tag = Date.now().toString(36);
  const vendor = await api.ok('POST', '/api/vendors', adminToken, { name: `Bench Vendor ${tag}`, contractRef: 'BENCH', contractEnd: '2099-12-31' });
  const deviceName = `bench-${tag}`;
  const dev = await api.ok('POST', '/api/devices', adminToken, {
    name: deviceName, manufacturer: 'Bench', model: 'Loopback', firmwareBaseline: '1', department: 'bench', clinicalPurpose: 'benchmark',
    criticality: 'low', address: '127.0.0.1', sshPort: device.port, hostKey: device.hostKey, vendorIds: [vendor.id],
    // the scp scenarios deliver files through the proxy's SFTP relay (§8.3)
    policy: { maxSessionMinutes: 1440, approvalsRequired: 1, allowUpload: true, allowDownload: true },
    credential: { username: device.user, privateKey: device.loginPrivateKey },
  });
  await api.ok('POST', `/api/devices/${dev.id}/lifecycle`, adminToken, { state: 'deployed', reason: 'benchmark' });
  const approverName = `bench-approver-${tag}`;
  await api.ok('POST', '/api/users', adminToken, { username: approverName, displayName: 'Bench Approver', roles: ['approver'], department: 'bench', password: USER_PASSWORD });
  // an admin-chosen password is replaced at first login
  const approverToken = await api.firstLogin(approverName, USER_PASSWORD, `${USER_PASSWORD}-own`);

  let techCount = 0;
  const newTechnician = async (label: string): Promise<Technician> => {
    const username = `bench-${label}-${tag}-${techCount++}`;
    const u = await api.ok('POST', '/api/users', adminToken, { username, displayName: `Bench ${label}`, roles: ['technician'], vendorId: vendor.id, password: USER_PASSWORD });
    return { id: u.id, username, token: await api.firstLogin(username, USER_PASSWORD, `${USER_PASSWORD}-own`) };
  };
  const newGrant = async (tech: Technician, minutes = 240): Promise<Grant> => {
    const req = await api.ok('POST', '/api/access-requests', tech.token, { deviceId: dev.id, reason: 'benchmark', ticketRef: 'BENCH-1', durationMinutes: minutes });
    const decided = await api.ok('POST', `/api/access-requests/${req.id}/approve`, approverToken, { comment: 'benchmark' });
    if (decided.grant?.status !== 'active') throw new Error(`grant not active: ${JSON.stringify(decided)}`);
    return { id: decided.grant.id, endsAt: decided.grant.endsAt };
  };
  const certificate = async (tech: Technician, grant: Grant, keyPath: string) => {
    const publicKey = (await fs.readFile(`${keyPath}.pub`, 'utf8')).trim();
    const cert = await api.ok('POST', `/api/grants/${grant.id}/ssh-certificate`, tech.token, { publicKey });
    await fs.writeFile(`${keyPath}-cert.pub`, cert.certificate + '\n', { mode: 0o600 });
  };

  const tech = await newTechnician('tech');
  const grant = await newGrant(tech);
  const techKey = generateKey(tmp, 'tech_ed25519');
  await certificate(tech, grant, techKey.path);

  const sshConfig = path.join(tmp, 'ssh_config');
  await fs.writeFile(sshConfig, sshConfigText({ device, jump, proxyPort, deviceName, techKeyPath: techKey.path }), { mode: 0o600 });

  const stack: Stack = {
    tmp, device, jump, api, apiProcess, workerProcess, proxy, proxySpawnedAt, proxyPort, proxyMetricsUrl: `http://127.0.0.1:${proxyHttpPort}/metrics`, recordingsDir, deviceName, deviceId: dev.id, adminToken,
    tech, grant, sshConfig, db, databaseUrl: database.url, redisUrl: process.env.BENCH_REDIS_URL ?? '', newTechnician, newGrant, certificate,
    async restartProxy(opts = {}) {
      await proxy.stop();
      proxy = await startProxy(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []);
      stack.proxy = proxy;
      stack.proxySpawnedAt = proxySpawnedAt;
      stack.proxyMetricsUrl = `http://127.0.0.1:${proxyHttpPort}/metrics`;
    },
  };
  return stack;
}

/**
 * One ssh_config for every path, used with `ssh -F` (so ~/.ssh/config and /etc/ssh/ssh_config stay
 * out of it): `direct` (device sshd), `viajump` (`ProxyJump jump`), `portcullis` (the proxy, with
 * the technician's certificate), and `pc` (the proxy, identity given with -i).
 */
function sshConfigText(o: { device: BenchSshd; jump: BenchSshd; proxyPort: number; deviceName: string; techKeyPath: string }): string {
  return `
Host direct
  HostName 127.0.0.1
  Port ${o.device.port}
  User ${o.device.user}
  IdentityFile ${o.device.loginKeyPath}
Host jump
  HostName 127.0.0.1
  Port ${o.jump.port}
  User ${o.jump.user}
  IdentityFile ${o.jump.loginKeyPath}
Host viajump
  HostName 127.0.0.1
  Port ${o.device.port}
  User ${o.device.user}
  IdentityFile ${o.device.loginKeyPath}
  ProxyJump jump
Host portcullis
  HostName 127.0.0.1
  Port ${o.proxyPort}
  User ${o.deviceName}
  IdentityFile ${o.techKeyPath}
  CertificateFile ${o.techKeyPath}-cert.pub
Host pc
  HostName 127.0.0.1
  Port ${o.proxyPort}
  User ${o.deviceName}
Host *
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  BatchMode yes
  LogLevel ERROR
  ControlMaster no
  ControlPath none
  EscapeChar none
  ServerAliveInterval 0
`;
}
