/**
 * OpenSSH public keys, user and host certificates (PROTOCOL.certkeys), on node:crypto only.
 *
 * Invariants:
 * - We never trust fingerprint or key equality alone: a certificate is accepted only after its
 *   signature key equals our CA's key byte-for-byte AND the CA signature over the signed bytes
 *   verifies cryptographically (a forged principal with a copied signature must fail).
 * - Parsing is strict: unknown key types, DSA, SHA-1 RSA signatures, RSA < 2048 bits, off-curve
 *   points, non-canonical encodings and trailing bytes are refused with `invalid(...)`.
 * - A certificate with no principals matches nobody; any critical option other than
 *   `source-address` is refused; `source-address` without a known client address is refused.
 * - `verifyUserCertificate` and `verifySshSignature` never throw on bad input.
 */
import {
  createHash,
  createPublicKey,
  randomBytes,
  sign,
  verify,
  constants,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { invalid } from '../core/errors.js';
import { SshReader, SshWriter, sshString } from './ssh-wire.js';

const EC = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', jwk: 'P-256', node: 'prime256v1', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', jwk: 'P-384', node: 'secp384r1', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', jwk: 'P-521', node: 'secp521r1', size: 66, hash: 'sha512' },
} as const;
type EcType = keyof typeof EC;

/** Plain SSH public key types we accept. */
export type SshKeyType = 'ssh-ed25519' | 'ssh-rsa' | EcType;
const CERT_SUFFIX = '-cert-v01@openssh.com';
const RSA_HASH: Record<string, string> = { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512' };

const isKeyType = (t: string): t is SshKeyType => t === 'ssh-ed25519' || t === 'ssh-rsa' || Object.hasOwn(EC, t);
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);

/** A parsed authorized_keys-style public key. */
export interface ParsedPublicKey {
  type: SshKeyType;
  /** The SSH wire blob (what the base64 field decodes to). */
  blob: Buffer;
  comment?: string;
  /** `SHA256:<unpadded base64>`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  keyObject: KeyObject;
}

/** Every field of an OpenSSH certificate. */
export interface ParsedCertificate {
  certType: string;
  nonce: Buffer;
  publicKey: { type: SshKeyType; blob: Buffer; keyObject: KeyObject; fingerprint: string };
  serial: bigint;
  /** 1 = user, 2 = host. */
  type: number;
  keyId: string;
  principals: string[];
  /** Seconds since the epoch; validBefore 0xffffffffffffffff means forever. */
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: Map<string, string>;
  extensions: string[];
  signatureKey: Buffer;
  signature: Buffer;
  /** Everything before the signature field: the bytes the CA signed. */
  signedBytes: Buffer;
}

/** `SHA256:` + unpadded base64 of sha256(blob), exactly as `ssh-keygen -l` prints. */
export function sshFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function jwkKey(jwk: JsonWebKey, what: string): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    throw invalid(`${what} is not a valid public key`);
  }
}

/** Reads the type-specific fields of a public key (everything after the type string). */
function readKeyFields(type: SshKeyType, r: SshReader): KeyObject {
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw invalid('ed25519 public key must be 32 bytes');
    return jwkKey({ kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') }, 'ed25519 key');
  }
  if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    const bits = n.length === 0 ? 0 : (n.length - 1) * 8 + 32 - Math.clz32(n[0]);
    if (bits < 2048) throw invalid(`RSA keys must be at least 2048 bits (this one has ${bits})`);
    if (bits > 16384) throw invalid('RSA key is too large');
    if (e.length === 0 || e.length > 8 || (e[e.length - 1] & 1) === 0) throw invalid('RSA public exponent is invalid');
    return jwkKey({ kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, 'RSA key');
  }
  const ec = EC[type];
  if (r.utf8() !== ec.curve) throw invalid('ECDSA curve does not match the key type');
  const q = r.string();
  if (q.length !== 1 + 2 * ec.size || q[0] !== 4) throw invalid('ECDSA public point must be uncompressed');
  const x = q.subarray(1, 1 + ec.size).toString('base64url');
  const y = q.subarray(1 + ec.size).toString('base64url');
  return jwkKey({ kty: 'EC', crv: ec.jwk, x, y }, 'ECDSA key');
}

/** Parses a plain public key blob; refuses anything not re-encoding to the same bytes. */
function parseKeyBlob(blob: Buffer): { type: SshKeyType; keyObject: KeyObject } {
  const r = new SshReader(blob, 'public key');
  const type = r.utf8();
  if (!isKeyType(type)) throw invalid(unsupportedTypeMessage(type));
  const keyObject = readKeyFields(type, r);
  r.end();
  if (!publicKeyToSshBlob(keyObject).equals(blob)) throw invalid('public key is not canonically encoded');
  return { type, keyObject };
}

function unsupportedTypeMessage(type: string): string {
  if (type.includes('-cert-')) return 'certificates are not accepted here; send the plain public key';
  if (type === 'ssh-dss') return 'DSA keys are not supported; use ed25519';
  return `unsupported key type "${printable(type)}"; use ssh-ed25519, ssh-rsa (>= 2048 bits) or ecdsa-sha2-nistp256/384/521`;
}

/**
 * Parses an authorized_keys-style line `type base64 [comment]`.
 * @throws AppError(invalid) for unsupported types, bad base64, a type/blob mismatch or trailing bytes.
 */
export function parsePublicKey(line: string): ParsedPublicKey {
  if (typeof line !== 'string' || line.length > 16384) throw invalid('public key must be a line of text');
  const m = /^(\S+)[ \t]+(\S+)(?:[ \t]+([^\r\n\0]*))?$/.exec(line.trim());
  if (!m) throw invalid('public key must be one line: "<type> <base64> [comment]"');
  const [, type, b64, comment] = m;
  if (!isKeyType(type)) throw invalid(unsupportedTypeMessage(type));
  const blob = Buffer.from(b64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || blob.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
    throw invalid('public key is not valid base64');
  }
  const parsed = parseKeyBlob(blob);
  if (parsed.type !== type) throw invalid(`key type "${type}" does not match the key itself ("${parsed.type}")`);
  const c = comment?.trim();
  return { type, blob, ...(c ? { comment: c } : {}), fingerprint: sshFingerprint(blob), keyObject: parsed.keyObject };
}

function sshKeyTypeOf(key: KeyObject): SshKeyType {
  const kind = key.asymmetricKeyType;
  if (kind === 'ed25519') return 'ssh-ed25519';
  if (kind === 'rsa') return 'ssh-rsa';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const ec = (Object.keys(EC) as EcType[]).find((t) => EC[t].node === curve);
  if (kind === 'ec' && ec) return ec;
  throw invalid(`unsupported key for SSH: ${kind ?? key.type}`);
}

/** SSH wire blob of an ed25519, RSA or ECDSA P-256/384/521 key (a private key gives its public half). */
export function publicKeyToSshBlob(key: KeyObject): Buffer {
  if (key.type === 'secret') throw invalid('a secret key has no SSH public form');
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const type = sshKeyTypeOf(pub);
  const jwk = pub.export({ format: 'jwk' });
  const b = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
  const w = new SshWriter().string(type);
  if (type === 'ssh-ed25519') return w.string(b(jwk.x)).toBuffer();
  if (type === 'ssh-rsa') return w.mpint(b(jwk.e)).mpint(b(jwk.n)).toBuffer();
  const { curve, size } = EC[type];
  const pad = (v: Buffer) => Buffer.concat([Buffer.alloc(size - v.length), v]);
  return w.string(curve).string(Buffer.concat([Buffer.from([4]), pad(b(jwk.x)), pad(b(jwk.y))])).toBuffer();
}

/** `type base64 [comment]` line for a key, as in authorized_keys / id_*.pub. */
export function publicKeyToSshLine(key: KeyObject, comment?: string): string {
  const blob = publicKeyToSshBlob(key);
  const type = new SshReader(blob).utf8();
  const c = comment?.replace(/[\r\n\0]/g, ' ').trim();
  return `${type} ${blob.toString('base64')}${c ? ' ' + c : ''}`;
}

/** Splits an SSH signature blob `string algo, string sig`. @throws AppError(invalid) when malformed. */
export function unwrapSshSignature(blob: Buffer): { algo: string; sig: Buffer } {
  const r = new SshReader(blob, 'signature');
  const algo = r.utf8();
  const sig = r.string();
  r.end();
  return { algo, sig };
}

/**
 * Verifies an SSH signature blob over `data` with `key`. `keyType` is the key type (`ssh-rsa`)
 * or the public-key algorithm of the auth request (`rsa-sha2-256`, optionally with the
 * `-cert-v01@openssh.com` suffix); a specific rsa-sha2 algorithm must match the signature's.
 * SHA-1 `ssh-rsa` signatures are never accepted. Returns true only on a real verification.
 */
export function verifySshSignature(key: KeyObject, keyType: string, signatureBlob: Buffer, data: Buffer): boolean {
  try {
    const base = keyType.endsWith(CERT_SUFFIX) ? keyType.slice(0, -CERT_SUFFIX.length) : keyType;
    const family = Object.hasOwn(RSA_HASH, base) ? 'ssh-rsa' : base;
    if (!isKeyType(family) || sshKeyTypeOf(key) !== family) return false;
    const { algo, sig } = unwrapSshSignature(signatureBlob);
    if (family === 'ssh-ed25519') {
      return algo === family && sig.length === 64 && verify(null, data, key, sig) === true;
    }
    if (family === 'ssh-rsa') {
      const hash = Object.hasOwn(RSA_HASH, algo) ? RSA_HASH[algo] : undefined;
      if (!hash || (base !== 'ssh-rsa' && base !== algo)) return false;
      const len = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
      if (sig.length > len) return false;
      const padded = Buffer.concat([Buffer.alloc(len - sig.length), sig]);
      return verify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, padded) === true;
    }
    if (algo !== family) return false;
    const { size, hash } = EC[family];
    const r = new SshReader(sig, 'ECDSA signature');
    const parts = [r.mpint(), r.mpint()];
    r.end();
    if (parts.some((p) => p.length > size)) return false;
    const p1363 = Buffer.concat(parts.map((p) => Buffer.concat([Buffer.alloc(size - p.length), p])));
    return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, p1363) === true;
  } catch {
    return false;
  }
}

/** Reads a critical-options / extensions field: names strictly increasing (sorted, unique). */
function readOptions(field: Buffer, what: string): Array<[string, Buffer]> {
  const r = new SshReader(field, what);
  const out: Array<[string, Buffer]> = [];
  let prev: Buffer | undefined;
  while (!r.atEnd()) {
    const start = r.position;
    const name = r.utf8();
    const nameBytes = field.subarray(start + 4, r.position);
    if (prev && Buffer.compare(prev, nameBytes) >= 0) throw invalid(`${what} are not sorted or not unique`);
    prev = nameBytes;
    out.push([name, r.string()]);
  }
  return out;
}

function encodeOptions(entries: Array<[string, Buffer]>, what: string): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const w = new SshWriter();
  sorted.forEach(([name, data], i) => {
    if (!name || (i > 0 && sorted[i - 1][0] === name)) throw invalid(`${what} names must be non-empty and unique`);
    w.string(name).string(data);
  });
  return w.toBuffer();
}

/**
 * Parses an OpenSSH certificate blob (ed25519, rsa and ecdsa certificate types).
 * Does not verify anything beyond well-formedness. @throws AppError(invalid) when malformed.
 */
export function parseCertificate(blob: Buffer): ParsedCertificate {
  const r = new SshReader(blob, 'certificate');
  const certType = r.utf8();
  const type = certType.endsWith(CERT_SUFFIX) ? certType.slice(0, -CERT_SUFFIX.length) : '';
  if (!isKeyType(type)) throw invalid(`unsupported certificate type "${printable(certType)}"`);
  const nonce = r.string();
  const keyStart = r.position;
  readKeyFields(type, r);
  const keyBlob = Buffer.concat([sshString(type), blob.subarray(keyStart, r.position)]);
  const { keyObject } = parseKeyBlob(keyBlob);
  const serial = r.uint64();
  const certKind = r.uint32();
  const keyId = r.utf8();
  const pr = new SshReader(r.string(), 'certificate principals');
  const principals: string[] = [];
  while (!pr.atEnd()) principals.push(pr.utf8());
  const validAfter = r.uint64();
  const validBefore = r.uint64();
  const criticalOptions = new Map<string, string>();
  for (const [name, data] of readOptions(r.string(), 'critical options')) {
    const dr = new SshReader(data, `critical option ${printable(name)}`);
    criticalOptions.set(name, dr.atEnd() ? '' : dr.utf8());
    dr.end();
  }
  const extensions = readOptions(r.string(), 'extensions').map(([name]) => name);
  r.string(); // reserved
  const signatureKey = r.string();
  const signedBytes = blob.subarray(0, r.position);
  const signature = r.string();
  r.end();
  return {
    certType, nonce, serial, type: certKind, keyId, principals, validAfter, validBefore,
    criticalOptions, extensions, signatureKey, signature, signedBytes,
    publicKey: { type, blob: keyBlob, keyObject, fingerprint: sshFingerprint(keyBlob) },
  };
}

const toSeconds = (d: Date, what: string): bigint => {
  const ms = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(ms) || ms < 0) throw invalid(`${what} must be a valid date`);
  return BigInt(Math.floor(ms / 1000));
};

/** validBefore of a certificate without end (ssh-keygen -L prints only "Valid: after …"). */
export const FOREVER = (1n << 64n) - 1n;

interface CertificateFields {
  caKey: KeyObject;
  /** the certified key's wire blob */
  keyBlob: Buffer;
  serial: bigint;
  kind: 1 | 2;
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: Array<[string, Buffer]>;
  extensions: string[];
}

/** Builds and signs any certificate (random 32-byte nonce, options sorted). */
function signCertificate(f: CertificateFields): { line: string; blob: Buffer } {
  const { caKey } = f;
  if (caKey?.type !== 'private' || caKey.asymmetricKeyType !== 'ed25519') throw invalid('the CA key must be an ed25519 private key');
  const { type } = parseKeyBlob(f.keyBlob);
  if (f.principals.length === 0 || f.principals.some((p) => !p)) throw invalid('at least one non-empty principal is required');
  if (f.validBefore <= f.validAfter) throw invalid('validBefore must be after validAfter');
  const kr = new SshReader(f.keyBlob);
  kr.string();
  const certType = type + CERT_SUFFIX;
  const principals = new SshWriter();
  for (const p of f.principals) principals.string(p);
  const signed = new SshWriter()
    .string(certType)
    .string(randomBytes(32))
    .raw(kr.rest())
    .uint64(f.serial)
    .uint32(f.kind)
    .string(f.keyId)
    .string(principals.toBuffer())
    .uint64(f.validAfter)
    .uint64(f.validBefore)
    .string(encodeOptions(f.criticalOptions, 'critical option'))
    .string(encodeOptions(f.extensions.map((e): [string, Buffer] => [e, Buffer.alloc(0)]), 'extension'))
    .string(Buffer.alloc(0))
    .string(publicKeyToSshBlob(caKey))
    .toBuffer();
  const sig = new SshWriter().string('ssh-ed25519').string(sign(null, signed, caKey)).toBuffer();
  const blob = Buffer.concat([signed, sshString(sig)]);
  const comment = f.keyId.replace(/[\x00-\x20\x7f]/g, '_');
  return { line: `${certType} ${blob.toString('base64')}${comment ? ' ' + comment : ''}`, blob };
}

/**
 * Signs an OpenSSH user certificate with an ed25519 CA key (random 32-byte nonce, options sorted).
 * @returns the `.pub`-style line `<type>-cert-v01@openssh.com <base64> <keyId>` and the blob.
 */
export function signUserCertificate(opts: {
  caKey: KeyObject;
  publicKey: ParsedPublicKey;
  serial: bigint;
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore: Date;
  extensions: string[];
  criticalOptions?: Record<string, string>;
}): { line: string; blob: Buffer } {
  const critical = Object.entries(opts.criticalOptions ?? {}).map(
    ([k, v]): [string, Buffer] => [k, v === '' ? Buffer.alloc(0) : sshString(v)],
  );
  return signCertificate({
    caKey: opts.caKey, keyBlob: opts.publicKey.blob, serial: opts.serial, kind: 1, keyId: opts.keyId, principals: opts.principals,
    validAfter: toSeconds(opts.validAfter, 'validAfter'), validBefore: toSeconds(opts.validBefore, 'validBefore'),
    criticalOptions: critical, extensions: opts.extensions,
  });
}

/**
 * Signs an OpenSSH host certificate (type 2: no critical options, no extensions) with an ed25519
 * host CA key. `principals` are the names clients reach the host by; `validBefore` omitted means forever.
 */
export function signHostCertificate(opts: {
  caKey: KeyObject;
  publicKey: ParsedPublicKey;
  serial: bigint;
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore?: Date;
}): { line: string; blob: Buffer } {
  return signCertificate({
    caKey: opts.caKey, keyBlob: opts.publicKey.blob, serial: opts.serial, kind: 2, keyId: opts.keyId, principals: opts.principals,
    validAfter: toSeconds(opts.validAfter, 'validAfter'),
    validBefore: opts.validBefore ? toSeconds(opts.validBefore, 'validBefore') : FOREVER,
    criticalOptions: [], extensions: [],
  });
}

/** True when `client` is inside the comma-separated CIDR list (IPv4/IPv6); malformed → false. */
function sourceAddressAllowed(list: string, client: string | undefined): boolean {
  const family = client ? isIP(client) : 0;
  if (!client || family === 0) return false;
  const allowed = new BlockList();
  for (const entry of list.split(',')) {
    const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
    const kind = m ? isIP(m[1]) : 0;
    if (!m || kind === 0) return false;
    const max = kind === 4 ? 32 : 128;
    const prefix = m[2] === undefined ? max : Number(m[2]);
    if (prefix > max) return false;
    allowed.addSubnet(m[1], prefix, kind === 4 ? 'ipv4' : 'ipv6');
  }
  return allowed.check(client, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Verifies a user certificate for `principal` at `now`: user type, our CA (byte-equal key AND a
 * valid signature), validity window, principal (an empty list matches nobody) and critical options
 * (only `source-address`, checked against `clientAddress`). Never throws.
 *
 * A certificate refused only for its validity window comes back as `genuine`: our CA issued it, for
 * this principal and address, so its holder (once their signature verifies) may be told why.
 */
export function verifyUserCertificate(
  blob: Buffer,
  opts: { caPublicKeyBlob: Buffer; principal: string; now: Date; clientAddress?: string },
): { ok: true; cert: ParsedCertificate } | { ok: false; reason: string; genuine?: ParsedCertificate } {
  const fail = (reason: string) => ({ ok: false as const, reason });
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(blob);
  } catch {
    return fail('malformed certificate');
  }
  try {
    if (cert.type !== 1) return fail('not a user certificate');
    if (!Buffer.isBuffer(opts.caPublicKeyBlob) || !cert.signatureKey.equals(opts.caPublicKeyBlob)) {
      return fail('unknown certificate authority');
    }
    const ca = parseKeyBlob(opts.caPublicKeyBlob);
    if (!verifySshSignature(ca.keyObject, ca.type, cert.signature, cert.signedBytes)) return fail('bad CA signature');
    const now = toSeconds(opts.now, 'now');
    const window = now < cert.validAfter ? 'certificate not yet valid' : now >= cert.validBefore ? 'certificate expired' : null;
    // the window is checked first (its reason wins), but only a certificate passing the rest is genuine
    if (cert.principals.length === 0) return fail(window ?? 'certificate has no principals');
    if (!cert.principals.includes(opts.principal)) return fail(window ?? 'principal not allowed');
    for (const name of cert.criticalOptions.keys()) {
      if (name !== 'source-address') return fail(window ?? `unsupported critical option: ${printable(name)}`);
    }
    const source = cert.criticalOptions.get('source-address');
    if (source !== undefined && !sourceAddressAllowed(source, opts.clientAddress)) return fail(window ?? 'source address not allowed');
    if (window) return { ok: false, reason: window, genuine: cert };
    return { ok: true, cert };
  } catch {
    return fail('certificate verification failed');
  }
}
