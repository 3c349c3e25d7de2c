/**
 * A software WebAuthn authenticator for API-level tests: ES256 (P-256) keys from node:crypto, "none"
 * attestation, a signature counter, and the JSON shapes @simplewebauthn/browser sends. It signs whatever
 * challenge it is given for the origin it is told, like a real authenticator: the broker alone decides.
 * (The console's tests use Chromium's CDP virtual authenticator instead.)
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

// --- a minimal CBOR encoder: unsigned/negative integers, byte and text strings, maps --------------------
type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

function cbor(v: Cbor): Buffer {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([head(3, b.length), b]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

export interface SoftCredential {
  id: string;
  privateKey: KeyObject;
  counter: number;
  userHandle: string | null;
}

export interface CreationOptions {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string };
}

export interface RequestOptions {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string }[];
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];

  constructor(private readonly origin: string, private readonly rpId: string) {}

  /** navigator.credentials.create(): a new ES256 credential, as RegistrationResponseJSON */
  create(options: CreationOptions) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1],
      [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    const credentialId = randomBytes(16);
    const cred: SoftCredential = { id: b64url(credentialId), privateKey, counter: 0, userHandle: options.user.id };
    this.credentials.push(cred);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    // flags: user present (0x01), user verified (0x04), attested credential data (0x40)
    const authData = Buffer.concat([sha256(options.rp.id ?? this.rpId), Buffer.from([0x45]), Buffer.alloc(4),
      Buffer.alloc(16), idLength, credentialId, coseKey]);
    const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: this.origin, crossOrigin: false });
    return {
      id: cred.id, rawId: cred.id, type: 'public-key' as const, authenticatorAttachment: 'platform' as const, clientExtensionResults: {},
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal' as const] },
    };
  }

  /** navigator.credentials.get(): an assertion over the challenge, as AuthenticationResponseJSON */
  get(options: RequestOptions, opts: { credentialId?: string; origin?: string } = {}) {
    const allowed = options.allowCredentials?.map((c) => c.id);
    const cred = this.credentials.find((c) => (opts.credentialId ? c.id === opts.credentialId : !allowed?.length || allowed.includes(c.id)));
    if (!cred) throw new Error('no credential for these options');
    cred.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(cred.counter);
    const authenticatorData = Buffer.concat([sha256(options.rpId ?? this.rpId), Buffer.from([0x05]), counter]);
    const clientDataJSON = JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: opts.origin ?? this.origin, crossOrigin: false });
    const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), cred.privateKey);
    return {
      id: cred.id, rawId: cred.id, type: 'public-key' as const, authenticatorAttachment: 'platform' as const, clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authenticatorData), signature: b64url(signature),
        ...(cred.userHandle ? { userHandle: cred.userHandle } : {}),
      },
    };
  }
}
