/**
 * Helpers for the SFTP end-to-end suites: the real `scp`/`sftp` through the proxy, an ssh2 SFTP client
 * presenting the technician's certificate, a scratch directory on the device, and the transfer records.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { expect } from 'vitest';
import { certificateKey } from '../../proxy/ssh2-cert-auth.js';
import { certify, sha256, uniq, type E2E, type GrantJson, type KeyPair, type World } from './ssh-e2e.js';

export interface TransferJson {
  id: string; sessionId: string; direction: 'upload' | 'download'; path: string; bytes: number; sha256: string | null;
  startedAt: string; endedAt: string; outcome: 'complete' | 'partial' | 'refused' | 'failed'; reason: string | null; declared: boolean | null;
}

/** OpenSSH options for scp/sftp through the proxy with the key's certificate. */
export function transferOptions(e: E2E, key: KeyPair): string[] {
  return ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5',
    '-o', 'IdentitiesOnly=yes', '-i', key.path, '-o', `CertificateFile=${key.certPath}`];
}

export interface Run { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion (killed after timeoutMs). */
export function run(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    if (input !== undefined) {
      p.stdin!.on('error', () => undefined);
      p.stdin!.end(input);
    }
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `sftp -b -` through the proxy with the given batch commands. */
export const sftpBatch = (e: E2E, key: KeyPair, device: string, batch: string) =>
  run('sftp', ['-b', '-', '-P', String(e.sshPort), ...transferOptions(e, key), `${device}@127.0.0.1`], batch);

/** `scp` (SFTP mode unless `-O` is among extra) through the proxy. */
export const scp = (e: E2E, key: KeyPair, extra: string[], from: string, to: string) =>
  run('scp', ['-q', '-P', String(e.sshPort), ...transferOptions(e, key), ...extra, from, to]);

/** A directory on the device (the device's login user may write it), removed with the test's scratch directory. */
export async function deviceDir(e: E2E, name = 'dev'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `pc-${name}-`));
  await fs.chmod(dir, 0o777);
  return dir;
}

/** A local file of random bytes; returns its path and SHA-256. */
export async function randomFile(e: E2E, bytes: number): Promise<{ path: string; sha256: string; data: Buffer }> {
  const data = randomBytes(bytes);
  const file = path.join(e.dir, `${uniq('local')}.bin`);
  await fs.writeFile(file, data);
  return { path: file, sha256: sha256(data), data };
}

/** A request with declared artifacts by the world's technician, approved: an active grant. */
export async function grantWithArtifacts(w: World, artifacts: { name: string; sha256: string; sizeBytes?: number }[]): Promise<GrantJson> {
  const api = w.e.broker.api;
  const req = await api.ok('POST', '/api/access-requests', w.tech.token, { deviceId: w.device.id, reason: 'patch delivery', ticketRef: uniq('CHG'), durationMinutes: 30, artifacts });
  const decided = await api.ok('POST', `/api/access-requests/${req.id}/approve`, w.approver.token, { comment: 'ok' });
  return decided.grant as GrantJson;
}

/** The grant's SFTP sessions' transfers (as the auditor reads them), once `count` are recorded. */
export async function transfersOf(w: World, grantId: string, count: number, timeout = 5000): Promise<TransferJson[]> {
  let items: TransferJson[] = [];
  await expect.poll(async () => {
    const sessions = (await w.e.broker.api.ok('GET', `/api/sessions?grantId=${grantId}`, w.admin.token)).items as { id: string; channel: string }[];
    items = [];
    for (const s of sessions.filter((x) => x.channel === 'sftp')) items.push(...(await w.e.broker.api.ok('GET', `/api/sessions/${s.id}`, w.auditor.token)).transfers);
    return items.length;
  }, { timeout, interval: 100 }).toBeGreaterThanOrEqual(count);
  return items.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** An ssh2 SFTP client through the proxy, authenticated with a fresh certificate of `key` for `grant`. */
export async function ssh2Sftp(w: World, grant: { id: string }, key: KeyPair): Promise<{ conn: ssh2.Client; sftp: ssh2.SFTPWrapper }> {
  const cert = await certify(w, grant, key);
  const conn = new ssh2.Client();
  const username = w.device.name;
  await new Promise<void>((resolve, reject) => {
    conn.once('ready', () => resolve());
    conn.once('error', reject);
    conn.connect({
      host: '127.0.0.1', port: w.e.sshPort, username, readyTimeout: 10_000, hostVerifier: () => true,
      authHandler: [{ type: 'publickey', username, key: certificateKey(key.privateKey, cert.certificate) } as ssh2.PublicKeyAuthMethod],
    });
  });
  conn.on('error', () => undefined);
  const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => conn.sftp((err, s) => (err ? reject(err) : resolve(s))));
  return { conn, sftp };
}

export const cb2p = <T = void>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
