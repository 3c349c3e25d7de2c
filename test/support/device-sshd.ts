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

export interface DeviceSshd {
  port: number;
  dir: string;
  /** the device's host public key line, to pin in its trust record */
  hostKey: string;
  /** the credential the broker vaults for this device */
  credential: { username: string; privateKey: string };
  stop(): Promise<void>;
}

export async function startDeviceSshd(): Promise<DeviceSshd> {
  ensureDeviceUser();
  mkdirSync('/run/sshd', { recursive: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-device-'));
  await fs.chmod(dir, 0o755);
  const host = generateKey(dir, 'host_ed25519');
  const login = generateKey(dir, 'login_ed25519');
  await fs.writeFile(path.join(dir, 'authorized_keys'), login.publicKey + '\n', { mode: 0o644 });
  const port = await freePort();
  const config = [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${host.path}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, 'PubkeyAuthentication yes', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PidFile none', 'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes', 'Subsystem sftp internal-sftp', 'LogLevel ERROR',
    // tests open tens of device connections at once; sshd's default (10:30:100) drops some at random
    'MaxStartups 200', 'MaxSessions 50',
  ].join('\n');
  const configPath = path.join(dir, 'sshd_config');
  await fs.writeFile(configPath, config + '\n');
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  await waitForPort(port, () => stderr);
  return {
    port, dir, hostKey: host.publicKey.split(' ').slice(0, 2).join(' '),
    credential: { username: DEVICE_USER, privateKey: login.privateKey },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
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
