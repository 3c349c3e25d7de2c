/**
 * A decision records how it was made: `api` for a bearer token (a script, an integration), `web` for
 * the console's session cookie — in the decision row and in its audit event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { requestAccess, world } from '../support/workflow-fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

async function recorded(requestId: string) {
  const { rows } = await h.pool.query(
    `SELECT d.channel, a.details ->> 'channel' AS audited FROM decisions d
       JOIN audit_events a ON a.subject_id = d.request_id::text AND a.action LIKE 'request.%' AND a.details ? 'channel'
      WHERE d.request_id = $1`, [requestId]);
  return rows;
}

describe('the channel of a decision', () => {
  it('a bearer token is the API; the console cookie is the web', async () => {
    const w = await world(h, { approvers: 1 });
    const viaApi = await requestAccess(h, w.tech, w.device.id);
    await h.http.post(`/api/access-requests/${viaApi.id}/approve`).set(await w.approvers[0]!.auth()).send({ comment: 'scripted' }).expect(200);
    expect(await recorded(viaApi.id)).toEqual([{ channel: 'api', audited: 'api' }]);

    const other = await world(h, { approvers: 1 });
    const viaConsole = await requestAccess(h, other.tech, other.device.id);
    const { token } = await h.deps.tokens.issueSessionToken(other.approvers[0]!.user.id);
    await h.http.post(`/api/access-requests/${viaConsole.id}/deny`)
      .set('Cookie', `portcullis_session=${token}`).set('X-Requested-With', 'portcullis').send({ comment: 'not today' }).expect(200);
    expect(await recorded(viaConsole.id)).toEqual([{ channel: 'web', audited: 'web' }]);
  });
});
