import { generateKeyPairSync } from 'node:crypto';
import { publicKeyToSshLine } from '../../server/crypto/ssh-cert.js';
/**
 * Small builders shared by the API tests: vendors and devices created through the HTTP API (so the
 * audit trail is the real one), real SSH keys from ssh-keygen, and row counts for "nothing written".
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { Pool } from '../../server/db/pool.js';
import { unique, type Harness } from './harness.js';

export type Auth = { Authorization: string };

/** An OpenSSH public key line usable as a device's pinned host key. */
export function newHostKey(): string {
  // node's generator, not ssh2's: ssh2 1.17 now and then emits an ed25519 key its own parser refuses
  return publicKeyToSshLine(generateKeyPairSync('ed25519').publicKey);
}

/** A fresh unencrypted ed25519 key pair from the real ssh-keygen. */
export function sshKeygenPair(): { privateKey: string; publicKey: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-keygen-'));
  try {
    const file = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'device@test', '-f', file], { stdio: 'ignore' });
    return { privateKey: fs.readFileSync(file, 'utf8'), publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function createVendor(h: Harness, auth: Auth, overrides: Record<string, unknown> = {}) {
  const res = await h.http
    .post('/api/vendors')
    .set(auth)
    .send({ name: unique('Vendor'), contractRef: unique('C'), contractEnd: '2099-12-31', ...overrides });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; name: string; contractRef: string; contractEnd: string };
}

/** A valid POST /api/devices body with a unique name; override any field. */
export function deviceBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: unique('dev').toLowerCase(),
    manufacturer: 'Acme Medical',
    model: 'Infusion 3000',
    firmwareBaseline: '4.2.1',
    department: unique('dept'),
    clinicalPurpose: 'infusion pump on ward 5',
    criticality: 'medium',
    address: '10.0.0.5',
    ...overrides,
  };
}

export interface DeviceJson {
  id: string;
  name: string;
  department: string;
  lifecycleState: string;
  hostKey: string | null;
  hasCredential: boolean;
  vendorIds: string[];
  policy: { approvalsRequired: number; approverDepartment: string; allowExec: boolean; allowPortForwarding: boolean; allowSftp: boolean };
  retiredAt: string | null;
}

export async function createDevice(h: Harness, auth: Auth, overrides: Record<string, unknown> = {}): Promise<DeviceJson> {
  const res = await h.http.post('/api/devices').set(auth).send(deviceBody(overrides));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as DeviceJson;
}

/** A device with host key and password credential, moved to deployed. */
export async function deployedDevice(h: Harness, auth: Auth, overrides: Record<string, unknown> = {}): Promise<DeviceJson> {
  const d = await createDevice(h, auth, {
    hostKey: newHostKey(),
    credential: { username: 'service', password: unique('pw') },
    ...overrides,
  });
  const res = await h.http.post(`/api/devices/${d.id}/lifecycle`).set(auth).send({ state: 'deployed', reason: 'go live' });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as DeviceJson;
}

/** Row counts of the given tables, to prove a refused call wrote nothing. */
export async function countRows(pool: Pool, tables: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${t}`);
    out[t] = rows[0].n as number;
  }
  return out;
}

/** Asserts the standard error envelope and returns it. */
export function expectError(res: { status: number; body: unknown }, status: number, code?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  const body = res.body as { error?: { code?: unknown; message?: unknown } };
  expect(typeof body.error?.code).toBe('string');
  expect(typeof body.error?.message).toBe('string');
  expect((body.error!.message as string).length).toBeGreaterThan(0);
  if (code) expect(body.error!.code).toBe(code);
  return body.error as { code: string; message: string; details?: unknown };
}
