/**
 * A real OpenSSH sshd on a loopback port for the benchmark: the "device" (reached directly, through
 * the jump host and through Portcullis) and the jump host for `ssh -J`. Same configuration as
 * test/support/device-sshd.ts (key auth only, the /bin/sh user `pcdevice`, no PAM), plus limits
 * raised so 1,000 concurrent proxied sessions are not refused by MaxStartups.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { DEVICE_USER, freePort, generateKey } from '../support/device-sshd.js';
import { killTree, onCleanup, spawnTracked } from './procs.js';

export interface BenchSshd {
  name: string;
  port: number;
  pid: number;
  /** host public key line ("ssh-ed25519 AAAA…") to pin */
  hostKey: string;
  /** the login key for DEVICE_USER (private key file path and text) */
  loginKeyPath: string;
  loginPrivateKey: string;
  user: string;
}

function ensureDeviceUser(): void {
  if (process.getuid?.() !== 0) return;
  try {
    execFileSync('id', [DEVICE_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/sh', DEVICE_USER]);
  }
  // a new account is locked ('!'), and sshd without PAM refuses locked accounts even for keys
  execFileSync('usermod', ['-p', '*', DEVICE_USER]);
}

export async function startSshd(name: string, baseDir: string): Promise<BenchSshd> {
  ensureDeviceUser();
  mkdirSync('/run/sshd', { recursive: true });
  const dir = path.join(baseDir, name);
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const host = generateKey(dir, 'host_ed25519');
  const login = generateKey(dir, 'login_ed25519');
  await fs.writeFile(path.join(dir, 'authorized_keys'), login.publicKey + '\n', { mode: 0o644 });
  const port = await freePort();
  const config = [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${host.path}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, 'PubkeyAuthentication yes', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PidFile none', 'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes', 'Subsystem sftp internal-sftp', 'LogLevel ERROR',
    // the memory test opens up to 1,000 device connections, a few dozen at a time
    'MaxStartups 2000:100:4000', 'MaxSessions 100', 'PrintMotd no', 'PrintLastLog no',
  ].join('\n');
  const configPath = path.join(dir, 'sshd_config');
  await fs.writeFile(configPath, config + '\n');
  const proc = spawnTracked('/usr/sbin/sshd', ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  onCleanup(`sshd ${name}`, () => killTree(proc.pid!));
  await waitForPort(port, () => stderr);
  return {
    name, port, pid: proc.pid!, hostKey: host.publicKey.split(' ').slice(0, 2).join(' '),
    loginKeyPath: login.path, loginPrivateKey: login.privateKey, user: DEVICE_USER,
  };
}

export async function waitForPort(port: number, diagnostics: () => string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
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
  throw new Error(`nothing listens on port ${port}: ${diagnostics()}`);
}
