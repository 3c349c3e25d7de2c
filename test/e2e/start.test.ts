/**
 * The README's promise, end to end: `npm start` on a fresh machine (no DATABASE_URL) runs the broker
 * on an embedded PostgreSQL, prints a one-time admin password, keeps its keys private, stops cleanly
 * on Ctrl-C and comes back with the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import { startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function start(dataDir: string): Promise<Running> {
  const [port, sshPort, pgPort] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), SSH_PORT: String(sshPort), EMBEDDED_PG_PORT: String(pgPort),
    HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'ADMIN_PASSWORD', 'PUBLIC_URL', 'KEYS_DIR', 'VAULT_KEY', 'ROLES']) delete env[k];
  // its own process group, so that SIGINT reaches it the way Ctrl-C in a terminal does
  const child = spawn('npm', ['start'], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  children.add(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`broker exited during start-up:\n${out}`);
    if (Date.now() > deadline) throw new Error(`broker not healthy after 90 s:\n${out}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, url, output: () => out, exited };
}

/** Descendants of `pid` (from /proc), children before grandchildren. */
function descendants(pid: number): { pid: number; cmdline: string }[] {
  const all: { pid: number; ppid: number; cmdline: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      all.push({ pid: Number(entry), ppid, cmdline: fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; cmdline: string }[] = [];
  let frontier = [pid];
  while (frontier.length) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    out.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return out;
}

/** The node process running server/main.ts itself (under npm start: node [its flags] --import tsx). */
function brokerPid(r: Running): number {
  const p = descendants(r.child.pid!).find((d) => /^node (--\S+ )*--import tsx server\/main\.ts/.test(d.cmdline));
  if (!p) throw new Error(`broker process not found under ${r.child.pid}: ${JSON.stringify(descendants(r.child.pid!))}`);
  return p.pid;
}

/**
 * SIGINT, and how long it took to exit. 'broker' signals the broker process alone (its exit code
 * comes back through npm); 'group' is Ctrl-C in a terminal: every process of the
 * group, the embedded postgres included, gets it at once (npm itself then dies of the signal).
 */
async function interrupt(r: Running, target: 'broker' | 'group'): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  if (target === 'broker') process.kill(brokerPid(r), 'SIGINT');
  else process.kill(-r.child.pid!, 'SIGINT');
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit 10 s after SIGINT:\n${r.output()}`)), 10_000));
  const { code } = await Promise.race([r.exited, timeout]);
  children.delete(r.child);
  return { code, ms: Date.now() - t0 };
}

/** pids of processes whose command line mentions `needle` (the embedded postgres names its data dir). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Waits up to 3 s for the embedded postgres of `dbDir` to exit; returns the pids still running. */
async function postgresGone(dbDir: string): Promise<number[]> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const left = processesMentioning(dbDir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(r: Running, method: string, p: string, token?: string, body?: unknown) {
  const res = await fetch(`${r.url}${p}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, any> };
}

const children = new Set<ChildProcess>();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-e2e-'));
// the embedded postgres runs as the `postgres` user when we are root: it must traverse this directory
fs.chmodSync(root, 0o755);
const dataDir = path.join(root, 'data');
// the device: deploying tests the connection (host key, credential login), so it must really be there
let sshd: DeviceSshd | undefined;

afterAll(async () => {
  await sshd?.stop();
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const pid of processesMentioning(path.join(dataDir, 'db'))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

/** Sets up an authenticator app through the API, with codes computed as the app would (otpauth). */
async function enrolTotp(r: Running, token: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const started = await api(r, 'POST', '/api/me/mfa/totp', token, {});
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(started.body.secret) });
  const confirmed = await api(r, 'POST', '/api/me/mfa/totp/confirm', token, { code: totp.generate() });
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
  return { secret: started.body.secret, recoveryCodes: confirmed.body.recoveryCodes };
}

describe('npm start on a fresh machine', () => {
  it('starts on embedded PostgreSQL, serves the API, stops on Ctrl-C and restarts with the same data', async () => {
    // ── first start ──
    const first = await start(dataDir);
    // no terminal here (a detached child): the password is in a 0600 file the log names, never on stdout
    const file = path.join(dataDir, 'first-admin-password');
    expect(first.output()).toContain(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const m = /as "admin" with password (\S+)/.exec(fs.readFileSync(file, 'utf8'));
    expect(m).not.toBeNull();
    const adminPassword = m![1]!;
    expect(first.output()).not.toContain(adminPassword);

    const login = await api(first, 'POST', '/api/auth/login', undefined, { username: 'admin', password: adminPassword });
    expect(login.status).toBe(200);
    // a generated password is for the first login only: until it is replaced, nothing else is allowed
    expect(login.body.passwordChangeRequired).toBe(true);
    expect((await api(first, 'GET', '/api/users', login.body.token)).status).toBe(403);
    const ownPassword = `admin's own password ${process.pid}`;
    const changed = await api(first, 'POST', '/api/me/password', login.body.token, { currentPassword: adminPassword, newPassword: ownPassword });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const token = changed.body.token as string;
    // the spec default MFA_REQUIRED_ROLES covers admins: until a second factor is set up, the token only enrols one
    expect(changed.body.user.mfaEnrolmentRequired).toBe(true);
    expect((await api(first, 'GET', '/api/users', token)).body.error.details).toEqual({ mfaEnrolmentRequired: true });
    const adminMfa = await enrolTotp(first, token);

    const vendor = await api(first, 'POST', '/api/vendors', token, { name: `E2E Vendor ${process.pid}`, contractRef: 'C-1', contractEnd: '2099-12-31' });
    expect(vendor.status).toBe(201);
    const tech = await api(first, 'POST', '/api/users', token, {
      username: 'e2e-tech', displayName: 'E2E Tech', roles: ['technician'], vendorId: vendor.body.id, password: 'technician password 1' });
    expect(tech.status).toBe(201);
    sshd = await startDeviceSshd();
    const deviceSecret = sshd.credential.privateKey;
    const device = await api(first, 'POST', '/api/devices', token, {
      name: 'e2e-pump-01', manufacturer: 'Acme', model: 'P1', firmwareBaseline: '1.0', department: 'icu',
      clinicalPurpose: 'infusion', criticality: 'critical', address: '127.0.0.1', sshPort: sshd.port,
      hostKey: sshd.hostKey, vendorIds: [vendor.body.id], credential: sshd.credential,
    });
    expect(device.status, JSON.stringify(device.body)).toBe(201);
    expect(device.body.policy.approvalsRequired).toBe(2);
    const deployed = await api(first, 'POST', `/api/devices/${device.body.id}/lifecycle`, token, { state: 'deployed', reason: 'go live' });
    expect(deployed.status).toBe(200);
    expect(deployed.body.lifecycleState).toBe('deployed');
    const techLogin = await api(first, 'POST', '/api/auth/login', undefined, { username: 'e2e-tech', password: 'technician password 1' });
    expect(techLogin.body.passwordChangeRequired).toBe(true);
    const techOwn = await api(first, 'POST', '/api/me/password', techLogin.body.token, { currentPassword: 'technician password 1', newPassword: 'technician password 2' });
    expect((await api(first, 'GET', '/api/devices', techOwn.body.token)).status).toBe(403);
    await enrolTotp(first, techOwn.body.token);
    const techDevices = await api(first, 'GET', '/api/devices', techOwn.body.token);
    expect(techDevices.body.items.map((d: { id: string }) => d.id)).toEqual([device.body.id]);
    expect((await api(first, 'GET', '/api/audit/verify', token)).body.ok).toBe(true);

    // keys are generated once and private to the broker
    const keysDir = path.join(dataDir, 'keys');
    const keyFiles = fs.readdirSync(keysDir);
    expect(keyFiles.length).toBeGreaterThanOrEqual(4);
    for (const f of keyFiles) expect((fs.statSync(path.join(keysDir, f)).mode & 0o777).toString(8), f).toBe('600');
    expect((fs.statSync(keysDir).mode & 0o077)).toBe(0);
    const keysBefore = Object.fromEntries(keyFiles.map((f) => [f, fs.readFileSync(path.join(keysDir, f), 'utf8')]));

    // no secret in what the broker printed
    const pgPassword = fs.readFileSync(path.join(dataDir, 'embedded-pg', 'password'), 'utf8').trim();
    for (const secret of [deviceSecret, token, 'technician password 1', pgPassword, adminMfa.secret]) expect(first.output()).not.toContain(secret);

    // ── Ctrl-C ──
    const dbDir = path.join(dataDir, 'db');
    expect(processesMentioning(dbDir).length).toBeGreaterThan(0);
    const stop1 = await interrupt(first, 'broker');
    // soft: a failed shutdown is reported, and the restart below is still checked
    const shutdownLog = first.output().slice(first.output().indexOf('"msg":"shutting down"'));
    expect.soft(stop1.code, shutdownLog).toBe(0);
    expect(stop1.ms).toBeLessThan(5_000);
    // an orderly stop: workers and pools close before their database goes, so nothing errors on the way out
    expect.soft(shutdownLog, shutdownLog).toMatch(/"msg":"stopped"/);
    expect.soft(shutdownLog, shutdownLog).not.toMatch(/"level":(50|60)|terminating connection|Emitted 'error'/);
    expect(await postgresGone(dbDir), 'embedded postgres still running after the broker stopped').toEqual([]);
    expect(fs.existsSync(path.join(dbDir, 'postmaster.pid'))).toBe(false);

    // ── second start on the same DATA_DIR ──
    const second = await start(dataDir);
    expect(second.output()).not.toMatch(/First start|with password/);
    const password = await api(second, 'POST', '/api/auth/login', undefined, { username: 'admin', password: ownPassword });
    expect(password.status).toBe(200);
    expect(password.body).toMatchObject({ mfaRequired: true, methods: ['totp', 'recovery'] });
    // a recovery code, not a code: the app's current step may be the one that confirmed it, which is spent
    const again = await api(second, 'POST', '/api/auth/login/mfa', undefined, { mfaToken: password.body.mfaToken, recoveryCode: adminMfa.recoveryCodes[0] });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const still = await api(second, 'GET', `/api/devices/${device.body.id}`, again.body.token);
    expect(still.status).toBe(200);
    expect(still.body).toMatchObject({ name: 'e2e-pump-01', lifecycleState: 'deployed', hasCredential: true });
    expect((await api(second, 'GET', '/api/audit/verify', again.body.token)).body.ok).toBe(true);
    for (const f of keyFiles) expect(fs.readFileSync(path.join(keysDir, f), 'utf8'), f).toBe(keysBefore[f]);

    // this time a real Ctrl-C: the whole process group, postgres included, gets SIGINT together
    const stop2 = await interrupt(second, 'group');
    expect(stop2.ms).toBeLessThan(5_000);
    expect.soft(second.output().slice(second.output().indexOf('"msg":"shutting down"'))).toMatch(/"msg":"stopped"/);
    expect(await postgresGone(dbDir), 'embedded postgres still running after Ctrl-C').toEqual([]);
    expect(fs.existsSync(path.join(dbDir, 'postmaster.pid'))).toBe(false);
    for (const secret of [deviceSecret, again.body.token, pgPassword]) expect(second.output()).not.toContain(secret);
  }, 120_000);
});
