/**
 * The onward SSH connection to a device, with its vaulted credential (or a fresh device certificate)
 * and its pinned host key. The credential is held only for the duration of `connect`; a host key that
 * differs from the trust record fails the device authentication.
 */
import net from 'node:net';
import ssh2 from 'ssh2';
import type { PresentedHostKey } from '../server/core/ports.js';
import type { Device, DeviceCredential } from '../server/core/types.js';
import { sshFingerprint } from '../server/crypto/ssh-cert.js';
import { shareReads } from './fair-reads.js';
import { certificateKey } from './ssh2-cert-auth.js';

export class DeviceAuthError extends Error {
  constructor(readonly presentedKeyBlob: Buffer) {
    super('device host key does not match the pinned key');
  }

  /** the key the device presented: its type (the blob's first string), fingerprint and public key line */
  presented(): PresentedHostKey {
    const blob = this.presentedKeyBlob;
    const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
    const keyType = len > 0 && len <= 100 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString('latin1') : 'unknown';
    return { keyType, fingerprint: sshFingerprint(blob), publicKey: `${keyType} ${blob.toString('base64')}` };
  }
}

/** The base64 key blob of an OpenSSH public key line. */
const pinnedBlob = (line: string) => Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');

function loginOptions(c: DeviceCredential): Partial<ssh2.ConnectConfig> {
  // mid-rotation the device may hold the current secret or already the next one: offer both, current first
  if (c.kind === 'password' && c.pendingSecret) {
    return { authHandler: [c.secret, c.pendingSecret].map((password) => ({ type: 'password', username: c.username, password }) as ssh2.PasswordAuthMethod) };
  }
  if (c.kind === 'password') return { password: c.secret };
  if (c.kind === 'private_key' && c.pendingSecret) {
    return { authHandler: [c.secret, c.pendingSecret].map((key) => ({ type: 'publickey', username: c.username, key }) as ssh2.PublicKeyAuthMethod) };
  }
  if (c.kind === 'private_key') return { privateKey: c.secret };
  if (!c.certificate) throw new Error('a certificate login without its certificate');
  // the certificate, and nothing else: a device that refuses it must not be offered the bare key
  return { authHandler: [{ type: 'publickey', username: c.username, key: certificateKey(c.secret, c.certificate) } as ssh2.PublicKeyAuthMethod] };
}

export function connectDevice(device: Device, credential: DeviceCredential, timeoutMs = 10_000): Promise<ssh2.Client> {
  if (!device.hostKey) return Promise.reject(new Error('device has no pinned host key'));
  const pinned = pinnedBlob(device.hostKey);
  let login: Partial<ssh2.ConnectConfig>;
  try {
    login = loginOptions(credential);
  } catch (err) {
    return Promise.reject(err as Error);
  }
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
      shareReads(sock); // ssh2 reads it now: one device's download cannot hold up the others' keystrokes
      resolve(conn);
    });
    conn.once('error', fail);
    conn.connect({
      sock,
      username: credential.username,
      ...login,
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
