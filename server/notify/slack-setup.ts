/**
 * Builds the Slack integration from configuration, or nothing at all: without SLACK_BOT_TOKEN no
 * queue, notifier, worker or route exists, and approvals go through the web queue alone.
 * The API role needs the notifier and the link tokens; the worker role also runs the Slack worker.
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { CoreDeps } from '../core/ports.js';
import type { Notifier } from '../core/workflow-ports.js';
import type { QueueConnection } from '../jobs/queue-connection.js';
import type { Logger } from '../logger.js';
import { createSlackApi } from './slack-client.js';
import { defaultSlackRetry, SLACK_QUEUE, slackJobOptions, type SlackJob, type SlackRetryPolicy } from './slack-jobs.js';
import { createLinkTokens, type LinkTokens } from './slack-links.js';
import { createSlackNotifier } from './slack-notifier.js';
import { startSlackWorker, type SlackWorkerHandle } from './slack-worker.js';

export interface SlackSettings {
  botToken?: string;
  signingSecret?: string;
  channel?: string;
  apiUrl?: string;
}

export interface SlackIntegrationOptions {
  slack: SlackSettings;
  publicUrl: string;
  queues: QueueConnection;
  /** the broker's token-signing key pair: approval links are signed with it */
  keys: { signing: KeyObject; verifying: KeyObject };
  clock: Clock;
  logger: Logger;
  retry?: SlackRetryPolicy;
  linkTtlMinutes?: number;
  enqueueTimeoutMs?: number;
}

export interface SlackIntegration {
  notifier: Notifier;
  links: LinkTokens;
  signingSecret?: string;
  startWorker(deps: CoreDeps, opts?: { concurrency?: number }): Promise<SlackWorkerHandle>;
  close(): Promise<void>;
}

export function createSlackIntegration(o: SlackIntegrationOptions): SlackIntegration | null {
  const { slack, logger } = o;
  if (!slack.botToken) {
    if (slack.signingSecret || slack.channel) logger.warn('SLACK_SIGNING_SECRET/SLACK_CHANNEL are set but SLACK_BOT_TOKEN is not: Slack stays off');
    return null;
  }
  const botToken = slack.botToken;
  const retry = o.retry ?? defaultSlackRetry;
  const queue = o.queues.createQueue<SlackJob>(SLACK_QUEUE);
  const links = createLinkTokens(o.keys, o.clock, { ttlMinutes: o.linkTtlMinutes });
  logger.info({ channel: slack.channel ?? null, apiUrl: slack.apiUrl ?? 'https://slack.com/api/', interactivity: Boolean(slack.signingSecret) },
    'Slack approvals on');
  if (!slack.signingSecret) logger.warn('SLACK_SIGNING_SECRET is not set: /api/slack/interactions is not served (turn interactivity off in the Slack app)');
  return {
    notifier: createSlackNotifier(queue, { retry, enqueueTimeoutMs: o.enqueueTimeoutMs }),
    links,
    signingSecret: slack.signingSecret,
    startWorker: (deps, wo = {}) =>
      startSlackWorker(o.queues, {
        store: deps.store, links, clock: o.clock, channel: slack.channel, publicUrl: o.publicUrl, logger,
        api: createSlackApi({ botToken, apiUrl: slack.apiUrl, logger }),
        enqueue: async (job, id) => void (await queue.add(job.kind, job, slackJobOptions(id, retry))),
      }, wo),
    close: () => queue.close(),
  };
}
