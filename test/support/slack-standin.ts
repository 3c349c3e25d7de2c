/**
 * A local stand-in for the Slack Web API: an express app on a free loopback port that records every
 * call (method, parsed arguments, bearer token) and answers like Slack — `{ ok: true, channel, ts }` —
 * or, on demand, with an HTTP error or `{ ok: false, error }`. Posting to a user id answers with a DM
 * channel id (`D…`), as Slack does, so callers must store the channel Slack answered with.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import { vi } from 'vitest';

export interface SlackCall {
  method: string;
  args: Record<string, any>;
  authorization: string | undefined;
  /** what the stand-in answered: 200 ok, or the failure it was told to give */
  answered: { status: number; ok: boolean; error?: string };
}

export type Failure = { status: number } | { error: string };

export interface SlackStandIn {
  /** for the WebClient's slackApiUrl */
  url: string;
  calls: SlackCall[];
  /** the next `times` calls of `method` (that match `where`, if given) fail as given */
  failNext(method: string, times: number, failure: Failure, where?: (c: SlackCall) => boolean): void;
  /** forgets failures not yet given */
  clearFailures(): void;
  /** successful calls of a method, optionally filtered */
  ok(method: string, where?: (c: SlackCall) => boolean): SlackCall[];
  /** waits until `count` successful calls of `method` match */
  waitFor(method: string, where: (c: SlackCall) => boolean, count?: number, timeoutMs?: number): Promise<SlackCall[]>;
  close(): Promise<void>;
}

/** Every human-readable text in a message's blocks (not URLs or action ids). */
export function blockTexts(blocks: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key?: string) => {
    if (typeof v === 'string') {
      if (key === 'text') out.push(v);
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, k);
    }
  };
  walk(blocks);
  return out;
}

/** The URL buttons of a message, by action id. */
export function buttons(blocks: any[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of blocks) if (b.type === 'actions') for (const e of b.elements) out[e.action_id] = e.url;
  return out;
}

export async function startSlackStandIn(): Promise<SlackStandIn> {
  const calls: SlackCall[] = [];
  let failures: { method: string; left: number; failure: Failure; where?: (c: SlackCall) => boolean }[] = [];
  let seq = 0;
  const app = express();
  app.post('/api/:method', express.urlencoded({ extended: false }), express.json(), (req, res) => {
    const method = req.params.method as string;
    const args: Record<string, any> = { ...(req.body ?? {}) };
    // the WebClient sends objects as JSON strings inside the form
    for (const k of ['blocks', 'attachments', 'metadata']) if (typeof args[k] === 'string') args[k] = JSON.parse(args[k]);
    const call: SlackCall = { method, args, authorization: req.get('authorization'), answered: { status: 200, ok: true } };
    calls.push(call);
    const rule = failures.find((f) => f.method === method && f.left > 0 && (!f.where || f.where(call)));
    if (rule) rule.left--;
    const failure = rule?.failure;
    if (failure && 'status' in failure) {
      call.answered = { status: failure.status, ok: false };
      res.status(failure.status).send('stand-in failure');
      return;
    }
    if (failure) {
      call.answered = { status: 200, ok: false, error: failure.error };
      res.json({ ok: false, error: failure.error });
      return;
    }
    const channel = String(args.channel ?? '');
    const answerChannel = /^[UW]/.test(channel) ? `D${channel.slice(1)}` : channel;
    const ts = method === 'chat.update' ? String(args.ts) : `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
    res.json({ ok: true, channel: answerChannel, ts, message: { text: args.text } });
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const ok = (method: string, where: (c: SlackCall) => boolean = () => true) =>
    calls.filter((c) => c.method === method && c.answered.ok && where(c));
  return {
    url: `http://127.0.0.1:${port}/api/`,
    calls,
    failNext(method, times, failure, where) {
      failures.push({ method, left: times, failure, where });
    },
    clearFailures() {
      failures = [];
    },
    ok,
    async waitFor(method, where, count = 1, timeoutMs = 10_000) {
      return vi.waitFor(() => {
        const found = ok(method, where);
        if (found.length < count) throw new Error(`waiting for ${count} × ${method}, have ${found.length}`);
        return found;
      }, { timeout: timeoutMs, interval: 25 });
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
