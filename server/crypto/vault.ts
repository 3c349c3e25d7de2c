/**
 * The credential vault: AES-256-GCM, a fresh random 96-bit nonce per secret, and associated data
 * that binds each ciphertext to its owner (a ciphertext copied to another device fails to open).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SealedSecret, Vault } from '../core/ports.js';

export function createVault(key: Buffer): Vault {
  if (key.length !== 32) throw new Error('vault key must be 32 bytes');
  return {
    seal(plaintext, associatedData) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(associatedData, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { nonce, ciphertext, authTag: cipher.getAuthTag() };
    },
    open(sealed: SealedSecret, associatedData) {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.nonce);
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(sealed.authTag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
    },
  };
}
