/** The CertificateAuthority port over the OpenSSH certificate module and the CA key. */
import type { KeyObject } from 'node:crypto';
import type { CertificateAuthority } from '../core/ports.js';
import { parsePublicKey, signUserCertificate } from './ssh-cert.js';

export function createCertificateAuthority(caKey: KeyObject): CertificateAuthority {
  return {
    inspectPublicKey(line) {
      const k = parsePublicKey(line);
      return { type: k.type, fingerprint: k.fingerprint };
    },
    signUserCertificate(o) {
      return signUserCertificate({
        caKey, publicKey: parsePublicKey(o.publicKeyLine), serial: BigInt(o.serial), keyId: o.keyId,
        principals: o.principals, validAfter: o.validAfter, validBefore: o.validBefore, extensions: o.extensions,
      }).line;
    },
  };
}
