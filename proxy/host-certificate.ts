/**
 * The proxy's host certificate, minted at start for whatever host key this proxy has, signed by the
 * broker's host CA. Technicians trust the CA once (`@cert-authority` in known_hosts), so a new host
 * key — another proxy process, a rotated key — needs nothing from them. It is valid from a few
 * minutes before the start, without end: the host key's lifetime is the proxy's, and replacing the
 * host key (or, for all proxies, the host CA) is how trust is withdrawn.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { hostKeyLine } from '../server/crypto/keys.js';
import { parsePublicKey, signHostCertificate } from '../server/crypto/ssh-cert.js';

/** The names the certificate is valid for: the public SSH host names, and the loopback names. */
export function hostCertificatePrincipals(publicHosts: string[]): string[] {
  return [...new Set([...publicHosts, '127.0.0.1', 'localhost'].map((h) => h.trim()).filter(Boolean))];
}

export interface HostCertificate {
  blob: Buffer;
  /** `<type>-cert-v01@openssh.com <base64> <key id>` */
  line: string;
  principals: string[];
}

export function mintHostCertificate(opts: { hostKey: string; caKey: KeyObject; principals: string[]; now: Date }): HostCertificate {
  const publicKey = parsePublicKey(hostKeyLine(opts.hostKey));
  const { blob, line } = signHostCertificate({
    caKey: opts.caKey, publicKey, serial: randomBytes(8).readBigUInt64BE(0), keyId: `portcullis-proxy ${publicKey.fingerprint}`,
    principals: opts.principals, validAfter: new Date(opts.now.getTime() - 5 * 60_000),
  });
  return { blob, line, principals: opts.principals };
}
