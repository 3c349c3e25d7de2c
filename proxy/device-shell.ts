/**
 * The DeviceShell port: one command on a device over the same onward connection the proxy uses
 * (device-connection.ts: pinned host key, the given login). The rotations edit authorized_keys and run
 * the device's password command with it. Never throws: a refused login, no connection and a command that
 * hangs are outcomes. Standard input is closed after `stdin` (if any), so no command waits for more.
 */
import type { DeviceCommandResult, DeviceShell } from '../server/core/ports.js';
import type { Device, DeviceCredential } from '../server/core/types.js';
import { sshFingerprint } from '../server/crypto/ssh-cert.js';
import { connectDevice, DeviceAuthError } from './device-connection.js';

export interface DeviceShellOptions {
  /** connect, key exchange and login; default 10 s */
  connectTimeoutMs?: number;
  /** the command; default 30 s */
  commandTimeoutMs?: number;
}

/** what is kept of each output stream */
const MAX_OUTPUT = 16 * 1024;

export function createDeviceShell(opts: DeviceShellOptions = {}): DeviceShell {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const commandTimeoutMs = opts.commandTimeoutMs ?? 30_000;
  return {
    async exec(device: Device, login: DeviceCredential, command: string, stdin?: string): Promise<DeviceCommandResult> {
      const where = `${device.address}:${device.sshPort}`;
      let client;
      try {
        client = await connectDevice(device, login, connectTimeoutMs);
      } catch (err) {
        const e = err as Error & { level?: string };
        if (e instanceof DeviceAuthError) {
          return { kind: 'host_key_mismatch', reason: `host key mismatch at ${where}: the device presented ${sshFingerprint(e.presentedKeyBlob)}`, presented: e.presented() };
        }
        if (e.level === 'client-authentication') return { kind: 'login_refused', reason: `${where} refused the login of "${login.username}"` };
        return { kind: 'unreachable', reason: `could not connect to ${where}: ${e.message.slice(0, 200)}` };
      }
      client.on('error', () => undefined); // after login, an error only ends the command below
      try {
        return await new Promise<DeviceCommandResult>((resolve) => {
          const timer = setTimeout(() => resolve({ kind: 'ran', code: null, stdout: '', stderr: `timed out after ${commandTimeoutMs / 1000} s` }), commandTimeoutMs);
          client.exec(command, (err, channel) => {
            if (err) {
              clearTimeout(timer);
              return resolve({ kind: 'ran', code: null, stdout: '', stderr: `the device refused to run a command: ${err.message.slice(0, 200)}` });
            }
            let code: number | null = null;
            let stdout = '';
            let stderr = '';
            channel.on('data', (d: Buffer) => (stdout = (stdout + d.toString('utf8')).slice(-MAX_OUTPUT)));
            channel.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-MAX_OUTPUT)));
            channel.on('exit', (c: number | null) => (code = c));
            channel.on('close', () => {
              clearTimeout(timer);
              resolve({ kind: 'ran', code, stdout, stderr });
            });
            // a secret for the command travels here, never on its command line; then EOF
            channel.end(stdin);
          });
        });
      } finally {
        client.end();
      }
    },
  };
}
