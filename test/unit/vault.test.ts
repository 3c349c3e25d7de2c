/**
 * The credential vault (AES-256-GCM). A nonce repeated under one key would leak the XOR of two
 * plaintexts and GCM's authentication key, so every seal must draw a fresh nonce, and the sealed
 * record must carry it (open() has nothing else to go on).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVault } from '../../server/crypto/vault.js';

const AAD = 'device:7f0c/service';

describe('the credential vault', () => {
  it('two seals of the same secret differ in nonce and ciphertext, and both open', () => {
    const vault = createVault(randomBytes(32));
    const secret = 'the same device password';
    const a = vault.seal(secret, AAD);
    const b = vault.seal(secret, AAD);
    expect(a.nonce).toHaveLength(12);
    expect(b.nonce).toHaveLength(12);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.authTag.equals(b.authTag)).toBe(false);
    expect(vault.open(a, AAD)).toBe(secret);
    expect(vault.open(b, AAD)).toBe(secret);
  });

  it('no nonce repeats over many seals (the same secret under different owners included)', () => {
    const vault = createVault(randomBytes(32));
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++) nonces.add(vault.seal('pw', `device:${i % 3}/service`).nonce.toString('hex'));
    expect(nonces.size).toBe(200);
  });

  it('the sealed record carries the nonce it was sealed with: another nonce does not open it', () => {
    const vault = createVault(randomBytes(32));
    const sealed = vault.seal('secret', AAD);
    expect(vault.open({ ...sealed, nonce: Buffer.from(sealed.nonce) }, AAD)).toBe('secret');
    const other = Buffer.from(sealed.nonce);
    other[0] = other[0]! ^ 1;
    expect(() => vault.open({ ...sealed, nonce: other }, AAD)).toThrow();
    expect(() => vault.open({ ...sealed, nonce: Buffer.alloc(12) }, AAD)).toThrow();
  });

  it('binds the ciphertext to its owner and detects tampering', () => {
    const vault = createVault(randomBytes(32));
    const sealed = vault.seal('secret', AAD);
    expect(() => vault.open(sealed, 'device:other/service')).toThrow();
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[0] = flipped[0]! ^ 1;
    expect(() => vault.open({ ...sealed, ciphertext: flipped }, AAD)).toThrow();
    expect(() => createVault(randomBytes(16))).toThrow(/32 bytes/);
  });
});
