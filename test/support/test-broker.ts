/**
 * A whole broker in this process (api, proxy, worker) on the run's PostgreSQL, on free ports, with
 * its own data directory: what `npm start` runs, minus the embedded database. Plus a small JSON
 * client for its API.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { pino } from 'pino';
import { startBroker, type Broker } from '../../server/broker.js';
import { loadConfig } from '../../server/config.js';
import { ApiClient } from './api-client.js';

export { ApiClient };

export interface TestBroker extends Broker {
  dataDir: string;
  api: ApiClient;
  logLines: string[];
}

export async function startTestBroker(env: Record<string, string> = {}): Promise<TestBroker> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-broker-'));
  const config = loadConfig({
    DATABASE_URL: inject('databaseUrl'), DATA_DIR: dataDir, PORT: '0', SSH_PORT: '0', HOST: '127.0.0.1',
    PUBLIC_URL: 'http://127.0.0.1', ADMIN_PASSWORD: 'admin-password-for-tests', LOG_LEVEL: 'debug',
    // test brokers share the run's database but not their keys: each keeps its jobs to itself, as
    // separate deployments would (a job signed or sealed with one broker's keys fails in another's worker)
    JOB_QUEUE_PREFIX: `tb-${path.basename(dataDir).replace(/[^A-Za-z0-9_-]/g, '')}-`,
    // no role must enrol a second factor unless the test's env says so (MFA tests opt in)
    MFA_REQUIRED_ROLES: '', ...env,
  });
  const logLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logLines.push(s) });
  const broker = await startBroker(config, log);
  const api = new ApiClient(broker.httpUrl!, () => logLines.filter((l) => /"level":(50|60)/.test(l)));
  const stopBroker = broker.stop;
  return Object.assign(broker, {
    dataDir, api, logLines,
    async stop() {
      await stopBroker();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  });
}


let counter = 0;

/** A user inserted straight into the broker's store, with a bearer token for the API. */
export async function addUser(
  broker: Broker,
  roles: ('admin' | 'approver' | 'auditor' | 'technician')[],
  extra: { vendorId?: string; department?: string } = {},
): Promise<{ id: string; username: string; token: string }> {
  const username = `${roles[0]}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const user = await broker.deps.store.transaction((tx) =>
    tx.users.insert({
      username, displayName: `E2E ${roles.join('/')} ${counter}`, roles, vendorId: extra.vendorId ?? null,
      department: extra.department ?? null, slackUserId: null, passwordHash: 'unusable',
    }),
  );
  const { token } = await broker.deps.tokens.issueSessionToken(user.id);
  return { id: user.id, username, token };
}
