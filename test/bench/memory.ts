/**
 * Memory: RSS of a freshly started proxy process holding N concurrent idle sessions. Each session is
 * what a technician's idle shell is: its own SSH connection presenting the grant's certificate, a pty
 * shell channel, the proxy's onward connection and channel to the device, and an open recording.
 * The clients are ssh2 clients in this process (see proxy/ssh2-cert-auth.ts); the device shells are real.
 */
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { generateKey } from '../support/device-sshd.js';
import { rssBytes } from './procs.js';
import { round } from './measure.js';
import { certificateKey } from '../../proxy/ssh2-cert-auth.js';
import type { Stack } from './stack.js';

export interface MemoryPoint {
  sessions: number;
  rssMB: number;
  /** (rss - baseline) / sessions */
  perSessionKB: number;
}

export interface MemoryResult {
  baselineRssMB: number;
  points: MemoryPoint[];
  /** marginal cost between the last two points */
  marginalPerSessionKB: number | null;
  openSeconds: number;
}

const MB = 1024 * 1024;

async function settledRss(pid: number, ms = 3000): Promise<number> {
  await new Promise((r) => setTimeout(r, ms));
  const reads: number[] = [];
  for (let i = 0; i < 5; i++) {
    reads.push(rssBytes(pid));
    await new Promise((r) => setTimeout(r, 200));
  }
  return Math.max(...reads);
}

export async function measureMemory(stack: Stack, o: { counts: number[]; concurrency: number; log: (s: string) => void }): Promise<MemoryResult> {
  o.log('  restarting the proxy process (a fresh heap, not the one that relayed the transfers)…');
  await stack.restartProxy();
  const tech = await stack.newTechnician('memory');
  const grant = await stack.newGrant(tech, 240);
  const key = generateKey(stack.tmp, 'memory_ed25519');
  await stack.certificate(tech, grant, key.path);
  const certKey = certificateKey(key.privateKey, await readFile(`${key.path}-cert.pub`, 'utf8'));

  const clients: ssh2.Client[] = [];
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const c = new ssh2.Client();
      const fail = (err: Error) => {
        c.end();
        reject(err);
      };
      c.once('error', fail);
      c.once('ready', () => {
        c.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, stream) => {
          if (err) return fail(err);
          // live once the device's shell has printed its prompt through the proxy
          stream.once('data', () => {
            c.removeListener('error', fail);
            c.on('error', () => undefined);
            clients.push(c);
            resolve();
          });
          stream.on('close', () => undefined);
        });
      });
      c.connect({
        host: '127.0.0.1', port: stack.proxyPort, username: stack.deviceName, readyTimeout: 120_000,
        hostVerifier: () => true, authHandler: [{ type: 'publickey', username: stack.deviceName, key: certKey } as ssh2.PublicKeyAuthMethod],
      });
    });
  const closeAll = async () => {
    await Promise.all(clients.splice(0).map((c) => new Promise<void>((r) => {
      c.once('close', () => r());
      c.end();
    })));
  };

  try {
    await open(); // warm-up: first-use code paths and pools, then back to idle
    await closeAll();
    const baseline = await settledRss(stack.proxy.pid);
    o.log(`  baseline RSS ${round(baseline / MB, 1)} MB`);
    const points: MemoryPoint[] = [];
    const t0 = Date.now();
    for (const n of o.counts) {
      // `concurrency` connections in flight at a time until n sessions are live
      let started = clients.length;
      const worker = async () => {
        while (started < n) {
          started++;
          await open();
        }
      };
      await Promise.all(Array.from({ length: o.concurrency }, worker));
      const rss = await settledRss(stack.proxy.pid);
      points.push({ sessions: n, rssMB: round(rss / MB, 1), perSessionKB: round((rss - baseline) / n / 1024, 1) });
      o.log(`  ${n} idle sessions: RSS ${round(rss / MB, 1)} MB (${round((rss - baseline) / n / 1024, 1)} KB per session)`);
    }
    const openSeconds = (Date.now() - t0) / 1000;
    const [a, b] = points.slice(-2);
    const marginal = a && b ? round(((b.rssMB - a.rssMB) * 1024) / (b.sessions - a.sessions), 1) : null;
    return { baselineRssMB: round(baseline / MB, 1), points, marginalPerSessionKB: marginal, openSeconds: round(openSeconds, 1) };
  } finally {
    o.log(`  closing ${clients.length} sessions…`);
    await closeAll();
    await waitNoLiveSessions(stack, grant.id);
  }
}

async function waitNoLiveSessions(stack: Stack, grantId: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await stack.api.ok('GET', `/api/sessions?grantId=${grantId}&live=true&limit=1`, stack.adminToken);
    if (r.items.length === 0) return;
    await new Promise((res) => setTimeout(res, 200));
  }
}
