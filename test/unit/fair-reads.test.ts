/** proxy/fair-reads.ts on real loopback sockets: floods share each turn's budget, arrive whole and in order, and never hold up a quiet socket. */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FairReads, type FairReadsOptions } from '../../proxy/fair-reads.js';

const KiB = 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Receiver { socket: net.Socket; received: Buffer[]; pauses: number; ended: Promise<void> }

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/**
 * Counts turns (a turn ends at each check phase) and what every socket delivered in each; sockets are
 * read the way ssh2 reads them (paused, a 'data' listener, resumed), shared by `fair` or not.
 */
function turnCounter() {
  const perTurn: number[] = [0];
  let on = true;
  const tick = () => setImmediate(() => {
    perTurn.push(0);
    if (on) tick();
  });
  tick();
  return { perTurn, stop: () => (on = false) };
}

/** A loopback connection whose server side is read (and shared by `fair`); `send` writes to it from the client side. */
async function connection(fair: FairReads | null, turns: { perTurn: number[] }): Promise<{ rx: Receiver; client: net.Socket }> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Receiver>((resolve) => {
    server.on('connection', (socket) => {
      socket.pause();
      const r: Receiver = { socket, received: [], pauses: 0, ended: new Promise((done) => socket.on('end', () => done())) };
      socket.on('data', (chunk: Buffer) => {
        r.received.push(chunk);
        turns.perTurn[turns.perTurn.length - 1]! += chunk.length;
      });
      socket.on('pause', () => r.pauses++);
      if (fair) fair.share(socket);
      socket.resume();
      resolve(r);
    });
  });
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  return { rx: await accepted, client };
}

const opts = (o: Partial<FairReadsOptions>): FairReadsOptions => ({ turnBudget: 128 * KiB, allowance: 16 * KiB, perSocket: 64 * KiB, ...o });

describe('FairReads', () => {
  it('one flood yields each turn; every byte arrives, in order', async () => {
    const turns = turnCounter();
    const { rx, client } = await connection(new FairReads(opts({})), turns);
    const data = randomBytes(8 * 1024 * KiB);
    client.end(data);
    await rx.ended;
    turns.stop();
    expect(sha(Buffer.concat(rx.received))).toBe(sha(data));
    expect(rx.pauses).toBeGreaterThan(0);
    // the chunk that crosses the budget, and the stream's buffer flushed on resume, come on top of it
    expect(Math.max(...turns.perTurn)).toBeLessThanOrEqual(64 * KiB + 3 * 64 * KiB);
  });

  it('ten floods together deliver about one turn budget a turn, not ten; all arrive whole, none is starved', async () => {
    const turns = turnCounter();
    const fair = new FairReads(opts({ turnBudget: 128 * KiB }));
    const conns = await Promise.all(Array.from({ length: 10 }, () => connection(fair, turns)));
    const data = conns.map(() => randomBytes(4 * 1024 * KiB));
    conns.forEach(({ client }, i) => client.end(data[i]));
    await Promise.all(conns.map(({ rx }) => rx.ended));
    turns.stop();
    conns.forEach(({ rx }, i) => expect(sha(Buffer.concat(rx.received))).toBe(sha(data[i]!)));
    // per turn: the budget, plus the read that crosses it, plus one read (and a flushed buffer) of each resumed socket
    const busy = turns.perTurn.filter((n) => n > 0);
    const p90 = [...busy].sort((a, b) => a - b)[Math.floor(busy.length * 0.9)]!;
    // (with a budget per socket only, as before, most turns took about ten sockets' budgets)
    expect(p90).toBeLessThanOrEqual(128 * KiB + 64 * KiB + 2 * 3 * 64 * KiB);
  });

  it('a typing socket (reads of keystroke size, under its allowance) is never held, even while floods have spent the budget', async () => {
    const turns = turnCounter();
    const fair = new FairReads(opts({ turnBudget: 64 * KiB }));
    const floods = await Promise.all(Array.from({ length: 4 }, () => connection(fair, turns)));
    const quiet = await connection(fair, turns);
    floods.forEach(({ client }) => client.end(randomBytes(8 * 1024 * KiB)));
    // a keystroke every few milliseconds while the floods run
    const keys: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const k = Buffer.from([97 + (i % 26)]);
      keys.push(k);
      quiet.client.write(k);
      await new Promise((r) => setTimeout(r, 2));
    }
    quiet.client.end();
    await Promise.all([...floods, quiet].map(({ rx }) => rx.ended));
    turns.stop();
    expect(floods.some(({ rx }) => rx.pauses > 0)).toBe(true);
    expect(fair.waiting).toBe(0);
    expect(Buffer.concat(quiet.rx.received).equals(Buffer.concat(keys))).toBe(true);
    expect(quiet.rx.pauses).toBe(0);
  });

  it('sockets under their allowance are held too once a turn is far over its budget; keystroke-size reads never are', async () => {
    const turns = turnCounter();
    // an allowance no flood reaches: only the turn's flood limit (4 budgets) can hold them
    const fair = new FairReads(opts({ turnBudget: 64 * KiB, allowance: 64 * 1024 * KiB, perSocket: 64 * 1024 * KiB }));
    const floods = await Promise.all(Array.from({ length: 8 }, () => connection(fair, turns)));
    const quiet = await connection(fair, turns);
    const data = floods.map(() => randomBytes(4 * 1024 * KiB));
    floods.forEach(({ client }, i) => client.end(data[i]));
    const keys: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      keys.push(Buffer.from([97 + (i % 26)]));
      quiet.client.write(keys[i]!);
      await new Promise((r) => setTimeout(r, 2));
    }
    quiet.client.end();
    await Promise.all([...floods, quiet].map(({ rx }) => rx.ended));
    turns.stop();
    floods.forEach(({ rx }, i) => expect(sha(Buffer.concat(rx.received))).toBe(sha(data[i]!)));
    expect(floods.some(({ rx }) => rx.pauses > 0)).toBe(true);
    // (never held, the eight floods deliver megabytes a turn)
    const busy = turns.perTurn.filter((n) => n > 0).sort((a, b) => a - b);
    expect(busy[Math.floor(busy.length * 0.9)]!).toBeLessThanOrEqual(4 * 64 * KiB + 8 * 3 * 64 * KiB);
    expect(Buffer.concat(quiet.rx.received).equals(Buffer.concat(keys))).toBe(true);
    expect(quiet.rx.pauses).toBe(0);
  });

  it('held sockets get their turns, oldest first, when nothing else arrives to turn the loop', async () => {
    // room for one socket a turn; each is held on its first chunk, and resuming it delivers the rest
    const fair = new FairReads({ turnBudget: 64 * KiB, allowance: 1 * KiB, perSocket: 4 * KiB });
    const turns = turnCounter();
    const conns = await Promise.all(Array.from({ length: 4 }, () => connection(fair, turns)));
    const order = { held: [] as number[], resumed: [] as number[] };
    conns.forEach(({ rx }, i) => {
      rx.socket.on('pause', () => order.held.push(i));
      rx.socket.on('resume', () => order.resumed.push(i));
    });
    const data = conns.map(() => randomBytes(8 * KiB));
    conns.forEach(({ client }, i) => client.write(data[i]));
    // everything arrives and the queue empties (a socket held on its last chunk is resumed a turn or more later)
    const done = () => fair.waiting === 0 && conns.every(({ rx }) => Buffer.concat(rx.received).length === 8 * KiB);
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    turns.stop();
    conns.forEach(({ rx }, i) => expect(Buffer.concat(rx.received).equals(data[i]!)).toBe(true));
    expect(fair.waiting).toBe(0);
    expect(conns.every(({ rx }) => !rx.socket.isPaused())).toBe(true);
    expect(order.held.length).toBeGreaterThan(1);
    expect(order.resumed.slice(0, order.held.length)).toEqual(order.held);
  });

  it('a held socket destroyed on the proxy side is dropped without taking a turn from the others', async () => {
    const fair = new FairReads({ turnBudget: 64 * KiB, allowance: 1 * KiB, perSocket: 4 * KiB });
    const turns = turnCounter();
    const conns = await Promise.all(Array.from({ length: 4 }, () => connection(fair, turns)));
    const held: number[] = [];
    conns.forEach(({ rx }, i) => rx.socket.on('pause', () => held.push(i)));
    conns.forEach(({ client }) => client.write(randomBytes(8 * KiB)));
    await new Promise<void>((resolve) => {
      const check = () => (fair.waiting >= 3 ? resolve() : setImmediate(check));
      check();
    });
    // the oldest held socket goes away; the one turn's room goes to the next in the queue
    conns[held[0]!]!.rx.socket.destroy();
    await new Promise((r) => setImmediate(r));
    turns.stop();
    expect(conns[held[1]!]!.rx.socket.isPaused()).toBe(false);
    conns.forEach(({ client }) => client.destroy());
  });
});
