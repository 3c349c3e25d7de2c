/**
 * An in-process broker for tests: real PostgreSQL (the run's database unless one is given), real
 * keys in a temp dir, the real express app driven through supertest, and a settable fake clock.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { inject } from 'vitest';
import { pino } from 'pino';
import type { Clock } from '../../server/core/clock.js';
import type { CoreDeps } from '../../server/core/ports.js';
import type { RoleName, User } from '../../server/core/types.js';
import { createCertificateAuthority } from '../../server/crypto/certificate-authority.js';
import { publicKeyToSshLine } from '../../server/crypto/ssh-cert.js';
import { hostKeyLine, loadKeys, type KeyMaterial } from '../../server/crypto/keys.js';
import { scryptHasher } from '../../server/crypto/passwords.js';
import { createTokenIssuer } from '../../server/crypto/tokens.js';
import { createVault } from '../../server/crypto/vault.js';
import { createCheckpointKey } from '../../server/crypto/checkpoint-key.js';
import { createPool, type Pool } from '../../server/db/pool.js';
import { createStore } from '../../server/db/store.js';
import { createApp } from '../../server/http/app.js';
import type { HttpDeps } from '../../server/http/deps.js';
import { createMetrics } from '../../server/metrics.js';
import { FakeScheduler, MemoryBus, RecordingNotifier } from './fakes.js';
import { SettableDeviceTester } from './device-tester-fake.js';
import { createDeviceKeys } from '../../server/crypto/device-keys.js';
import { createDeviceShell } from '../../proxy/device-shell.js';

export class FakeClock implements Clock {
  constructor(private t = new Date()) {}
  now() {
    return new Date(this.t);
  }
  set(d: Date) {
    this.t = new Date(d);
  }
  advance(ms: number) {
    this.t = new Date(this.t.getTime() + ms);
  }
}

export interface Harness {
  pool: Pool;
  scheduler: FakeScheduler;
  bus: MemoryBus;
  notifier: RecordingNotifier;
  /** the device connection test: passes unless a test sets an outcome or the real tester */
  deviceTester: SettableDeviceTester;
  deps: HttpDeps;
  keys: KeyMaterial;
  clock: FakeClock;
  http: ReturnType<typeof supertest>;
  /** captured log lines (JSON) */
  logLines: string[];
  close(): Promise<void>;
}

export async function startHarness(opts: { databaseUrl?: string } = {}): Promise<Harness> {
  const pool = createPool(opts.databaseUrl ?? inject('databaseUrl'), 5);
  const keysDir = await fs.mkdtemp(path.join(os.tmpdir(), 'portcullis-keys-'));
  const keys = await loadKeys(keysDir);
  const clock = new FakeClock();
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logLines.push(s) });
  const core: CoreDeps = {
    store: createStore(pool),
    clock,
    vault: createVault(keys.vaultKey),
    passwords: scryptHasher,
    tokens: createTokenIssuer({ signing: keys.tokenSigning, verifying: keys.tokenVerifying }, 60, clock),
    policy: { loginMaxFailures: 3, loginMaxFailuresPerAddress: 20, loginAccountLockSources: 3, loginLockoutMinutes: 15, requestTtlHours: 24, credentialMaxAgeDays: 30 },
    scheduler: new FakeScheduler(),
    bus: new MemoryBus(),
    notifier: new RecordingNotifier(),
    problems: { warn: (ctx, msg) => logger.warn(ctx, msg) },
    ca: createCertificateAuthority(keys.sshUserCa),
    sshEndpoint: { host: '127.0.0.1', port: 2222, hostKeyLine: hostKeyLine(keys.sshHostKey), hostCaLine: publicKeyToSshLine(keys.sshHostCa) },
    checkpointKey: createCheckpointKey(keys.auditCheckpoint),
    deviceTester: new SettableDeviceTester(),
    deviceKeys: createDeviceKeys(keys.sshDeviceCa),
    deviceShell: createDeviceShell(),
    // nobody must enrol unless a test sets h.deps.mfa.requiredRoles; passkeys sign for the app's origin
    mfa: { requiredRoles: [], stepUpSeconds: 300, rpId: '127.0.0.1', rpName: 'Portcullis', origin: 'http://127.0.0.1' },
  };
  const deps: HttpDeps = {
    ...core,
    logger,
    metrics: createMetrics(),
    web: { cookieSecure: false, publicUrl: 'http://127.0.0.1' },
    healthy: async () => true,
    version: 'test',
  };
  const app = createApp(deps);
  return {
    pool, deps, keys, clock, logLines,
    scheduler: core.scheduler as FakeScheduler,
    bus: core.bus as MemoryBus,
    notifier: core.notifier as RecordingNotifier,
    deviceTester: core.deviceTester as SettableDeviceTester,
    http: supertest(app),
    async close() {
      await pool.end();
      await fs.rm(keysDir, { recursive: true, force: true });
    },
  };
}

export const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Creates a user directly in the store (bypassing the API) and returns a bearer token for it. */
export async function makeUser(
  h: Harness,
  roles: RoleName[],
  extra: { vendorId?: string; department?: string; password?: string } = {},
): Promise<{ user: User; token: string; password: string; auth: { Authorization: string } }> {
  const password = extra.password ?? `pw-${randomBytes(8).toString('hex')}`;
  const user = await h.deps.store.transaction((tx) =>
    tx.users.insert({
      username: unique(roles[0]!).toLowerCase(),
      displayName: `Test ${roles.join('/')}`,
      roles,
      vendorId: extra.vendorId ?? null,
      department: extra.department ?? null,
      slackUserId: null,
      passwordHash: '',
    }),
  );
  await h.pool.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.id, await scryptHasher.hash(password)]);
  const { token } = await h.deps.tokens.issueSessionToken(user.id);
  return { user, token, password, auth: { Authorization: `Bearer ${token}` } };
}
