/**
 * The DeviceKeys port: the device-access CA (its own ed25519 key, never the technicians' user CA) and
 * the broker's device login keys. Every certificate is for a key pair made for it alone, so the private
 * key exists only in the one DeviceCredential that carries it.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import ssh2 from 'ssh2';
import type { DeviceKeys } from '../core/ports.js';
import { newOpenSshKey } from './keys.js';
import { parsePublicKey, publicKeyToSshLine, signUserCertificate } from './ssh-cert.js';

function publicLineOf(privateKey: string, comment: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('generated an unreadable SSH key');
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')} ${comment}`;
}

export function createDeviceKeys(caKey: KeyObject): DeviceKeys {
  return {
    caPublicKeyLine: publicKeyToSshLine(caKey, 'portcullis-device-ca'),
    issueCertificate(o) {
      const privateKey = newOpenSshKey();
      const publicKey = parsePublicKey(publicLineOf(privateKey, 'device-login'));
      const serial = randomBytes(8).readBigUInt64BE() >> 1n;
      const { line } = signUserCertificate({
        caKey, publicKey, serial, keyId: o.keyId, principals: [o.username],
        validAfter: o.validAfter, validBefore: o.validBefore, extensions: o.extensions,
      });
      return { privateKey, certificate: line, serial: serial.toString(), fingerprint: publicKey.fingerprint };
    },
    newLoginKey(comment) {
      const privateKey = newOpenSshKey();
      return { privateKey, publicKeyLine: publicLineOf(privateKey, comment) };
    },
  };
}
