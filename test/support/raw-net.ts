/**
 * Raw TCP exchanges with a listener, for hostile-input tests: bytes go out exactly as given (in
 * pieces, optionally half-closed), and what comes back is summed up — every HTTP status line seen,
 * whether the server closed, and whether it switched protocols. Never throws: a reset is an outcome.
 */
import net from 'node:net';

export interface RawReply {
  /** status codes of every `HTTP/1.x NNN` line in the reply */
  statuses: number[];
  /** the server closed (or reset) the connection before we gave up waiting */
  closedByServer: boolean;
  /** everything received (capped) */
  received: Buffer;
}

export interface RawOptions {
  /** give up (and destroy the socket) this long after the last piece was sent */
  waitMs: number;
  /** end our side after sending */
  halfClose?: boolean;
  /** stop waiting as soon as this much has arrived */
  enoughBytes?: number;
}

const MAX_KEPT = 64 * 1024;

export function statusesIn(data: Buffer): number[] {
  return [...data.toString('latin1').matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) [^\r\n]*\r\n/g)].map((m) => Number(m[1]));
}

/** Connects, sends `chunks` one write each, waits for the server, returns what it did. */
export function rawExchange(port: number, chunks: Buffer[], opts: RawOptions): Promise<RawReply> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let size = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect(port, '127.0.0.1');
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(received);
      resolve({ statuses: statusesIn(all), closedByServer, received: all });
    };
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('data', (d: Buffer) => {
      if (size < MAX_KEPT) received.push(d);
      size += d.length;
      if (opts.enoughBytes && size >= opts.enoughBytes) finish(false);
    });
    socket.on('connect', () => {
      socket.setNoDelay(true);
      for (const c of chunks) if (!socket.destroyed) socket.write(c);
      if (opts.halfClose && !socket.destroyed) socket.end();
      timer = setTimeout(() => finish(false), opts.waitMs);
    });
  });
}

/** Runs `tasks` with at most `concurrency` at once, in order of the array. */
export async function inParallel<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}
