/**
 * The two Slack Web API calls the integration makes, on the official WebClient. The client's own
 * retries are off: a failed call fails its job, and the Slack queue retries it with backoff, so a
 * long Slack outage never ties up a worker. Errors that no retry can fix (unknown channel, revoked
 * token, malformed blocks…) are told apart so their jobs stop at once.
 */
import { LogLevel, WebAPIHTTPError, WebAPIPlatformError, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../logger.js';
import type { SlackBlock } from './slack-blocks.js';

export interface SlackApi {
  /** posts to a channel or, given a user id, to the bot's DM with that user; returns the real channel id and ts */
  postMessage(m: { channel: string; text: string; blocks: SlackBlock[]; threadTs?: string }): Promise<{ channel: string; ts: string }>;
  update(m: { channel: string; ts: string; text: string; blocks: SlackBlock[] }): Promise<void>;
}

export interface SlackApiOptions {
  botToken: string;
  /** Slack's by default; a local stand-in in tests */
  apiUrl?: string;
  logger: Logger;
  timeoutMs?: number;
}

const PERMANENT = new Set([
  'channel_not_found', 'not_in_channel', 'is_archived', 'invalid_auth', 'not_authed', 'account_inactive',
  'token_revoked', 'token_expired', 'no_permission', 'missing_scope', 'user_not_found', 'user_disabled',
  'cannot_dm_bot', 'invalid_blocks', 'invalid_blocks_format', 'invalid_arguments', 'msg_too_long', 'no_text',
  'message_not_found', 'cant_update_message', 'edit_window_closed', 'restricted_action', 'team_access_not_granted',
]);

/** True when retrying the call cannot help. */
export function isPermanentSlackError(err: unknown): boolean {
  if (err instanceof WebAPIPlatformError) return PERMANENT.has(err.data.error);
  if (err instanceof WebAPIHTTPError) return err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 408 && err.statusCode !== 429;
  return false;
}

/** What to log about a failed call: Slack's error code, never the request (it holds link tokens). */
export function describeSlackError(err: unknown): string {
  if (err instanceof WebAPIPlatformError) return `slack error ${err.data.error}`;
  if (err instanceof WebAPIHTTPError) return `HTTP ${err.statusCode}`;
  return err instanceof Error ? err.message : String(err);
}

// the WebClient's debug output includes request bodies, i.e. link URLs: only warnings and errors get through
function slackLogger(log: Logger): SlackLogger {
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => log.warn({ component: 'slack-web-api' }, text(msg)),
    error: (...msg: unknown[]) => log.error({ component: 'slack-web-api' }, text(msg)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.WARN,
    setName: () => undefined,
  };
}

export function createSlackApi(opts: SlackApiOptions): SlackApi {
  const client = new WebClient(opts.botToken, {
    ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl.endsWith('/') ? opts.apiUrl : `${opts.apiUrl}/` } : {}),
    logger: slackLogger(opts.logger),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: opts.timeoutMs ?? 10_000,
  });
  return {
    async postMessage(m) {
      const res = await client.chat.postMessage({
        channel: m.channel, text: m.text, blocks: m.blocks, unfurl_links: false, unfurl_media: false,
        ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
      });
      if (!res.channel || !res.ts) throw new Error('chat.postMessage answered without channel and ts');
      return { channel: res.channel, ts: res.ts };
    },
    async update(m) {
      await client.chat.update({ channel: m.channel, ts: m.ts, text: m.text, blocks: m.blocks });
    },
  };
}
