/**
 * Host certificates (the proxy's, §8.8), read back by the real ssh-keygen; the ssh2 host keys that
 * present them; and which refused user certificates still count as genuine (so their holder may be
 * told why in a banner).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCertificatePrincipals, mintHostCertificate } from '../../proxy/host-certificate.js';
import { bannerText, certifiedHostKeys } from '../../proxy/ssh2-internals.js';
import { hostKeyLine, newOpenSshKey } from '../../server/crypto/keys.js';
import {
  FOREVER, parseCertificate, parsePublicKey, publicKeyToSshBlob, publicKeyToSshLine, signHostCertificate, signUserCertificate,
  verifySshSignature, verifyUserCertificate,
} from '../../server/crypto/ssh-cert.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-host-cert-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `ssh-keygen -L` of a certificate line, in UTC. */
function keygenList(line: string): string {
  const file = join(dir, `c-${Math.random().toString(36).slice(2)}-cert.pub`);
  writeFileSync(file, line + '\n');
  return execFileSync('ssh-keygen', ['-L', '-f', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
}

/** The fingerprint ssh-keygen prints for a public key line. */
function keygenFingerprint(line: string): string {
  const file = join(dir, `k-${Math.random().toString(36).slice(2)}.pub`);
  writeFileSync(file, line + '\n');
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' }).split(' ')[1]!;
}

const ca = generateKeyPairSync('ed25519');
// newOpenSshKey: ssh2's own generator now and then yields a key its parser refuses (about 1 in 250)
const hostKey = newOpenSshKey();

describe('host certificates', () => {
  it('ssh-keygen -L reads a host certificate: type, principals, validity forever, no options, our CA', () => {
    const { line, blob } = signHostCertificate({
      caKey: ca.privateKey, publicKey: parsePublicKey(hostKeyLine(hostKey)), serial: 7n, keyId: 'proxy-a',
      principals: ['ssh.hospital.example', '127.0.0.1'], validAfter: new Date('2030-01-01T00:00:00Z'),
    });
    const listed = keygenList(line);
    expect(listed).toContain('Type: ssh-ed25519-cert-v01@openssh.com host certificate');
    expect(listed).toContain(`Public key: ED25519-CERT ${keygenFingerprint(hostKeyLine(hostKey))}`);
    expect(listed).toContain(`Signing CA: ED25519 ${keygenFingerprint(publicKeyToSshLine(ca.publicKey))}`);
    expect(listed).toContain('Key ID: "proxy-a"');
    expect(listed).toContain('Serial: 7');
    expect(listed).toMatch(/Valid: after 2030-01-01T00:00:00\n/); // no end: ssh-keygen says "after"
    expect(listed).toMatch(/Principals: \n\s+ssh\.hospital\.example\n\s+127\.0\.0\.1\n/);
    expect(listed).toMatch(/Critical Options: \(none\)/);
    expect(listed).toMatch(/Extensions: \(none\)/);
    const parsed = parseCertificate(blob);
    expect(parsed.type).toBe(2);
    expect(parsed.validBefore).toBe(FOREVER);
    expect(verifySshSignature(ca.publicKey, 'ssh-ed25519', parsed.signature, parsed.signedBytes)).toBe(true);
    // a host certificate is never a technician's
    expect(verifyUserCertificate(blob, { caPublicKeyBlob: publicKeyToSshBlob(ca.publicKey), principal: '127.0.0.1', now: new Date('2031-01-01') }))
      .toEqual({ ok: false, reason: 'not a user certificate' });
  });

  it('the proxy mints one for its own key, for its public names and loopback', () => {
    const principals = hostCertificatePrincipals(['ssh.hospital.example', 'localhost']);
    expect(principals).toEqual(['ssh.hospital.example', 'localhost', '127.0.0.1']);
    const now = new Date('2031-05-05T10:00:00Z');
    const cert = mintHostCertificate({ hostKey, caKey: ca.privateKey, principals, now });
    const parsed = parseCertificate(cert.blob);
    expect(parsed.publicKey.blob.equals(parsePublicKey(hostKeyLine(hostKey)).blob)).toBe(true);
    expect(parsed.principals).toEqual(principals);
    expect(parsed.validAfter).toBe(BigInt(now.getTime() / 1000 - 300));
    expect(keygenList(cert.line)).toContain('host certificate');
  });

  it('ssh2 gets the plain key and the certificate as a second host key; an RSA host key gets none', () => {
    const { blob } = mintHostCertificate({ hostKey, caKey: ca.privateKey, principals: ['127.0.0.1'], now: new Date() });
    const { hostKeys, certType } = certifiedHostKeys(hostKey, blob);
    expect(certType).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(hostKeys.map((k) => k.key.type)).toEqual(['ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com']);
    expect(hostKeys[1]!.key.getPublicSSH().equals(blob)).toBe(true);
    // only a connection's own copy may sign (it relabels the signature); the shared one refuses
    expect(hostKeys[1]!.key.sign(Buffer.from('x'))).toBeInstanceOf(Error);
    const server = new ssh2.Server({ hostKeys }, () => undefined); // ssh2 accepts both
    server.close();
    const rsa = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }).private;
    expect(certifiedHostKeys(rsa, blob).certType).toBeNull();
  });

  it('banner text: printable, CRLF lines, bounded', () => {
    expect(bannerText('Access to pump-1 was revoked\nby A\x1b[31m: x\r')).toBe('Access to pump-1 was revoked\r\nby A [31m: x\r\n');
    expect(bannerText('x'.repeat(1000)).length).toBe(402);
    expect(bannerText(Array.from({ length: 50 }, () => 'l').join('\n')).split('\r\n')).toHaveLength(21);
  });
});

describe('genuine but refused user certificates', () => {
  const caBlob = publicKeyToSshBlob(ca.publicKey);
  const user = parsePublicKey(publicKeyToSshLine(generateKeyPairSync('ed25519').publicKey));
  const NOW = new Date('2031-06-01T12:00:00Z');
  const cert = (o: { caKey?: typeof ca.privateKey; principals?: string[]; source?: string } = {}) =>
    signUserCertificate({
      caKey: o.caKey ?? ca.privateKey, publicKey: user, serial: 3n, keyId: 'grant', principals: o.principals ?? ['pump-1'],
      validAfter: new Date(NOW.getTime() - 3_600_000), validBefore: NOW, extensions: ['permit-pty'],
      ...(o.source ? { criticalOptions: { 'source-address': o.source } } : {}),
    }).blob;
  const check = (blob: Buffer) => verifyUserCertificate(blob, { caPublicKeyBlob: caBlob, principal: 'pump-1', now: NOW, clientAddress: '10.0.0.1' });

  it('only our CA\'s certificate, for this principal and address, refused for its window alone, is genuine', () => {
    const expired = check(cert());
    expect(expired).toMatchObject({ ok: false, reason: 'certificate expired' });
    expect(!expired.ok && expired.genuine?.keyId).toBe('grant');
    for (const other of [cert({ principals: ['pump-2'] }), cert({ source: '192.0.2.0/24' }), cert({ caKey: generateKeyPairSync('ed25519').privateKey })]) {
      const r = check(other);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.genuine).toBeUndefined();
    }
    // the window's reason still comes first, as before
    expect(check(cert({ principals: ['pump-2'] }))).toEqual({ ok: false, reason: 'certificate expired' });
  });
});

