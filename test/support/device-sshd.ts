/**
 * A real OpenSSH sshd playing a medical device on a loopback port, for end-to-end tests: its own
 * host key (to pin), one login user with /bin/sh (root's shell start-up is slow on these machines),
 * key authentication only. Also: free ports and key generation with the real ssh-keygen.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const DEVICE_USER = os.userInfo().uid === 0 ? 'pcdevice' : os.userInfo().username;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** ssh-keygen into dir/name; returns the private and public key text. */
export function generateKey(dir: string, name: string, type: 'ed25519' | 'rsa' | 'ecdsa' = 'ed25519'): { path: string; privateKey: string; publicKey: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  return { path: file, privateKey: execFileSync('cat', [file]).toString(), publicKey: execFileSync('cat', [`${file}.pub`]).toString().trim() };
}

function ensureDeviceUser(): void {
  if (os.userInfo().uid !== 0) return;
  try {
    execFileSync('id', [DEVICE_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/sh', DEVICE_USER]);
  }
  // a new account is locked ('!'), and sshd without PAM refuses locked accounts even for keys
  execFileSync('usermod', ['-p', '*', DEVICE_USER]);
}

export interface DeviceSshdOptions {
  /**
   * A certificate device (§8.4): sshd trusts this CA public key line (`TrustedUserCAKeys`) and reads
   * no authorized_keys at all; the login user is `DEVICE_USER`.
   */
  trustedUserCa?: string;
  /**
   * A rotated-key device: a login user of its own (root only), whose `~/.ssh/authorized_keys` sshd
   * reads and which starts with `authorizedKey`. `keysFile` (relative to the home) makes sshd read that
   * file instead, so it ignores whatever is added to ~/.ssh/authorized_keys.
   */
  ownUser?: { authorizedKey: string; keysFile?: string };
  /** LogLevel VERBOSE: sshd logs every accepted key and certificate id (read with log()) */
  verbose?: boolean;
  /**
   * A password device (§8.4 password rotation): a login user of its own with this password and
   * password authentication on. The user has uid 0 (a second name for root, removed by stop()): this
   * sandbox has no sudo, and `chpasswd` only works as root — as on devices whose service login is root.
   */
  passwordUser?: { password: string };
}

export interface DeviceSshd {
  port: number;
  dir: string;
  /** the login user (DEVICE_USER, or the own user) */
  username: string;
  /** with ownUser: the user's home */
  home: string | null;
  /** what sshd wrote to stderr so far (its log, with -e) */
  log(): string;
  /** with ownUser: the file sshd reads the user's keys from (~/.ssh/authorized_keys, or keysFile) */
  keysFile: string | null;
  /** with ownUser: replaces the lines of ~/.ssh/authorized_keys (or of `file` under the home), owned by the user */
  writeKeys(lines: string[], file?: string): Promise<void>;
  /** with ownUser: the lines of ~/.ssh/authorized_keys (or of `file` under the home) */
  readKeys(file?: string): Promise<string[]>;
  /** the device's host public key line, to pin in its trust record */
  hostKey: string;
  /** gives the device a new host key (as a re-imaged device has) and restarts sshd on its port; the new line */
  replaceHostKey(): Promise<string>;

  /** the credential the broker vaults for this device (not with passwordUser: log in with its password) */
  credential: { username: string; privateKey: string };
  stop(): Promise<void>;
}

let ownUsers = 0;

/** a fresh login user with its home in `dir` (removed by stop()) */
async function createOwnUser(dir: string, authorizedKey: string): Promise<{ username: string; home: string }> {
  if (os.userInfo().uid !== 0) throw new Error('a device sshd with its own user needs root');
  const username = `pcrot${process.pid % 100000}x${ownUsers++}`;
  const home = path.join(dir, 'home');
  execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', username]);
  execFileSync('usermod', ['-p', '*', username]);
  await fs.mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(home, '.ssh', 'authorized_keys'), authorizedKey.trim() + '\n', { mode: 0o600 });
  execFileSync('chown', ['-R', `${username}:`, home]);
  return { username, home };
}

/** a fresh uid-0 login user with a password (see DeviceSshdOptions.passwordUser) */
function createPasswordUser(dir: string, password: string): { username: string; home: string } {
  if (os.userInfo().uid !== 0) throw new Error('a password device sshd needs root');
  const username = `pcpw${process.pid % 100000}x${ownUsers++}`;
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  execFileSync('useradd', ['-o', '-u', '0', '-N', '-g', '0', '-M', '-d', home, '-s', '/bin/sh', username], { stdio: 'ignore' });
  execFileSync('chpasswd', [], { input: `${username}:${password}\n` });
  return { username, home };
}

export async function startDeviceSshd(opts: DeviceSshdOptions = {}): Promise<DeviceSshd> {
  ensureDeviceUser();
  mkdirSync('/run/sshd', { recursive: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-device-'));
  await fs.chmod(dir, 0o755);
  const host = generateKey(dir, 'host_ed25519');
  const login = generateKey(dir, 'login_ed25519');
  await fs.writeFile(path.join(dir, 'authorized_keys'), login.publicKey + '\n', { mode: 0o644 });
  const own = opts.ownUser ? await createOwnUser(dir, opts.ownUser.authorizedKey)
    : opts.passwordUser ? createPasswordUser(dir, opts.passwordUser.password) : null;
  let keys = `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`;
  if (opts.ownUser) keys = `AuthorizedKeysFile ${opts.ownUser.keysFile ?? '.ssh/authorized_keys'}`;
  if (opts.trustedUserCa) {
    await fs.writeFile(path.join(dir, 'device_ca.pub'), opts.trustedUserCa.trim() + '\n', { mode: 0o644 });
    keys = `AuthorizedKeysFile none\nTrustedUserCAKeys ${path.join(dir, 'device_ca.pub')}`;
  }
  const port = await freePort();
  const config = [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${host.path}`,
    keys, 'PubkeyAuthentication yes', `PasswordAuthentication ${opts.passwordUser ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PidFile none',
    `PermitRootLogin ${opts.passwordUser ? 'yes' : 'prohibit-password'}`,
    'AllowTcpForwarding yes', 'Subsystem sftp internal-sftp', `LogLevel ${opts.verbose ? 'VERBOSE' : 'ERROR'}`,
    // tests open tens of device connections at once; sshd's default (10:30:100) drops some at random
    'MaxStartups 200', 'MaxSessions 50',
  ].join('\n');
  const configPath = path.join(dir, 'sshd_config');
  await fs.writeFile(configPath, config + '\n');
  let stderr = '';
  const run = () => {
    const p: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (d) => (stderr += d));
    return p;
  };
  let proc = run();
  await waitForPort(port, () => stderr);
  const stopSshd = async () => {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(null) : proc.once('exit', r)));
  };
  const device: DeviceSshd = {
    port, dir, hostKey: host.publicKey.split(' ').slice(0, 2).join(' '),
    async replaceHostKey() {
      await stopSshd();
      await fs.rm(host.path, { force: true });
      await fs.rm(`${host.path}.pub`, { force: true });
      const fresh = generateKey(dir, 'host_ed25519');
      proc = run();
      await waitForPort(port, () => stderr);
      device.hostKey = fresh.publicKey.split(' ').slice(0, 2).join(' ');
      return device.hostKey;
    },
    username: own?.username ?? DEVICE_USER, home: own?.home ?? null, log: () => stderr,
    keysFile: own && opts.ownUser ? path.join(own.home, opts.ownUser.keysFile ?? '.ssh/authorized_keys') : null,
    async writeKeys(lines, file = '.ssh/authorized_keys') {
      if (!own) throw new Error('writeKeys needs ownUser');
      const f = path.join(own.home, file);
      await fs.writeFile(f, lines.map((l) => l.trim() + '\n').join(''), { mode: 0o600 });
      execFileSync('chown', [`${own.username}:`, f]);
    },
    async readKeys(file = '.ssh/authorized_keys') {
      if (!own) throw new Error('readKeys needs ownUser');
      return (await fs.readFile(path.join(own.home, file), 'utf8')).split('\n').filter((l) => l.trim());
    },
    credential: { username: own?.username ?? DEVICE_USER, privateKey: login.privateKey },
    async stop() {
      await stopSshd();
      // -f: a session of the user may still be closing (and a uid-0 user always "has" processes)
      if (own) execFileSync('userdel', ['-f', own.username], { stdio: 'ignore' });
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return device;
}

async function waitForPort(port: number, diagnostics: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not start on port ${port}: ${diagnostics()}`);
}
