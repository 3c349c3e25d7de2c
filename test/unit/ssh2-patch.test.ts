/**
 * The ssh2 patch (.ci/patches, applied by `npm ci` through patch-package). Every cipher ssh2 can
 * negotiate takes its packet padding from the pooled CSPRNG buffer, and the padding is still random
 * and never repeats — each pool byte is used once, then the pool is refilled. A bulk packet's memory
 * is reused only after the TCP socket let go of it, and data crossing a patched client and server
 * arrives intact. Fails when the patch did not apply (an ssh2 upgrade, `npm ci --ignore-scripts`).
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import ssh2 from 'ssh2';
import { ssh2PaddingPool, ssh2PatchApplied, type Ssh2PaddingPool } from '../../proxy/ssh2-patch.js';
import { newOpenSshKey } from '../../server/crypto/keys.js';

const require = createRequire(import.meta.url);

interface OutboundCipher {
  allocPacket(payloadLen: number): Buffer;
  encrypt(packet: Buffer): void;
  free(): void;
}
interface Ssh2Crypto {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  MAC_INFO: Record<string, { len: number }>;
  bindingAvailable: boolean;
  NullCipher: new (seqno: number, onWrite: (b: Buffer) => void) => OutboundCipher;
  createCipher(config: unknown): OutboundCipher;
  packetReuse?: { minSize: number; readonly spares: number; readonly reused: number };
}
const crypto = require('ssh2/lib/protocol/crypto') as Ssh2Crypto;
const { writePacket } = require('ssh2/lib/utils.js') as { writePacket?: (socket: unknown, data: Buffer) => boolean };

function pool(): Ssh2PaddingPool {
  const p = ssh2PaddingPool();
  if (!p) throw new Error('ssh2 is not patched: run `npm ci` (postinstall applies .ci/patches with patch-package)');
  return p;
}

/** Every outbound cipher ssh2 has: the native binding's and the pure-JS fallbacks, AEAD and cipher+MAC. */
function ciphers(onWrite: (b: Buffer) => boolean = () => false): { name: string; cipher: OutboundCipher; native: boolean }[] {
  const out: { name: string; cipher: OutboundCipher; native: boolean }[] = [{ name: 'none (handshake)', cipher: new crypto.NullCipher(0, onWrite), native: false }];
  const kinds: [string, string | null][] = [
    ['chacha20-poly1305@openssh.com', null],
    ['aes128-gcm@openssh.com', null],
    ['aes128-ctr', 'hmac-sha2-256'],
    ['aes256-ctr', 'hmac-sha2-512-etm@openssh.com'],
  ];
  for (const forceNative of [false, true]) {
    for (const [cipherName, macName] of kinds) {
      const info = crypto.CIPHER_INFO[cipherName]!;
      const mac = macName ? crypto.MAC_INFO[macName]! : null;
      const outbound = {
        onWrite, cipherInfo: info, cipherKey: randomBytes(info.keyLen), cipherIV: randomBytes(info.ivLen), seqno: 0, forceNative,
        ...(mac ? { macInfo: mac, macKey: randomBytes(mac.len) } : {}),
      };
      out.push({ name: `${cipherName}${macName ? ` + ${macName}` : ''} (${forceNative ? 'JavaScript' : 'native binding'})`, cipher: crypto.createCipher({ outbound }), native: !forceNative });
    }
  }
  return out;
}

/** The padding ssh2 wrote into a packet from allocPacket (bytes 5 + payload .. end of padding). */
const paddingOf = (packet: Buffer, payloadLen: number) => packet.subarray(5 + payloadLen, 5 + payloadLen + packet[4]!);

describe('ssh2 packet padding (patched ssh2)', () => {
  it('the installed ssh2 carries the patch', () => {
    expect(ssh2PaddingPool(), 'ssh2/lib/protocol/crypto has no `padding` export: the patch in .ci/patches was not applied').not.toBeNull();
    expect(ssh2PatchApplied()).toBe(true);
    expect(pool().poolSize).toBe(64 * 1024);
    expect(crypto.bindingAvailable).toBe(true);
  });

  it('every cipher takes each packet’s padding from the pool, each pool byte once', () => {
    const p = pool();
    for (const { name, cipher } of ciphers()) {
      for (const payloadLen of [1, 9, 100, 1000, 32768]) {
        for (let i = 0; i < 50; i++) {
          const before = p.position;
          const packet = cipher.allocPacket(payloadLen);
          const padLen = packet[4]!;
          expect(padLen, name).toBeGreaterThanOrEqual(4);
          // consumed in order from where the last packet stopped, or from the start of a fresh fill
          const expected = before + padLen <= p.poolSize ? before + padLen : padLen;
          expect(p.position, `${name}: padding not taken from the pool`).toBe(expected);
        }
      }
      cipher.free();
    }
  });

  it('padding is random and never repeats across packets, over several refills of the pool', () => {
    const p = pool();
    const cipher = new crypto.NullCipher(0, () => undefined);
    // an empty payload gets 11 bytes of padding (8-byte blocks, at least 4): 40,000 packets use 440 KB,
    // nearly 7 fills of the pool. 88 random bits per packet: a repeat by chance is out of the question.
    const seen = new Set<string>();
    const counts = new Array<number>(256).fill(0);
    let total = 0;
    let refills = 0;
    for (let i = 0; i < 40_000; i++) {
      const before = p.position;
      const pad = paddingOf(cipher.allocPacket(0), 0);
      if (p.position < before) refills++;
      expect(pad.length).toBe(11);
      const key = pad.toString('hex');
      expect(seen.has(key), `packet ${i} repeats an earlier packet's padding`).toBe(false);
      seen.add(key);
      for (const b of pad) counts[b]!++;
      total += pad.length;
    }
    expect(refills).toBeGreaterThanOrEqual(5);
    // byte values uniform: chi-square with 255 degrees of freedom stays far below 400 for random bytes
    // (p < 1e-8 of exceeding it by chance); zeros, a counter or a short repeated block blow it up
    const expected = total / 256;
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(400);
  });

  it('two connections never share padding bytes', () => {
    const a = new crypto.NullCipher(0, () => undefined);
    const b = new crypto.NullCipher(0, () => undefined);
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      for (const c of [a, b]) {
        const key = paddingOf(c.allocPacket(0), 0).toString('hex');
        expect(seen.has(key)).toBe(false);
        seen.add(key);
      }
    }
  });
});

describe('ssh2 packet memory reuse (patched ssh2)', () => {
  const reuse = () => {
    if (!crypto.packetReuse) throw new Error('ssh2 is not patched: no packetReuse export');
    return crypto.packetReuse;
  };

  it('a bulk packet’s memory is reused only when the transport let go of it, never a small packet’s', () => {
    const { minSize } = reuse();
    for (const released of [true, false]) {
      for (const { name, cipher, native } of ciphers(() => released)) {
        if (!native) continue; // the JavaScript fallbacks write fresh ciphertext buffers: nothing to reuse
        // bulk: the next packet gets the same memory only if the first was released
        const a = cipher.allocPacket(32768);
        cipher.encrypt(a);
        const b = cipher.allocPacket(32768);
        expect(b.buffer === a.buffer, `${name}, released=${released}`).toBe(released);
        cipher.encrypt(b);
        // small packets come from Node's shared pool: never handed to another packet
        const small = cipher.allocPacket(100);
        expect(small.length).toBeLessThan(minSize);
        cipher.encrypt(small);
        const next = cipher.allocPacket(minSize);
        expect(next.buffer === small.buffer, name).toBe(false);
        cipher.encrypt(next);
        cipher.free();
      }
    }
  });

  it('only a plain TCP socket that wrote the packet out at once reports it released', async () => {
    expect(typeof writePacket, 'ssh2/lib/utils.js has no writePacket: the patch was not applied').toBe('function');
    const write = writePacket!;
    // any other stream may keep the chunk after its write callback (a PassThrough hands it to its reader)
    expect(write(new PassThrough(), Buffer.alloc(10))).toBe(false);
    const server = net.createServer((s) => s.resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      // still connecting: the socket holds the data until it is connected
      expect(write(sock, Buffer.alloc(10))).toBe(false);
      await new Promise<void>((r) => sock.once('connect', r));
      await new Promise((r) => setImmediate(r));
      expect(write(sock, Buffer.alloc(10))).toBe(true);
      sock.cork(); // buffered in the stream: not released
      expect(write(sock, Buffer.alloc(10))).toBe(false);
      sock.uncork();
    } finally {
      sock.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('data crossing a patched ssh2 client and server arrives intact both ways, with memory reused', async () => {
    const hostKey = newOpenSshKey(); // one ssh2 can parse (its generator now and then yields one it cannot)
    const server = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('ready', () => conn.on('session', (accept) => accept().on('exec', (acc) => {
        const stream = acc();
        stream.pipe(stream); // echo: every byte goes back through the server's cipher
      })));
      conn.on('error', () => undefined);
    });
    // Unix sockets (kernel buffers of ~200 KB, smaller than an SSH window) and between client and
    // server a forwarder that reads each way in bursts (5 ms on, 5 ms off): the buffers fill and most
    // bulk writes complete later, so packets are still queued when the next ones are made. Reusing
    // their memory then would corrupt them: the receiver's MAC check fails and the connection dies.
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-ssh2-'));
    await new Promise<void>((r) => server.listen(join(dir, 'server'), r));
    const timers: NodeJS.Timeout[] = [];
    const sockets: net.Socket[] = [];
    const forwarder = net.createServer((inbound) => {
      const outbound = net.connect(join(dir, 'server'));
      sockets.push(inbound, outbound);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      for (const s of [inbound, outbound]) timers.push(setInterval(() => (s.isPaused() ? s.resume() : s.pause()), 5));
    });
    await new Promise<void>((r) => forwarder.listen(join(dir, 'forwarder'), r));
    const client = new ssh2.Client();
    const reused0 = reuse().reused;
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve).once('error', reject);
        client.connect({ sock: net.connect(join(dir, 'forwarder')), username: 'u', password: 'p', hostVerifier: () => true });
      });
      const data = randomBytes(24 * 1024 * 1024);
      const got = await new Promise<Buffer>((resolve, reject) => {
        client.once('error', reject);
        client.exec('echo', (err, ch) => {
          if (err) return reject(err);
          const parts: Buffer[] = [];
          let n = 0;
          ch.on('data', (d: Buffer) => {
            parts.push(Buffer.from(d)); // a copy: the check must not depend on who owns the chunk
            n += d.length;
            if (n >= data.length) resolve(Buffer.concat(parts));
          });
          ch.on('close', () => reject(new Error(`channel closed after ${n} bytes`)));
          // uneven writes, so packets of many sizes (small, bulk, partial) go out
          for (let off = 0, i = 0; off < data.length; i++) {
            const len = Math.min(data.length - off, [1, 777, 4095, 4096, 40_000, 262_144][i % 6]!);
            ch.write(data.subarray(off, off + len));
            off += len;
          }
        });
      });
      expect(got.length).toBe(data.length);
      expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(reuse().reused - reused0, 'no packet memory was reused').toBeGreaterThan(0);
    } finally {
      for (const t of timers) clearInterval(t);
      client.end();
      for (const s of sockets) s.destroy();
      await Promise.all([server, forwarder].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
