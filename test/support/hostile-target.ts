/**
 * A real broker process to attack, and the checks that it survived. The API and the SSH proxy run
 * in one `node server/main.ts` process (ROLES=api,proxy, as `npm start` would run them), on a
 * database of its own so that its login throttling and audit chain touch no other test. The
 * in-process broker (api,worker) sets up the world; a real `ssh` session through the proxy to the
 * device sshd stays open throughout, to show that nobody else's session is disturbed.
 */
import { expect } from 'vitest';
import { createTestDatabase } from './databases.js';
import {
  certify, fetchRetry, grantFor, makeWorld, newKey, sessionsOf, spawnSsh, sshArgs, startE2E,
  type E2E, type GrantJson, type KeyPair, type Person, type SshProc, type World,
} from './ssh-e2e.js';
import { addUser } from './test-broker.js';

export interface HostileTarget {
  e: E2E;
  w: World;
  grant: GrantJson;
  key: KeyPair;
  /** the certificate line for `key` and `grant` (valid: a mutation starting point) */
  certificate: string;
  /** the target process's HTTP (API, WebSockets) and SSH ports */
  httpPort: number;
  sshPort: number;
  httpUrl: string;
  /** an auditor only the fuzzed HTTP requests use (a mutated request may log it out) */
  reader: Person;
  /** the live session the technician's ssh holds open */
  sessionId: string;
  ssh: SshProc;
  /** fails the test unless the process runs, /healthz answers 200 and the SSH session still echoes */
  assertSurvived(label: string): Promise<void>;
  stop(): Promise<void>;
}

let probe = 0;

export async function startHostileTarget(env: Record<string, string> = {}): Promise<HostileTarget> {
  const db = await createTestDatabase('portcullis_hostile');
  let e: E2E;
  try {
    e = await startE2E('split', { ROLES: 'api,proxy', DATABASE_URL: db.url, ...env });
  } catch (err) {
    await db.drop();
    throw err;
  }
  let ssh: SshProc | undefined;
  try {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    const { certificate } = await certify(w, grant, key);
    const reader = await addUser(e.broker, ['auditor']);
    ssh = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    ssh.write('echo ready-$((2+3))\n');
    await ssh.waitForOutput(/ready-5/, 20_000);
    const session = (await sessionsOf(w, grant.id)).find((s) => s.endedAt === null);
    if (!session) throw new Error('the technician\'s ssh session is not recorded as live');
    const httpUrl = e.proxyHttpUrl;
    const live = ssh;
    return {
      e, w, grant, key, certificate, reader, ssh: live, sessionId: session.id, httpUrl,
      httpPort: Number(new URL(httpUrl).port), sshPort: e.sshPort,
      async assertSurvived(label) {
        const health = await fetchRetry(`${httpUrl}/healthz`).then((r) => r.status, (err: Error) => err.message);
        const tail = () => e.proxyLog().slice(-4000);
        expect(health, `${label}: /healthz (broker process ${e.proxyAlive() ? 'running' : 'exited'})\n${tail()}`).toBe(200);
        expect(e.proxyAlive(), `${label}: the broker process exited\n${tail()}`).toBe(true);
        const n = ++probe;
        const from = live.mark();
        live.write(`echo alive-$((${n}*1000+7))\n`);
        await live.waitForOutput(new RegExp(`alive-${n * 1000 + 7}`), 10_000, from);
      },
      async stop() {
        live.kill();
        await e.stop();
        await db.drop();
      },
    };
  } catch (err) {
    ssh?.kill();
    await e.stop();
    await db.drop();
    throw err;
  }
}
