/**
 * The device connection test, over the same onward connection the proxy opens for a technician
 * (device-connection.ts): connect, host key against the pin, the vaulted credential's login, then a
 * no-op `true`. Every failure becomes a reason an admin can act on; nothing here throws.
 */
import type ssh2 from 'ssh2';
import type { DeviceTester, DeviceTestOutcome } from '../server/core/ports.js';
import type { Device, DeviceCredential } from '../server/core/types.js';
import { sshFingerprint } from '../server/crypto/ssh-cert.js';
import { connectDevice, DeviceAuthError } from './device-connection.js';

export interface DeviceTesterOptions {
  /** connect, key exchange and login; default 10 s */
  connectTimeoutMs?: number;
  /** the no-op command; default 5 s */
  commandTimeoutMs?: number;
}

const pinnedFingerprint = (line: string) => sshFingerprint(Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64'));

function connectionReason(err: Error & { code?: string; level?: string }, device: Device, credential: DeviceCredential, timeoutMs: number): string {
  const where = `${device.address}:${device.sshPort}`;
  if (err instanceof DeviceAuthError) {
    return `host key mismatch: the device presented ${sshFingerprint(err.presentedKeyBlob)}, the pinned key is ${pinnedFingerprint(device.hostKey ?? '')}`;
  }
  if (err.level === 'client-authentication') return `the device refused the credential of "${credential.username}"`;
  switch (err.code) {
    case 'ECONNREFUSED': return `connection refused at ${where}`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `address ${device.address} not found`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `no route to ${where}`;
    case 'ETIMEDOUT': return `no answer from ${where}`;
    case 'ECONNRESET': return `${where} closed the connection`;
  }
  if (err.level === 'client-timeout' || /timed out/i.test(err.message)) return `no SSH answer from ${where} within ${timeoutMs / 1000} s`;
  return `could not connect to ${where}: ${err.message.slice(0, 200)}`;
}

/** Runs `true`; resolves with null when it exited 0, else the reason. */
function runNoop(client: ssh2.Client, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(`the no-op command did not finish within ${timeoutMs / 1000} s`), timeoutMs);
    const done = (reason: string | null) => {
      clearTimeout(timer);
      resolve(reason);
    };
    client.exec('true', (err, channel) => {
      if (err) return done(`the device refused to run a command: ${err.message.slice(0, 200)}`);
      let code: number | null = null;
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('close', () => done(code === 0 ? null : `the no-op command "true" exited with ${code ?? 'no status'}`));
      channel.resume();
      channel.stderr.resume();
    });
  });
}

export function createDeviceTester(opts: DeviceTesterOptions = {}): DeviceTester {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const commandTimeoutMs = opts.commandTimeoutMs ?? 5_000;
  return {
    async test(device: Device, credential: DeviceCredential): Promise<DeviceTestOutcome> {
      let client: ssh2.Client;
      try {
        client = await connectDevice(device, credential, connectTimeoutMs);
      } catch (err) {
        const reason = connectionReason(err as Error, device, credential, connectTimeoutMs);
        return err instanceof DeviceAuthError ? { ok: false, reason, presentedHostKey: err.presented() } : { ok: false, reason };
      }
      client.on('error', () => undefined); // after login, an error only ends the test below
      try {
        const reason = await runNoop(client, commandTimeoutMs);
        return reason ? { ok: false, reason } : { ok: true };
      } finally {
        client.end();
      }
    },
  };
}
