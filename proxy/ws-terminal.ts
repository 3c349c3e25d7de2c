/**
 * The browser terminal: a WebSocket authenticated by a single-use terminal token, relayed to the
 * device exactly like an SSH shell (same recording, warnings and cut-off). Output goes to the
 * browser as binary frames; control messages (ready, notice, end) as JSON text frames.
 *
 * Backpressure both ways: output waits for each frame to reach the socket, and input the device is
 * not taking (a stalled device, a flood of keystrokes) pauses reading from the browser's socket, so
 * TCP holds the browser back instead of the API buffering without bound. What was already read when
 * the pause began is kept up to MAX_PENDING_INPUT; beyond that the socket is closed with
 * WS_CLOSE.inputOverflow.
 */
import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { isAppError } from '../server/core/errors.js';
import { auditRefusedChannel } from '../server/core/sessions.js';
import { redeemTerminalToken } from '../server/core/terminal-tokens.js';
import type { SessionEndReason } from '../server/core/types.js';
import type { ProxyContext } from './context.js';
import { DeviceLink } from './device-link.js';
import { terminalLine } from './notices.js';
import { startRelay, type ClientChannel, type ExitInfo } from './relay.js';

const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input'), data: z.string().max(65536) }),
  z.object({ type: z.literal('resize'), cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) }),
]);

const dimension = (v: string | null, fallback: number) => {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : fallback;
};

export const WS_CLOSE = { normal: 1000, unauthenticated: 4401, forbidden: 4403, inputOverflow: 4413, error: 1011 } as const;

/** input read from the browser but not yet taken by the device, beyond which the socket is closed */
export const MAX_PENDING_INPUT = 1024 * 1024;
/** after the session's end, the browser has this long to complete the close handshake */
const CLOSE_GRACE_MS = 2000;

interface BrowserChannel extends ClientChannel {
  /** passes keystrokes on towards the device, pausing the socket while the device is not taking them */
  type(text: string): void;
}

function browserChannel(ws: WebSocket): BrowserChannel {
  const input = new PassThrough();
  let ending = false;
  let paused = false;
  const resume = () => {
    paused = false;
    ws.resume();
  };
  const stdout = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (ws.readyState !== ws.OPEN) return done();
      ws.send(chunk, { binary: true }, () => done());
    },
  });
  const closedListeners: (() => void)[] = [];
  let closed = false;
  ws.on('close', () => {
    closed = true;
    input.end();
    for (const l of closedListeners) l();
  });
  return {
    input,
    stdout,
    stderr: null,
    type(text) {
      if (ending || closed) return;
      const more = input.write(text);
      if (input.writableLength > MAX_PENDING_INPUT) {
        ending = true;
        if (paused) resume(); // the close handshake needs the browser's close frame read
        ws.close(WS_CLOSE.inputOverflow, 'input is not being taken by the device');
        return;
      }
      if (!more && !paused) {
        paused = true;
        ws.pause();
        input.once('drain', resume);
      }
    },
    notice(text) {
      if (closed) return;
      ws.send(Buffer.from(terminalLine(text)), { binary: true });
      ws.send(JSON.stringify({ type: 'notice', text }));
    },
    close(exit: ExitInfo | null) {
      if (closed) return;
      // input is no longer wanted; reading resumes so that the browser's close frame is seen, and a
      // browser that never completes the handshake is cut off after the grace period
      ending = true;
      if (paused) resume();
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      stdout.end(() => ws.close(WS_CLOSE.normal, exit?.code !== null && exit?.code !== undefined ? `exit ${exit.code}` : 'closed'));
    },
    onClosed(listener) {
      if (closed) listener();
      else closedListeners.push(listener);
    },
  };
}

/** Handles one upgraded WebSocket on /api/terminal. */
export async function handleTerminalSocket(ctx: ProxyContext, ws: WebSocket, url: URL, clientAddress: string | null): Promise<void> {
  let conn;
  try {
    conn = await redeemTerminalToken(ctx.deps, url.searchParams.get('token') ?? '');
  } catch (err) {
    const message = isAppError(err) ? err.message : 'internal error';
    if (!isAppError(err)) ctx.log.error({ err }, 'terminal token check failed');
    ws.send(JSON.stringify({ type: 'end', reason: 'error', message }));
    ws.close(WS_CLOSE.unauthenticated, message.slice(0, 120));
    return;
  }
  // the browser went while its token was redeemed: nothing to count (its 'close' has passed)
  if (ws.readyState !== ws.OPEN) return;
  // one more connection of a grant that holds its limit already (SSH and browser terminals count alike)
  if (!ctx.connections.take(conn.grant.id)) {
    const limit = ctx.connections.limit;
    ctx.metrics.authFailures.inc({ reason: 'too many connections' });
    void auditRefusedChannel(ctx.deps, conn, 'browser terminal', { reason: `too many connections for the grant (limit ${limit})` })
      .catch((err: unknown) => ctx.log.error({ err }, 'could not audit a refused browser terminal'));
    ws.close(WS_CLOSE.forbidden, `This grant already has ${limit} connections through Portcullis, the most allowed. Close one and try again.`.slice(0, 123));
    return;
  }
  const counted = conn.grant.id;
  ws.once('close', () => ctx.connections.release(counted));
  const channel = browserChannel(ws);
  const link = new DeviceLink(ctx, conn);
  channel.onClosed(() => void link.close());
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const parsed = clientMessage.safeParse(safeJson(data.toString()));
    if (!parsed.success) return;
    if (parsed.data.type === 'input') channel.type(parsed.data.data);
    else relay?.resize(parsed.data.cols, parsed.data.rows);
  });
  const cols = dimension(url.searchParams.get('cols'), 80);
  const rows = dimension(url.searchParams.get('rows'), 24);
  const relay = await startRelay(ctx, conn, link, channel, {
    channel: 'browser', command: null, env: {}, clientAddress,
    pty: { term: 'xterm-256color', cols, rows, width: 0, height: 0 },
    onStart: (sessionId) => ws.send(JSON.stringify({ type: 'ready', sessionId })),
    onEnd: (reason: SessionEndReason, message: string) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'end', reason, message }));
    },
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
