/**
 * An ssh2 *client* that presents an OpenSSH user certificate — for the memory measurement only, where
 * 1,000 OpenSSH processes would cost more than the proxy being measured.
 *
 * ssh2 1.17 cannot do this as shipped: given a key of type `ssh-ed25519-cert-v01@openssh.com` it would
 * put the certificate's algorithm name inside the signature blob too, where PROTOCOL.certkeys (and
 * OpenSSH, and our proxy) expect the plain algorithm (`ssh-ed25519`). So the benchmark replaces
 * Protocol#authPK for keys marked as certificates with a version that writes the request the way
 * OpenSSH does; every other key takes ssh2's own code. Nothing here is used by the product.
 */
import { createRequire } from 'node:module';
import ssh2 from 'ssh2';

const require = createRequire(import.meta.url);
const Protocol = require('ssh2/lib/protocol/Protocol.js');
const { sendPacket } = require('ssh2/lib/protocol/utils.js');

const CERT = Symbol('bench certificate');
const USERAUTH_REQUEST = 50;

const str = (v: string | Buffer) => {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

interface CertKey {
  [CERT]: { algo: string; baseAlgo: string; blob: Buffer };
  sign(data: Buffer, hash?: string): Buffer | Error;
}

let patched = false;
function patchProtocol(): void {
  if (patched) return;
  patched = true;
  const original = Protocol.prototype.authPK;
  Protocol.prototype.authPK = function (this: any, username: string, key: any, keyAlgo: any, cbSign?: any) {
    const cert = (key as CertKey | undefined)?.[CERT];
    if (!cert) return original.call(this, username, key, keyAlgo, cbSign);
    if (typeof keyAlgo === 'function') cbSign = keyAlgo;
    const body = (signed: boolean) => Buffer.concat([
      Buffer.from([USERAUTH_REQUEST]), str(username), str('ssh-connection'), str('publickey'),
      Buffer.from([signed ? 1 : 0]), str(cert.algo), str(cert.blob),
    ]);
    const send = (payload: Buffer) => {
      const w = this._packetRW.write;
      const packet = w.alloc(payload.length);
      payload.copy(packet, w.allocStart);
      sendPacket(this, w.finalize(packet));
    };
    if (!cbSign) {
      this._authsQueue.push('publickey');
      return send(body(false));
    }
    const unsigned = body(true);
    cbSign(Buffer.concat([str(this._kex.sessionID), unsigned]), (signature: Buffer) => {
      this._authsQueue.push('publickey');
      send(Buffer.concat([unsigned, str(Buffer.concat([str(cert.baseAlgo), str(signature)]))]));
    });
  };
}

/** An ssh2 parsed private key that authenticates as its certificate (`<key>-cert.pub` text). */
export function certificateKey(privateKey: string, certificateLine: string): ssh2.ParsedKey {
  patchProtocol();
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('unreadable private key');
  const [algo, b64] = certificateLine.trim().split(/\s+/);
  if (!algo.endsWith('-cert-v01@openssh.com')) throw new Error(`not a certificate: ${algo}`);
  // inherits the parsed key (ssh2 recognises it as parsed and signs with it); only the identity differs
  return Object.create(parsed, {
    [CERT]: { value: { algo, baseAlgo: algo.replace('-cert-v01@openssh.com', ''), blob: Buffer.from(b64, 'base64') } },
  });
}
