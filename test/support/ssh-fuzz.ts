/**
 * Hostile SSH input for the fuzz suite, over raw TCP to the proxy's port:
 * - the plaintext start of a valid client handshake (version line, KEXINIT, ECDH init, and what
 *   may follow it), built here byte by byte, then mutated;
 * - certificate publickey authentication requests after a real key exchange: ssh2's client does
 *   the handshake, and its Protocol's authPK is replaced, for that one connection, by one that
 *   writes the request the way OpenSSH does (as proxy/ssh2-cert-auth.ts) with a field
 *   mutated (the request then signed as it stands, so the proxy has to judge the content) or the
 *   packet's bytes mutated after signing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import ssh2 from 'ssh2';
import { mutate, type Rng } from './fuzz-mutate.js';

const require = createRequire(import.meta.url);
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket(proto: unknown, packet: Buffer): void };

const MSG = { DISCONNECT: 1, IGNORE: 2, DEBUG: 4, SERVICE_REQUEST: 5, KEXINIT: 20, NEWKEYS: 21, KEX_ECDH_INIT: 30, USERAUTH_REQUEST: 50, CHANNEL_OPEN: 90 } as const;

export const sshString = (v: string | Buffer) => {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** An unencrypted SSH binary packet (RFC 4253 6) around `payload`. */
export function sshPacket(rng: Rng, payload: Buffer): Buffer {
  let padding = 8 - ((5 + payload.length) % 8);
  if (padding < 4) padding += 8;
  return Buffer.concat([u32(1 + payload.length + padding), Buffer.from([padding]), payload, rng.bytes(padding)]);
}

function kexinit(rng: Rng): Buffer {
  const lists = [
    'curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com',
    'ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256',
    'aes128-gcm@openssh.com,aes128-ctr,chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com,aes128-ctr,chacha20-poly1305@openssh.com',
    'hmac-sha2-256-etm@openssh.com,hmac-sha2-256', 'hmac-sha2-256-etm@openssh.com,hmac-sha2-256',
    'none,zlib@openssh.com', 'none,zlib@openssh.com', '', '',
  ];
  return Buffer.concat([Buffer.from([MSG.KEXINIT]), rng.bytes(16), ...lists.map((l) => sshString(l)), Buffer.from([rng.chance(0.1) ? 1 : 0]), u32(0)]);
}

const x25519Public = (): Buffer => {
  const { publicKey } = generateKeyPairSync('x25519');
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
};

/** What a client sends in the clear at the start of a connection, with variations; often mutated. */
export function clientHandshake(rng: Rng, certificateBlob: Buffer): Buffer {
  const version = rng.pick(['SSH-2.0-OpenSSH_9.6\r\n', 'SSH-2.0-fuzz\r\n', 'SSH-1.99-x\r\n', 'SSH-2.0-x\n', 'SSH-1.5-old\r\n',
    `SSH-2.0-${'v'.repeat(300)}\r\n`, 'a banner line first\r\nSSH-2.0-x\r\n', 'SSH-2.0-\0\r\n', '\r\n'.repeat(50) + 'SSH-2.0-x\r\n']);
  const parts = [Buffer.from(version), sshPacket(rng, kexinit(rng))];
  const tail = rng.int(6);
  if (tail >= 1) parts.push(sshPacket(rng, Buffer.concat([Buffer.from([MSG.KEX_ECDH_INIT]), sshString(rng.chance(0.8) ? x25519Public() : rng.bytes(rng.pick([0, 31, 33, 65])))])));
  if (tail === 2) parts.push(sshPacket(rng, Buffer.from([MSG.NEWKEYS])), rng.bytes(rng.int(200)));
  if (tail === 3) parts.push(sshPacket(rng, Buffer.concat([Buffer.from([MSG.IGNORE]), sshString(rng.bytes(rng.int(100)))])),
    sshPacket(rng, Buffer.concat([Buffer.from([MSG.SERVICE_REQUEST]), sshString('ssh-userauth')])));
  if (tail === 4) {
    // an authentication request in the clear, before keys are agreed
    parts.push(sshPacket(rng, Buffer.concat([Buffer.from([MSG.USERAUTH_REQUEST]), sshString('dev'), sshString('ssh-connection'), sshString('publickey'),
      Buffer.from([0]), sshString('ssh-ed25519-cert-v01@openssh.com'), sshString(certificateBlob)])));
  }
  if (tail === 5) {
    parts.push(sshPacket(rng, Buffer.concat([Buffer.from([rng.pick([MSG.DISCONNECT, MSG.DEBUG, MSG.CHANNEL_OPEN, 0, 255])]), rng.bytes(rng.int(64))])));
  }
  const bytes = Buffer.concat(parts);
  return rng.chance(0.75) ? mutate(rng, bytes) : bytes;
}

export interface CertificateCredentials {
  port: number;
  /** the principal (device name) */
  username: string;
  /** the `<type>-cert-v01@openssh.com <base64>` line */
  certificateLine: string;
  privateKey: string;
}

export interface CertAuthOutcome {
  /** how the connection ended: 'accepted', 'timeout' or the client's error text */
  end: string;
  /** authentication requests sent */
  requests: number;
  /** an accepted authentication whose request had a field mutated (must never happen): what was bent, and how */
  acceptedMutated: string | null;
}

type Field = 'user' | 'service' | 'method' | 'algo' | 'blob' | 'sigAlgo' | 'signature';
const FIELDS: Field[] = ['user', 'service', 'method', 'algo', 'blob', 'blob', 'blob', 'sigAlgo', 'signature'];

/**
 * One connection that makes up to `attempts` certificate authentication attempts, each (mostly)
 * mutated; resolves once the proxy accepts, refuses for good or closes, or after `timeoutMs`.
 */
export function fuzzCertificateAuth(rng: Rng, creds: CertificateCredentials, attempts: number, timeoutMs: number): Promise<CertAuthOutcome> {
  const key = ssh2.utils.parseKey(creds.privateKey);
  if (key instanceof Error || Array.isArray(key)) throw new Error('unreadable private key');
  const [algo, b64] = creds.certificateLine.trim().split(/\s+/) as [string, string];
  const valid = { user: creds.username, service: 'ssh-connection', method: 'publickey', algo, blob: Buffer.from(b64, 'base64'), sigAlgo: algo.replace('-cert-v01@openssh.com', '') };
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    let requests = 0;
    let tried = 0;
    let mutatedField: Field | 'bytes' | null = null;
    let settled = false;
    const done = (end: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.end();
      setImmediate(() => (c as unknown as { destroy(): void }).destroy());
      const bent = end === 'accepted' && mutatedField && mutatedField !== 'service';
      resolve({ end, requests, acceptedMutated: bent ? `${mutatedField}: ${lastSigned ? `sent ${lastSigned.bent} for ${lastSigned.valid}` : ''}` : null });
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    c.on('ready', () => done('accepted'));
    c.on('error', (err) => done(err.message));
    c.on('close', () => done('closed'));
    c.connect({
      host: '127.0.0.1', port: creds.port, username: creds.username, readyTimeout: timeoutMs, hostVerifier: () => true,
      authHandler: () => (tried++ < attempts ? ({ type: 'publickey', username: creds.username, key } as ssh2.PublicKeyAuthMethod) : false),
    });
    // this connection's requests, written as OpenSSH writes them, with something mutated
    let fields = valid as Record<Field, string | Buffer> & typeof valid;
    /** the last signed request as built and as sent (hex), to explain a finding */
    let lastSigned: { valid: string; bent: string } | null = null;
    /** which of the attempt's two requests has its bytes bent, if any */
    let byteMutation: 'query' | 'signed' | null = null;
    const proto = (c as unknown as { _protocol: { authPK: unknown; _packetRW: { write: { alloc(n: number): Buffer; allocStart: number; finalize(p: Buffer): Buffer } }; _authsQueue: string[]; _kex: { sessionID: Buffer } } })._protocol;
    proto.authPK = (_user: string, _key: unknown, keyAlgo: unknown, cbSign?: (data: Buffer, cb: (signature: Buffer) => void) => void) => {
      if (typeof keyAlgo === 'function') cbSign = keyAlgo as typeof cbSign;
      if (!cbSign) {
        // a new attempt: decide what is bent in it
        fields = { ...valid } as typeof fields;
        byteMutation = null;
        mutatedField = null;
        const plan = rng.int(20);
        if (plan < 12) {
          const f = rng.pick(FIELDS);
          if (f === 'signature') mutatedField = f;
          else {
            const original = typeof valid[f] === 'string' ? Buffer.from(valid[f] as string) : (valid[f] as Buffer);
            const bent = mutate(rng, original, 3);
            (fields as Record<string, unknown>)[f] = bent;
            if (!bent.equals(original)) mutatedField = f;
          }
        } else if (plan < 19) byteMutation = rng.chance(0.3) ? 'query' : 'signed';
      }
      const body = (signed: boolean) => Buffer.concat([
        Buffer.from([MSG.USERAUTH_REQUEST]), sshString(fields.user), sshString(fields.service), sshString(fields.method),
        Buffer.from([signed ? 1 : 0]), sshString(fields.algo), sshString(fields.blob),
      ]);
      const send = (payload: Buffer, which: 'query' | 'signed') => {
        requests++;
        const bent = byteMutation === which ? Buffer.concat([payload.subarray(0, 1), mutate(rng, payload.subarray(1), 3)]) : payload;
        // only what the signed request carries decides: a bent query that was still answered is harmless,
        // and so are bytes after a complete request (ssh2 ignores them; the signed content is intact)
        const intact = bent.length >= payload.length && bent.subarray(0, payload.length).equals(payload);
        if (byteMutation) mutatedField = intact || which === 'query' ? null : 'bytes';
        if (which === 'signed') lastSigned = { valid: payload.toString('hex'), bent: bent.toString('hex') };
        const w = proto._packetRW.write;
        const packet = w.alloc(bent.length);
        bent.copy(packet, w.allocStart);
        sendPacket(proto, w.finalize(packet));
      };
      if (!cbSign) {
        proto._authsQueue.push('publickey');
        return send(body(false), 'query');
      }
      const unsigned = body(true);
      cbSign(Buffer.concat([sshString(proto._kex.sessionID), unsigned]), (signature: Buffer) => {
        proto._authsQueue.push('publickey');
        let sig = signature;
        if (mutatedField === 'signature') {
          sig = mutate(rng, signature, 3);
          if (sig.equals(signature)) mutatedField = null;
        }
        send(Buffer.concat([unsigned, sshString(Buffer.concat([sshString(fields.sigAlgo), sshString(sig)]))]), 'signed');
      });
    };
  });
}
