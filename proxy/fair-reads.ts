/**
 * Fair reading for the relay's sockets. libuv reads a readable socket up to 32 times (64 KiB each)
 * per turn of the event loop, and ssh2 decrypts, the relay records and encrypts every chunk at once:
 * ten downloads made one turn take hundreds of milliseconds, and every keystroke's echo — and every
 * cut's notice and close — waited for it (the benchmark's load phase: event loop late 115–133 ms at
 * p99 and up to a second at worst; 79–99 ms and 235–425 ms with this).
 *
 * `shareReads` lets one socket deliver about `budget` bytes per turn: past it the socket is paused
 * (its bytes stay in the kernel and in the stream's buffer, TCP slows the sender) and resumed in the
 * same turn's check phase, after the other sockets that were ready have had theirs. Nothing is lost
 * or reordered; a socket that stays under the budget is never paused.
 */
import type { Socket } from 'node:net';

/** bytes one socket may deliver in one turn before it yields to the others */
export const READ_BUDGET = 128 * 1024;

interface Share { used: number }
const counted = new Set<Share>();
let resetScheduled = false;

function charge(share: Share, bytes: number): void {
  share.used += bytes;
  counted.add(share);
  if (resetScheduled) return;
  resetScheduled = true;
  setImmediate(() => {
    resetScheduled = false;
    for (const s of counted) s.used = 0;
    counted.clear();
  });
}

/**
 * Installs the budget on `socket`. Call it once the socket's reader (ssh2) has attached and started:
 * adding a 'data' listener to a socket nobody has paused would start it flowing.
 */
export function shareReads(socket: Socket, budget = READ_BUDGET): void {
  const share: Share = { used: 0 };
  let yielding = false;
  socket.prependListener('data', (chunk: Buffer) => {
    charge(share, chunk.length);
    if (yielding || share.used < budget) return;
    yielding = true;
    socket.pause();
    setImmediate(() => {
      yielding = false;
      if (!socket.destroyed) socket.resume();
    });
  });
}
