/**
 * Vaulted device credentials as PostgreSQL stores them: each row carries its own 96-bit nonce, and
 * the same password sealed for two devices, or sealed again on rotation, never repeats a nonce or a
 * ciphertext (AES-GCM under one key with a repeated nonce leaks plaintext XORs and its auth key).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDeviceCredential } from '../../server/core/sessions.js';
import { createDevice } from '../support/fixtures.js';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';

interface StoredRow { device_id: string; nonce: Buffer; ciphertext: Buffer; auth_tag: Buffer }

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const stored = async (deviceIds: string[]): Promise<StoredRow[]> =>
  (await h.pool.query('SELECT device_id, nonce, ciphertext, auth_tag FROM device_credentials WHERE device_id = ANY($1)', [deviceIds])).rows;

describe('vaulted credentials in the database', () => {
  it('the same password on two devices and after a rotation: a fresh nonce and ciphertext in every row', async () => {
    const admin = (await makeUser(h, ['admin'])).auth;
    const password = unique('shared-service-password');
    const credential = { username: 'service', password };
    const a = await createDevice(h, admin, { credential });
    const b = await createDevice(h, admin, { credential });

    const [rowA, rowB] = await stored([a.id, b.id]).then((rows) => [a.id, b.id].map((id) => rows.find((r) => r.device_id === id)!));
    for (const r of [rowA!, rowB!]) {
      expect(r.nonce).toHaveLength(12);
      expect(r.ciphertext.toString('utf8')).not.toContain(password);
    }
    expect(rowA!.nonce.equals(rowB!.nonce)).toBe(false);
    expect(rowA!.ciphertext.equals(rowB!.ciphertext)).toBe(false);

    // rotated to the very same password: sealed again, with a new nonce
    const rotated = await h.http.patch(`/api/devices/${a.id}`).set(admin).send({ credential });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const [again] = await stored([a.id]);
    expect(again!.nonce).toHaveLength(12);
    expect(again!.nonce.equals(rowA!.nonce)).toBe(false);
    expect(again!.ciphertext.equals(rowA!.ciphertext)).toBe(false);

    // what is stored is all it takes to open each one (the nonce travels with the ciphertext)
    expect(await openDeviceCredential(h.deps, a.id)).toEqual({ username: 'service', kind: 'password', secret: password });
    expect(await openDeviceCredential(h.deps, b.id)).toEqual({ username: 'service', kind: 'password', secret: password });
  });
});
