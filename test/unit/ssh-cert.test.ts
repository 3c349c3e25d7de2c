import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, createPublicKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseCertificate,
  parsePublicKey,
  publicKeyToSshBlob,
  publicKeyToSshLine,
  signUserCertificate,
  verifySshSignature,
  verifyUserCertificate,
  type ParsedCertificate,
} from '../../server/crypto/ssh-cert.js';
import { SshWriter } from '../../server/crypto/ssh-wire.js';

let dir: string;
const keygen = (...args: string[]) =>
  execFileSync('ssh-keygen', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
const read = (name: string) => readFileSync(join(dir, name), 'utf8').trim();
const blobOf = (line: string) => Buffer.from(line.split(/\s+/)[1], 'base64');
/** Generates `name` / `name.pub` with ssh-keygen. */
const genKey = (name: string, ...args: string[]) => {
  keygen('-q', '-N', '', '-C', `${name}@test`, '-f', join(dir, name), ...args);
  return read(`${name}.pub`);
};
/** Signs `<key>.pub` with ssh-keygen and returns the certificate blob. */
const sshKeygenCert = (ca: string, key: string, ...args: string[]) => {
  keygen('-q', '-s', join(dir, ca), '-I', 'vendor-id', ...args, join(dir, `${key}.pub`));
  return blobOf(read(`${key}-cert.pub`));
};

/** Re-serialises a parsed certificate, optionally with changed fields, keeping the old signature. */
function rebuild(c: ParsedCertificate, o: Partial<ParsedCertificate> = {}): Buffer {
  const x = { ...c, ...o };
  const key = new SshWriter();
  key.string(x.certType).string(x.nonce);
  const keyFields = x.publicKey.blob.subarray(4 + x.publicKey.blob.readUInt32BE(0));
  const principals = new SshWriter();
  x.principals.forEach((p) => principals.string(p));
  const crit = new SshWriter();
  for (const [k, v] of x.criticalOptions) crit.string(k).string(v ? new SshWriter().string(v).toBuffer() : Buffer.alloc(0));
  const ext = new SshWriter();
  x.extensions.forEach((e) => ext.string(e).string(Buffer.alloc(0)));
  return key
    .raw(keyFields).uint64(x.serial).uint32(x.type).string(x.keyId).string(principals.toBuffer())
    .uint64(x.validAfter).uint64(x.validBefore).string(crit.toBuffer()).string(ext.toBuffer())
    .string(Buffer.alloc(0)).string(x.signatureKey).string(x.signature).toBuffer();
}

const ed = () => generateKeyPairSync('ed25519');
const NOW = new Date('2030-06-01T12:00:00Z');
const HOUR = 3600_000;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-ssh-cert-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parsePublicKey', () => {
  it.each([
    ['ed25519', ['-t', 'ed25519'], 'ssh-ed25519'],
    ['rsa', ['-t', 'rsa', '-b', '3072'], 'ssh-rsa'],
    ['ecdsa256', ['-t', 'ecdsa', '-b', '256'], 'ecdsa-sha2-nistp256'],
    ['ecdsa384', ['-t', 'ecdsa', '-b', '384'], 'ecdsa-sha2-nistp384'],
    ['ecdsa521', ['-t', 'ecdsa', '-b', '521'], 'ecdsa-sha2-nistp521'],
  ])('parses an ssh-keygen %s key with the ssh-keygen fingerprint', (name, args, type) => {
    const line = genKey(`pk-${name}`, ...args);
    const k = parsePublicKey(line);
    expect(k.type).toBe(type);
    expect(k.comment).toBe(`pk-${name}@test`);
    const printed = keygen('-l', '-E', 'sha256', '-f', join(dir, `pk-${name}.pub`)).split(' ')[1];
    expect(k.fingerprint).toBe(printed);
    expect(publicKeyToSshBlob(k.keyObject).equals(k.blob)).toBe(true);
    if (type !== 'ssh-ed25519') {
      // OpenSSH's own SPKI export of the key equals node's view of what we parsed
      const pem = keygen('-e', '-m', 'PKCS8', '-f', join(dir, `pk-${name}.pub`));
      expect(createPublicKey(pem).export({ type: 'spki', format: 'der' })).toEqual(k.keyObject.export({ type: 'spki', format: 'der' }));
    }
  });

  it('round-trips node keys through publicKeyToSshLine', () => {
    for (const kp of [ed(), generateKeyPairSync('ec', { namedCurve: 'P-384' }), generateKeyPairSync('rsa', { modulusLength: 2048 })]) {
      const line = publicKeyToSshLine(kp.publicKey, 'me@host');
      const k = parsePublicKey(line);
      expect(k.comment).toBe('me@host');
      writeFileSync(join(dir, 'rt.pub'), line + '\n');
      expect(keygen('-l', '-f', join(dir, 'rt.pub'))).toContain(k.fingerprint);
    }
  });

  it('rejects dsa, short rsa, certificates, garbage and type mismatches', () => {
    const dsaBlob = new SshWriter().string('ssh-dss').mpint(Buffer.from([1])).mpint(Buffer.from([2])).toBuffer();
    expect(() => parsePublicKey(`ssh-dss ${dsaBlob.toString('base64')}`)).toThrow(/DSA/);
    expect(() => parsePublicKey(genKey('short-rsa', '-t', 'rsa', '-b', '1024'))).toThrow(/2048/);
    const edLine = genKey('mismatch', '-t', 'ed25519');
    expect(() => parsePublicKey(edLine.replace('ssh-ed25519', 'ssh-rsa'))).toThrow(/does not match/);
    expect(() => parsePublicKey(`ssh-ed25519 ${edLine.split(' ')[1].replace(/.{4}$/, '')}`)).toThrow();
    expect(() => parsePublicKey('ssh-ed25519 !!!notbase64!!!')).toThrow(/base64/);
    expect(() => parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5')).toThrow();
    expect(() => parsePublicKey('garbage')).toThrow();
    expect(() => parsePublicKey('')).toThrow();
    const trailing = Buffer.concat([blobOf(edLine), Buffer.from([0])]);
    expect(() => parsePublicKey(`ssh-ed25519 ${trailing.toString('base64')}`)).toThrow(/trailing/);
    keygen('-q', '-s', join(dir, 'mismatch'), '-I', 'x', '-n', 'p', join(dir, 'mismatch.pub'));
    expect(() => parsePublicKey(read('mismatch-cert.pub'))).toThrow(/certificates/);
    const err = (() => { try { parsePublicKey('ssh-dss AAAA'); } catch (e) { return e; } })() as { kind?: string };
    expect(err.kind).toBe('invalid');
  });
});

describe('user certificates', () => {
  const ca = ed();
  const caBlob = publicKeyToSshBlob(ca.publicKey);
  let kcaBlob: Buffer; // an ssh-keygen generated CA
  let userLine: string;
  beforeAll(() => {
    kcaBlob = blobOf(genKey('kca', '-t', 'ed25519'));
    genKey('otherca', '-t', 'ed25519');
    userLine = genKey('user', '-t', 'ed25519');
    genKey('user2', '-t', 'ecdsa');
    genKey('user3', '-t', 'rsa');
  });

  type SignOpts = Parameters<typeof signUserCertificate>[0];
  const ours = (over: Partial<SignOpts> = {}) =>
    signUserCertificate({
      caKey: ca.privateKey, publicKey: parsePublicKey(userLine), serial: 42n, keyId: 'grant-7f3a',
      principals: ['infusion-pump-7'], validAfter: new Date(NOW.getTime() - HOUR), validBefore: new Date(NOW.getTime() + HOUR),
      extensions: ['permit-pty'], ...over,
    });
  const check = (blob: Buffer, o: Partial<Parameters<typeof verifyUserCertificate>[1]> = {}) =>
    verifyUserCertificate(blob, { caPublicKeyBlob: caBlob, principal: 'infusion-pump-7', now: NOW, ...o });
  const reasonOf = (r: ReturnType<typeof verifyUserCertificate>) => (r.ok ? 'ok' : r.reason);

  it('signs a certificate that ssh-keygen -L reads back', () => {
    const { line, blob } = ours({ extensions: ['permit-pty', 'permit-agent-forwarding'] });
    expect(line.startsWith('ssh-ed25519-cert-v01@openssh.com ')).toBe(true);
    expect(line.endsWith(' grant-7f3a')).toBe(true);
    writeFileSync(join(dir, 'ours-cert.pub'), line + '\n');
    const out = keygen('-L', '-f', join(dir, 'ours-cert.pub'));
    expect(out).toMatch(/Type: ssh-ed25519-cert-v01@openssh.com user certificate/);
    expect(out).toContain('Key ID: "grant-7f3a"');
    expect(out).toMatch(/Serial: 42\n/);
    expect(out).toContain('Valid: from 2030-06-01T11:00:00 to 2030-06-01T13:00:00');
    expect(out).toMatch(/Principals: \n\s+infusion-pump-7\n/);
    expect(out).toMatch(/Critical Options: \(none\)/);
    expect(out).toMatch(/Extensions: \n\s+permit-agent-forwarding\n\s+permit-pty\n/);
    expect(out).toContain(`Signing CA: ED25519 ${parsePublicKey(publicKeyToSshLine(ca.publicKey)).fingerprint} (using ssh-ed25519)`);
    expect(out).toContain(`Public key: ED25519-CERT ${parsePublicKey(userLine).fingerprint}`);
    const r = check(blob);
    expect(reasonOf(r)).toBe('ok');
    if (r.ok) {
      expect(r.cert.serial).toBe(42n);
      expect(r.cert.nonce.length).toBe(32);
      expect(r.cert.extensions).toEqual(['permit-agent-forwarding', 'permit-pty']);
      expect(r.cert.publicKey.blob.equals(blobOf(userLine))).toBe(true);
    }
    // nonce is random: two certificates differ
    expect(ours().blob.equals(ours().blob)).toBe(false);
  });

  it('signs ecdsa and rsa user keys too, with a source-address ssh-keygen reads', () => {
    for (const [key, kind] of [['user2', 'ECDSA-CERT'], ['user3', 'RSA-CERT']]) {
      const { line, blob } = ours({ publicKey: parsePublicKey(read(`${key}.pub`)), criticalOptions: { 'source-address': '10.0.0.0/8' } });
      writeFileSync(join(dir, 'k-cert.pub'), line + '\n');
      const out = keygen('-L', '-f', join(dir, 'k-cert.pub'));
      expect(out).toContain(`Public key: ${kind}`);
      expect(out).toMatch(/source-address 10\.0\.0\.0\/8/);
      expect(reasonOf(check(blob, { clientAddress: '10.1.2.3' }))).toBe('ok');
    }
  });

  it('verifies certificates signed by ssh-keygen (ed25519, rsa, ecdsa CAs)', () => {
    const blob = sshKeygenCert('kca', 'user', '-n', 'infusion-pump-7,other', '-V', '-5m:+1h', '-z', '9');
    const r = verifyUserCertificate(blob, { caPublicKeyBlob: kcaBlob, principal: 'infusion-pump-7', now: new Date() });
    expect(reasonOf(r)).toBe('ok');
    if (r.ok) {
      expect(r.cert.keyId).toBe('vendor-id');
      expect(r.cert.serial).toBe(9n);
      expect(r.cert.principals).toEqual(['infusion-pump-7', 'other']);
      expect(r.cert.extensions).toContain('permit-pty');
      expect(rebuild(r.cert).equals(blob)).toBe(true);
    }
    for (const [name, args] of [['rsaca', ['-t', 'rsa']], ['ec384ca', ['-t', 'ecdsa', '-b', '384']], ['ec521ca', ['-t', 'ecdsa', '-b', '521']]] as const) {
      const caPub = blobOf(genKey(name, ...args));
      for (const key of ['user', 'user2', 'user3']) {
        const c = sshKeygenCert(name, key, '-n', 'p1', '-V', '-5m:+1h');
        expect(reasonOf(verifyUserCertificate(c, { caPublicKeyBlob: caPub, principal: 'p1', now: new Date() }))).toBe('ok');
        // and the same bytes with one principal changed are refused
        const forged = rebuild(parseCertificate(c), { principals: ['p2'] });
        expect(reasonOf(verifyUserCertificate(forged, { caPublicKeyBlob: caPub, principal: 'p2', now: new Date() }))).toBe('bad CA signature');
      }
    }
  });

  it('refuses a forged principal that keeps the old signature', () => {
    for (const blob of [ours().blob, sshKeygenCert('kca', 'user', '-n', 'infusion-pump-7')]) {
      const c = parseCertificate(blob);
      const forged = rebuild(c, { principals: ['ventilator-1'] });
      const caPublicKeyBlob = c.signatureKey;
      expect(reasonOf(verifyUserCertificate(forged, { caPublicKeyBlob, principal: 'ventilator-1', now: new Date() }))).toBe('bad CA signature');
      expect(rebuild(c).equals(blob)).toBe(true);
      for (const change of [{ validBefore: c.validBefore - 1n }, { serial: c.serial + 1n }, { keyId: 'x' }, { extensions: [] }]) {
        const altered = rebuild(c, change);
        expect(reasonOf(verifyUserCertificate(altered, { caPublicKeyBlob, principal: 'infusion-pump-7', now: NOW }))).toBe('bad CA signature');
      }
    }
  });

  it('refuses another CA, expiry, not-yet-valid and the wrong principal', () => {
    expect(reasonOf(check(sshKeygenCert('otherca', 'user', '-n', 'infusion-pump-7')))).toBe('unknown certificate authority');
    expect(reasonOf(check(ours().blob, { caPublicKeyBlob: kcaBlob }))).toBe('unknown certificate authority');
    const { blob } = ours();
    expect(reasonOf(check(blob, { now: new Date(NOW.getTime() + HOUR) }))).toBe('certificate expired');
    expect(reasonOf(check(blob, { now: new Date(NOW.getTime() + HOUR - 1000) }))).toBe('ok');
    expect(reasonOf(check(blob, { now: new Date(NOW.getTime() - HOUR) }))).toBe('ok');
    expect(reasonOf(check(blob, { now: new Date(NOW.getTime() - HOUR - 1000) }))).toBe('certificate not yet valid');
    expect(reasonOf(check(blob, { principal: 'infusion-pump-8' }))).toBe('principal not allowed');
    expect(reasonOf(check(blob, { principal: '' }))).toBe('principal not allowed');
  });

  it('refuses host certificates, force-command, empty principals', () => {
    const k = (blob: Buffer) => reasonOf(verifyUserCertificate(blob, { caPublicKeyBlob: kcaBlob, principal: 'infusion-pump-7', now: new Date() }));
    expect(k(sshKeygenCert('kca', 'user', '-h', '-n', 'infusion-pump-7'))).toBe('not a user certificate');
    expect(k(sshKeygenCert('kca', 'user', '-n', 'infusion-pump-7', '-O', 'force-command=/bin/true'))).toBe('unsupported critical option: force-command');
    expect(k(sshKeygenCert('kca', 'user', '-n', 'infusion-pump-7', '-O', 'verify-required'))).toBe('unsupported critical option: verify-required');
    expect(k(sshKeygenCert('kca', 'user'))).toBe('certificate has no principals');
    expect(() => ours({ principals: [] })).toThrow(/principal/);
  });

  it('honours source-address (IPv4 and IPv6)', () => {
    const blob = sshKeygenCert('kca', 'user', '-n', 'infusion-pump-7', '-O', 'source-address=10.20.0.0/16,2001:db8::/32,192.0.2.7');
    const at = (clientAddress?: string) =>
      reasonOf(verifyUserCertificate(blob, { caPublicKeyBlob: kcaBlob, principal: 'infusion-pump-7', now: new Date(), clientAddress }));
    expect(at('10.20.3.4')).toBe('ok');
    expect(at('::ffff:10.20.3.4')).toBe('ok');
    expect(at('192.0.2.7')).toBe('ok');
    expect(at('2001:db8:1::5')).toBe('ok');
    expect(at('10.21.0.1')).toBe('source address not allowed');
    expect(at('192.0.2.8')).toBe('source address not allowed');
    expect(at('2001:db9::1')).toBe('source address not allowed');
    expect(at('not-an-ip')).toBe('source address not allowed');
    expect(at(undefined)).toBe('source address not allowed');
    const bad = ours({ criticalOptions: { 'source-address': '10.0.0.0/33' } }).blob;
    expect(reasonOf(check(bad, { clientAddress: '10.0.0.1' }))).toBe('source address not allowed');
  });

  it('returns malformed certificate for truncated, trailing or garbage blobs, never throws', () => {
    const { blob } = ours();
    expect(reasonOf(check(blob.subarray(0, blob.length - 1)))).toBe('malformed certificate');
    expect(reasonOf(check(blob.subarray(0, 40)))).toBe('malformed certificate');
    expect(reasonOf(check(Buffer.concat([blob, Buffer.from([0])])))).toBe('malformed certificate');
    expect(reasonOf(check(Buffer.alloc(0)))).toBe('malformed certificate');
    expect(reasonOf(check(Buffer.from('ffffffff00', 'hex')))).toBe('malformed certificate');
    expect(reasonOf(check(blobOf(userLine)))).toBe('malformed certificate');
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(blob);
      junk[(i * 7919) % junk.length] ^= 0x55;
      const r = check(junk);
      if (r.ok) throw new Error(`flipped byte ${(i * 7919) % junk.length} still verified`);
    }
    expect(() => parseCertificate(Buffer.from('nonsense'))).toThrow();
    // unsorted extensions are malformed
    const c = parseCertificate(blob);
    expect(reasonOf(check(rebuild(c, { extensions: ['permit-pty', 'permit-agent-forwarding'] })))).toBe('malformed certificate');
  });
});

describe('verifySshSignature', () => {
  const data = Buffer.from('session-id and userauth request bytes');
  const wrap = (algo: string, sig: Buffer) => new SshWriter().string(algo).string(sig).toBuffer();
  const flip = (b: Buffer) => { const c = Buffer.from(b); c[c.length - 3] ^= 1; return c; };

  it('ed25519', () => {
    const { publicKey, privateKey } = ed();
    const blob = wrap('ssh-ed25519', sign(null, data, privateKey));
    expect(verifySshSignature(publicKey, 'ssh-ed25519', blob, data)).toBe(true);
    expect(verifySshSignature(publicKey, 'ssh-ed25519-cert-v01@openssh.com', blob, data)).toBe(true);
    expect(verifySshSignature(publicKey, 'ssh-ed25519', flip(blob), data)).toBe(false);
    expect(verifySshSignature(publicKey, 'ssh-ed25519', blob, flip(data))).toBe(false);
    expect(verifySshSignature(ed().publicKey, 'ssh-ed25519', blob, data)).toBe(false);
    expect(verifySshSignature(publicKey, 'ssh-rsa', blob, data)).toBe(false);
    expect(verifySshSignature(publicKey, 'ssh-ed25519', Buffer.concat([blob, Buffer.from([0])]), data)).toBe(false);
  });

  it('ecdsa-sha2-nistp256 with mpint r, s', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let ok = 0;
    for (let i = 0; i < 20; i++) { // some r/s have a high bit set or leading zeros: exercise the mpint padding
      const d = Buffer.concat([data, Buffer.from([i])]);
      const p1363 = sign('sha256', d, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const inner = new SshWriter().mpint(p1363.subarray(0, 32)).mpint(p1363.subarray(32)).toBuffer();
      const blob = wrap('ecdsa-sha2-nistp256', inner);
      if (verifySshSignature(publicKey, 'ecdsa-sha2-nistp256-cert-v01@openssh.com', blob, d)) ok++;
      expect(verifySshSignature(publicKey, 'ecdsa-sha2-nistp256', flip(blob), d)).toBe(false);
      expect(verifySshSignature(publicKey, 'ecdsa-sha2-nistp384', blob, d)).toBe(false);
      expect(verifySshSignature(publicKey, 'ecdsa-sha2-nistp256', wrap('ecdsa-sha2-nistp256', p1363), d)).toBe(false);
    }
    expect(ok).toBe(20);
  });

  it('rsa-sha2-256/512 but never ssh-rsa (SHA-1)', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const s256 = wrap('rsa-sha2-256', sign('sha256', data, privateKey));
    const s512 = wrap('rsa-sha2-512', sign('sha512', data, privateKey));
    expect(verifySshSignature(publicKey, 'ssh-rsa', s256, data)).toBe(true);
    expect(verifySshSignature(publicKey, 'rsa-sha2-256', s256, data)).toBe(true);
    expect(verifySshSignature(publicKey, 'rsa-sha2-256-cert-v01@openssh.com', s256, data)).toBe(true);
    expect(verifySshSignature(publicKey, 'rsa-sha2-512', s512, data)).toBe(true);
    expect(verifySshSignature(publicKey, 'rsa-sha2-512', s256, data)).toBe(false);
    expect(verifySshSignature(publicKey, 'ssh-rsa', flip(s256), data)).toBe(false);
    expect(verifySshSignature(publicKey, 'ssh-rsa', wrap('rsa-sha2-256', sign('sha512', data, privateKey)), data)).toBe(false);
    const sha1 = wrap('ssh-rsa', sign('sha1', data, privateKey));
    expect(verifySshSignature(publicKey, 'ssh-rsa', sha1, data)).toBe(false);
    expect(verifySshSignature(publicKey, 'ssh-rsa-cert-v01@openssh.com', sha1, data)).toBe(false);
    expect(verifySshSignature(publicKey, 'ssh-rsa', Buffer.from('garbage'), data)).toBe(false);
  });
});
