/**
 * OpenSSH user-certificate authentication for ssh2's *client* (ssh2 issues #551, #808, #1495): the proxy
 * presents a device-CA certificate to a device's sshd with it, and tests present technicians'
 * certificates to the proxy.
 *
 * ssh2 1.17 cannot do this as shipped: given a key of type `ssh-ed25519-cert-v01@openssh.com` it would
 * put the certificate's algorithm name inside the signature blob too, where PROTOCOL.certkeys (and
 * OpenSSH, and our proxy) expect the plain algorithm (`ssh-ed25519`). So Protocol#authPK is replaced,
 * for keys made by `certificateKey` only, with a version that writes the request the way OpenSSH does;
 * every other key takes ssh2's own code. The internals it needs come from ssh2-internals.ts.
 */
import ssh2 from 'ssh2';
import { Ssh2Protocol, sendRawPayload, type ClientProtocolInternals } from './ssh2-internals.js';

const CERT = Symbol('openssh certificate');
const CERT_SUFFIX = '-cert-v01@openssh.com';
const USERAUTH_REQUEST = 50;

const str = (v: string | Buffer) => {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

interface Certificate {
  algo: string;
  baseAlgo: string;
  blob: Buffer;
}

type SignCallback = (data: Buffer, done: (signature: Buffer) => void) => void;
type AuthPK = (this: ClientProtocolInternals, username: string, key: unknown, keyAlgo?: string | SignCallback, cbSign?: SignCallback) => void;

let patched = false;
function patchProtocol(): void {
  if (patched) return;
  patched = true;
  const original = Ssh2Protocol.prototype.authPK as AuthPK;
  const authPK: AuthPK = function (this, username, key, keyAlgo, cbSign) {
    const cert = (key as { [CERT]?: Certificate } | undefined)?.[CERT];
    if (!cert) return original.call(this, username, key, keyAlgo, cbSign);
    if (typeof keyAlgo === 'function') cbSign = keyAlgo;
    const body = (signed: boolean) => Buffer.concat([
      Buffer.from([USERAUTH_REQUEST]), str(username), str('ssh-connection'), str('publickey'),
      Buffer.from([signed ? 1 : 0]), str(cert.algo), str(cert.blob),
    ]);
    if (!cbSign) {
      this._authsQueue.push('publickey');
      return sendRawPayload(this, body(false));
    }
    const unsigned = body(true);
    cbSign(Buffer.concat([str(this._kex.sessionID), unsigned]), (signature: Buffer) => {
      this._authsQueue.push('publickey');
      // the signature is labelled with the plain key's algorithm, as PROTOCOL.certkeys says
      sendRawPayload(this, Buffer.concat([unsigned, str(Buffer.concat([str(cert.baseAlgo), str(signature)]))]));
    });
  };
  Ssh2Protocol.prototype.authPK = authPK;
}

/**
 * An ssh2 parsed private key that authenticates as its certificate (the `<key>-cert.pub` line). Use it
 * as `authHandler: [{ type: 'publickey', username, key }]`.
 */
export function certificateKey(privateKey: string, certificateLine: string): ssh2.ParsedKey {
  patchProtocol();
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('unreadable private key');
  const [algo = '', b64 = ''] = certificateLine.trim().split(/\s+/);
  if (!algo.endsWith(CERT_SUFFIX)) throw new Error(`not a certificate: ${algo.slice(0, 60)}`);
  // inherits the parsed key (ssh2 recognises it as parsed and signs with it); only the identity differs
  return Object.create(parsed, {
    [CERT]: { value: { algo, baseAlgo: algo.slice(0, -CERT_SUFFIX.length), blob: Buffer.from(b64, 'base64') } satisfies Certificate },
  }) as ssh2.ParsedKey;
}
