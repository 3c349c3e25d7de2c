/** proxy/fair-reads.ts on real loopback sockets: a flood yields each turn, and arrives whole and in order. */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { shareReads } from '../../proxy/fair-reads.js';

/** Sends `data` to a socket read the way ssh2 reads it (paused, a 'data' listener, resumed), fair or not. */
async function flood(data: Buffer, fair: boolean, budget: number) {
  const perTurn: number[] = [0];
  let pauses = 0;
  let turns = true;
  // a turn ends at each check phase: count what arrived in between
  const tick = () => setImmediate(() => {
    perTurn.push(0);
    if (turns) tick();
  });
  tick();
  const received: Buffer[] = [];
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const done = new Promise<void>((resolve) => {
      server.on('connection', (socket) => {
        socket.pause();
        socket.on('data', (chunk: Buffer) => {
          received.push(chunk);
          perTurn[perTurn.length - 1]! += chunk.length;
        });
        socket.on('pause', () => pauses++);
        if (fair) shareReads(socket, budget);
        socket.resume();
        socket.on('end', () => resolve());
      });
    });
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    client.end(data);
    await done;
  } finally {
    turns = false;
    server.close();
  }
  return { received: Buffer.concat(received), perTurn, pauses };
}

describe('shareReads', () => {
  it('a socket delivering more than its budget yields at the end of the turn; every byte arrives, in order', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const budget = 64 * 1024;
    const { received, perTurn, pauses } = await flood(data, true, budget);
    expect(createHash('sha256').update(received).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(pauses).toBeGreaterThan(0);
    // the chunk that crosses the budget, and the stream's buffer flushed on resume, come on top of it
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(budget + 3 * 64 * 1024);
  });

  it('a socket that stays under its budget is never paused', async () => {
    const data = randomBytes(16 * 1024);
    const { received, pauses } = await flood(data, true, 1024 * 1024);
    expect(received.equals(data)).toBe(true);
    expect(pauses).toBe(0);
  });
});
