/**
 * The core's own principal check at connection time (`authorizeConnection`), apart from the SSH
 * certificate verifier: a certificate signed by our CA that names two devices of the same vendor
 * passes the verifier for either name, so only the core stands between a grant on A and device B.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../server/core/errors.js';
import { authorizeConnection } from '../../server/core/sessions.js';
import { parseCertificate, parsePublicKey, publicKeyToSshBlob, signUserCertificate, verifyUserCertificate } from '../../server/crypto/ssh-cert.js';
import { deployedDevice, sshKeygenPair } from '../support/fixtures.js';
import { startHarness, type Harness } from '../support/harness.js';
import { as, grantFor, world } from '../support/workflow-fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('authorizeConnection: the principal must be the granted device', () => {
  it('a CA-signed certificate for [A, B] issued for a grant on A reaches A, never B', async () => {
    const w = await world(h, { approvers: 1 });
    const adminAuth = await w.admin.auth();
    // B: same vendor and department, deployed — everything but the grant would let the technician in
    const b = await deployedDevice(h, adminAuth, { department: w.department, vendorIds: [w.vendor.id] });
    const grant = await grantFor(h, w);
    const key = sshKeygenPair();
    const issued = await as(h, w.tech).post(`/api/grants/${grant.id}/ssh-certificate`, { publicKey: key.publicKey });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    const serial = issued.body.serial as number;

    // our CA, the issued serial and key id, but two principals
    const now = h.clock.now();
    const { blob } = signUserCertificate({
      caKey: h.keys.sshUserCa, publicKey: parsePublicKey(key.publicKey), serial: BigInt(serial), keyId: grant.id,
      principals: [w.device.name, b.name], validAfter: new Date(now.getTime() - 60_000), validBefore: new Date(grant.endsAt), extensions: ['permit-pty'],
    });
    const caPublicKeyBlob = publicKeyToSshBlob(h.keys.sshUserCa);
    const forB = verifyUserCertificate(blob, { caPublicKeyBlob, principal: b.name, now });
    expect(forB.ok ? 'verified' : forB.reason).toBe('verified'); // the verifier lets it through: B is listed
    const cert = parseCertificate(blob);
    expect(cert.principals).toEqual([w.device.name, b.name]);

    const toB = await authorizeConnection(h.deps, { grantId: cert.keyId, principal: b.name, serial: Number(cert.serial) }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isAppError(toB), String(toB)).toBe(true);
    expect(toB).toMatchObject({ kind: 'unauthenticated', message: 'certificate principal does not match the grant' });

    // control: the same certificate and grant reach A
    const toA = await authorizeConnection(h.deps, { grantId: cert.keyId, principal: w.device.name, serial: Number(cert.serial) });
    expect(toA.device.id).toBe(w.device.id);
    expect(toA.grant.id).toBe(grant.id);
  });
});
