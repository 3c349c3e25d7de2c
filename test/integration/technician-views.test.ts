/**
 * Technicians see no infrastructure behind the proxy: no device network address, port or host key, no
 * recording file path, and an SSH command that names the broker. Admins, auditors and approvers still
 * see the full records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionStart } from '../../server/core/sessions.js';
import { sshKeygenPair } from '../support/fixtures.js';
import { startHarness, type Harness } from '../support/harness.js';
import { as, grantFor, world } from '../support/workflow-fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const DEVICE_ADDRESS = '10.77.1.23';
const RECORDINGS = '/srv/portcullis-recordings';

describe('technician views', () => {
  it('devices, sessions and certificates carry no device address and no recording path', async () => {
    const w = await world(h, { approvers: 1, device: { address: DEVICE_ADDRESS, sshPort: 2200, policy: { approvalsRequired: 1 } } });
    const grant = await grantFor(h, w);
    // a session as the proxy records it
    const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
    const { session } = await recordSessionStart(h.deps, conn, {
      channel: 'shell', command: null, clientAddress: '192.0.2.7', proxyInstance: 'views-test', recordingPath: (id) => `${RECORDINGS}/${id}.cast`,
    });
    const tech = as(h, w.tech);

    const paths: [string, string, object?][] = [
      ['get', '/api/devices'], ['get', `/api/devices/${w.device.id}`], ['get', '/api/sessions'], ['get', `/api/sessions/${session.id}`],
      ['get', '/api/grants'], ['get', `/api/grants/${grant.id}`], ['get', '/api/access-requests'], ['get', `/api/access-requests/${grant.requestId}`],
      ['post', `/api/grants/${grant.id}/ssh-certificate`, { publicKey: sshKeygenPair().publicKey }],
    ];
    const reads = [];
    for (const [method, path, body] of paths) {
      const r = method === 'get' ? await tech.get(path) : await tech.post(path, body);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
      const text = JSON.stringify(r.body);
      expect(text, path).not.toContain(DEVICE_ADDRESS);
      expect(text, path).not.toContain(RECORDINGS);
      reads.push(r);
    }
    const [list, one, , sessionRead] = reads;
    expect(list!.body.items.find((d: { id: string }) => d.id === w.device.id)).not.toHaveProperty('address');
    expect(one!.body).not.toHaveProperty('sshPort');
    expect(one!.body).not.toHaveProperty('hostKey');
    expect(one!.body).toMatchObject({ name: w.device.name, lifecycleState: 'deployed' });
    expect(sessionRead!.body.recording).toMatchObject({ sessionId: session.id });
    expect(sessionRead!.body.recording).not.toHaveProperty('path');
    // the command names the broker's proxy, never the device
    expect(reads.at(-1)!.body.sshCommand).toContain(`${w.device.name}@${h.deps.sshEndpoint.host}`);

    // the people who run the place still see everything
    const admin = as(h, w.admin);
    expect((await admin.get(`/api/devices/${w.device.id}`)).body).toMatchObject({ address: DEVICE_ADDRESS, sshPort: 2200 });
    expect((await admin.get(`/api/sessions/${session.id}`)).body.recording.path).toBe(`${RECORDINGS}/${session.id}.cast`);
    expect((await as(h, w.approvers[0]!).get(`/api/devices/${w.device.id}`)).body.address).toBe(DEVICE_ADDRESS);
  });
});
