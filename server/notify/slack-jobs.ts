/**
 * The Slack queue's jobs. Every Slack API call runs inside one of these (attempts with exponential
 * backoff), never on the request path. Job ids are deterministic per event, so an event delivered
 * twice posts once. Jobs carry ids and ready-made text, never link tokens: those are minted by the
 * worker right before it posts, so a retried post still hands out fresh, unexpired links.
 */
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

export const SLACK_QUEUE = 'portcullis-slack';

export type SlackJob =
  /** works out who hears about a new request (channel, approvers' DMs) and queues one post each */
  | { kind: 'fanout'; requestId: string }
  /** posts a request to the channel (approverId null) or as a DM with personal links to one approver */
  | { kind: 'post'; requestId: string; approverId: string | null }
  /** chat.update of every message about a request, rendered from the database's current state */
  | { kind: 'refresh'; requestId: string }
  /** a DM to one Slack user (the requester) */
  | { kind: 'tell'; slackUserId: string; text: string; mrkdwn: string }
  /** a note in the thread(s) of a request's messages (session started/ended, grant ended) */
  | { kind: 'note'; requestId: string; text: string; mrkdwn: string }
  /**
   * a break-glass alert to the channel (slackUserId null) or one approver's DM; with `anchor` it becomes
   * the request's message, so later notes thread under it
   */
  | { kind: 'alert'; requestId: string; approverId: string | null; slackUserId: string | null; anchor: boolean; text: string; mrkdwn: string };

const uuid = z.string().uuid();
const text = z.string().min(1).max(3000);

export const slackJobSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fanout'), requestId: uuid }),
  z.object({ kind: z.literal('post'), requestId: uuid, approverId: uuid.nullable() }),
  z.object({ kind: z.literal('refresh'), requestId: uuid }),
  z.object({ kind: z.literal('tell'), slackUserId: z.string().regex(/^[UW][A-Z0-9]{2,20}$/), text, mrkdwn: text }),
  z.object({ kind: z.literal('note'), requestId: uuid, text, mrkdwn: text }),
  z.object({ kind: z.literal('alert'), requestId: uuid, approverId: uuid.nullable(),
    slackUserId: z.string().regex(/^[UW][A-Z0-9]{2,20}$/).nullable(), anchor: z.boolean(), text, mrkdwn: text }),
]) satisfies z.ZodType<SlackJob>;

export interface SlackRetryPolicy {
  attempts: number;
  /** first retry delay; each next one doubles */
  backoffMs: number;
}

/** about 10 minutes of retries: 5 s, 10 s, 20 s … 320 s */
export const defaultSlackRetry: SlackRetryPolicy = { attempts: 8, backoffMs: 5000 };

export function slackJobOptions(jobId: string, retry: SlackRetryPolicy): JobsOptions {
  return {
    jobId,
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.backoffMs },
    removeOnComplete: true,
    removeOnFail: { count: 1000 },
  };
}
