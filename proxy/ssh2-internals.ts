/**
 * The two things the proxy needs that ssh2 1.x's server has no API for, kept in this one file
 * because both reach into ssh2's protocol object (checked against 1.17; the e2e tests with the real
 * OpenSSH client are what proves them after an upgrade):
 *
 * - A host certificate. ssh2 offers one algorithm per host key type and labels the KEX signature
 *   with the negotiated algorithm name, but for `*-cert-v01@openssh.com` the signature must carry
 *   the plain key's algorithm (PROTOCOL.certkeys; OpenSSH refuses anything else). The certificate is
 *   offered as a host key of its own type; each connection gets its own copy of that key whose
 *   `sign()` relabels the exchange's negotiated algorithm just before ssh2 writes the signature.
 * - A userauth banner (RFC 4252 §5.4) sent at the moment of a refusal, with the refusal's reason:
 *   ssh2 only sends one fixed banner when the userauth service starts.
 * - For the client side, ssh2's Protocol class and a raw packet writer: ssh2-cert-auth.ts uses them to
 *   present a user certificate to a device the way OpenSSH does.
 */
import { createRequire } from 'node:module';
import ssh2 from 'ssh2';

const require = createRequire(import.meta.url);
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket(proto: unknown, packet: Buffer): boolean };

const CERT_SUFFIX = '-cert-v01@openssh.com';
const MSG_USERAUTH_BANNER = 53;

type ParsedKey = ssh2.ParsedKey;

interface ProtocolInternals {
  _hostKeys?: Record<string, ParsedKey>;
  _kex?: { negotiated?: { serverHostKey?: string } };
  _packetRW?: { write?: { allocStart: number; alloc(n: number): Buffer; finalize(packet: Buffer): Buffer } };
}

const protocolOf = (client: ssh2.Connection) => (client as unknown as { _protocol?: ProtocolInternals })._protocol;

function parseHostKey(hostKey: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(hostKey);
  if (parsed instanceof Error) throw new Error(`SSH host key: ${parsed.message}`);
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

export interface CertifiedHostKeys {
  /** for `new ssh2.Server({ hostKeys })`: the plain key, then the certificate when there is one */
  hostKeys: { key: ParsedKey }[];
  /** the certificate's algorithm (`ssh-ed25519-cert-v01@openssh.com`), null when the key type has none here */
  certType: string | null;
}

/**
 * The host keys to give ssh2: the plain key and, for ed25519 and ECDSA keys, its certificate as a
 * second key. RSA host keys get no certificate (their certificate algorithms differ from the key's
 * type name, which this relabelling does not cover).
 */
export function certifiedHostKeys(hostKey: string, certBlob: Buffer | null): CertifiedHostKeys {
  const plain = parseHostKey(hostKey);
  if (!certBlob || plain.type === 'ssh-rsa' || plain.type === 'ssh-dss') return { hostKeys: [{ key: plain }], certType: null };
  const certType = plain.type + CERT_SUFFIX;
  // inherits the private key (and ssh2's own markers) from the plain key; only a connection's copy signs
  const offered = Object.create(plain, {
    type: { value: certType },
    getPublicSSH: { value: () => certBlob },
    sign: { value: () => new Error('host certificate used without presentHostCertificate') },
  }) as ParsedKey;
  return { hostKeys: [{ key: plain }, { key: offered }], certType };
}

/**
 * Gives one connection its own certificate host key (call from the server's connection listener,
 * before the client's key exchange is read). False when ssh2's internals are not as expected.
 */
export function presentHostCertificate(client: ssh2.Connection, certType: string): boolean {
  const proto = protocolOf(client);
  const keys = proto?._hostKeys;
  const plainType = certType.slice(0, -CERT_SUFFIX.length);
  const offered = keys?.[certType];
  const plain = keys?.[plainType];
  if (!proto || !keys || !offered || !plain) return false;
  const certBlob = offered.getPublicSSH();
  const own = Object.create(plain, {
    // ssh2 converts the signature's encoding by this type (ECDSA: DER to SSH)
    type: { value: plainType },
    getPublicSSH: { value: () => certBlob },
    sign: {
      value: (data: Buffer, algo?: string) => {
        const negotiated = proto._kex?.negotiated;
        if (negotiated?.serverHostKey === certType) negotiated.serverHostKey = plainType;
        return plain.sign(data, algo);
      },
    },
  }) as ParsedKey;
  proto._hostKeys = Object.assign(Object.create(null) as Record<string, ParsedKey>, keys, { [certType]: own });
  return true;
}

/** ssh2's Protocol class (client and server side of one connection), for a client method ssh2 writes wrongly. */
export const Ssh2Protocol = require('ssh2/lib/protocol/Protocol.js') as { prototype: Record<string, unknown> };

/** The members of a client's protocol object that writing a raw packet needs. */
export interface ClientProtocolInternals {
  _kex: { sessionID: Buffer };
  _authsQueue: string[];
  _packetRW: { write: { allocStart: number; alloc(n: number): Buffer; finalize(packet: Buffer): Buffer } };
}

/** Sends one SSH message (`payload` starts with its message number) on a protocol object: ssh2 frames, MACs and encrypts it. */
export function sendRawPayload(proto: ClientProtocolInternals, payload: Buffer): void {
  const w = proto._packetRW.write;
  const packet = w.alloc(payload.length);
  payload.copy(packet, w.allocStart);
  sendPacket(proto, w.finalize(packet));
}

/** Printable text only, lines ended by CRLF, bounded: what a terminal shows as it is. */
export function bannerText(text: string): string {
  const lines = text.replace(/\r/g, '').split('\n').map((l) => l.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 400));
  return lines.slice(0, 20).join('\r\n') + '\r\n';
}

/** Sends a userauth banner now (before authentication succeeds). False when ssh2's internals are not as expected. */
export function sendUserauthBanner(client: ssh2.Connection, text: string): boolean {
  const proto = protocolOf(client);
  const writer = proto?._packetRW?.write;
  if (!proto || !writer || typeof writer.alloc !== 'function' || typeof writer.finalize !== 'function') return false;
  const message = Buffer.from(bannerText(text), 'utf8');
  let p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + message.length + 4);
  packet[p] = MSG_USERAUTH_BANNER;
  packet.writeUInt32BE(message.length, ++p);
  message.copy(packet, (p += 4));
  packet.writeUInt32BE(0, p + message.length); // language tag: empty
  sendPacket(proto, writer.finalize(packet));
  return true;
}
