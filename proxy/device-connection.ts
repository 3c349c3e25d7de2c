/**
 * The onward SSH connection to a device, with its vaulted credential and its pinned host key.
 * The credential is held only for the duration of `connect`; a host key that differs from the
 * trust record fails the device authentication.
 */
import net from 'node:net';
import ssh2 from 'ssh2';
import type { Device, DeviceCredential } from '../server/core/types.js';

export class DeviceAuthError extends Error {
  constructor(readonly presentedKeyBlob: Buffer) {
    super('device host key does not match the pinned key');
  }
}

/** The base64 key blob of an OpenSSH public key line. */
const pinnedBlob = (line: string) => Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');

export function connectDevice(device: Device, credential: DeviceCredential, timeoutMs = 10_000): Promise<ssh2.Client> {
  if (!device.hostKey) return Promise.reject(new Error('device has no pinned host key'));
  const pinned = pinnedBlob(device.hostKey);
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    let presented: Buffer | undefined;
    const sock = net.connect({ host: device.address, port: device.sshPort });
    sock.setNoDelay(true);
    const fail = (err: Error) => {
      conn.end();
      sock.destroy();
      reject(presented && !presented.equals(pinned) ? new DeviceAuthError(presented) : err);
    };
    conn.once('ready', () => {
      conn.removeListener('error', fail);
      resolve(conn);
    });
    conn.once('error', fail);
    conn.connect({
      sock,
      username: credential.username,
      ...(credential.kind === 'password' ? { password: credential.secret } : { privateKey: credential.secret }),
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        presented = key;
        return key.equals(pinned);
      },
      // the device may not speak keyboard-interactive; never prompt on behalf of anyone
      tryKeyboard: false,
    });
  });
}
