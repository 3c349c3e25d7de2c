/** The audit checkpoint key (Ed25519, node:crypto): signs and verifies checkpoint messages. */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { CheckpointKey } from '../core/ports.js';

export function createCheckpointKey(privateKey: KeyObject): CheckpointKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the audit checkpoint key must be an ed25519 key');
  const publicKey = createPublicKey(privateKey);
  // SPKI DER of an Ed25519 key is a fixed 12-byte prefix and the 32 raw key bytes
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    publicKey: raw.toString('base64'),
    sign: (message) => sign(null, message, privateKey).toString('base64'),
    verify(message, signature) {
      const bytes = Buffer.from(signature, 'base64');
      // only the canonical base64 of exactly 64 bytes: no second spelling of one signature
      if (bytes.length !== 64 || bytes.toString('base64') !== signature) return false;
      return verify(null, message, publicKey, bytes);
    },
  };
}
