/**
 * Runs the Slack queue: the only place Slack API calls are made. Every handler re-reads the database,
 * so a late or retried job shows the current state and skips what no longer applies (a DM for a request
 * already decided, an approver no longer eligible). A failing call fails the job, which BullMQ retries
 * with backoff; calls no retry can fix end the job at once. Either way the workflow never waits.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { isEligibleApprover } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import type { Store, Tx } from '../core/ports.js';
import type { SlackMessage } from '../core/slack-ports.js';
import type { QueueConnection } from '../jobs/queue-connection.js';
import type { Logger } from '../logger.js';
import { noteMessage, requestMessage, reviewUrl, type SlackMessageBody } from './slack-blocks.js';
import { describeSlackError, isPermanentSlackError, type SlackApi } from './slack-client.js';
import { SLACK_QUEUE, slackJobSchema, type SlackJob } from './slack-jobs.js';
import type { LinkTokens } from './slack-links.js';
import { emergencyMessage } from './slack-emergency.js';
import { loadRequestView, type RequestView } from './slack-view.js';

export interface SlackWorkerDeps {
  /** the core's store: requests, names and decisions to show; the Slack messages and approval links it keeps */
  store: Store;
  api: SlackApi;
  links: LinkTokens;
  clock: Clock;
  /** the channel new requests are posted to, if any */
  channel?: string;
  publicUrl: string;
  /** queues a follow-up Slack job */
  enqueue(job: SlackJob, id: string): Promise<void>;
  logger: Logger;
}

export const decideUrl = (publicUrl: string, token: string) => `${publicUrl}/slack/decide?t=${encodeURIComponent(token)}`;

export interface SlackApprover {
  id: string;
  displayName: string;
  slackUserId: string;
}

/**
 * Who gets a DM about a request: its eligible approvers (the one rule, isEligibleApprover: never the
 * requesting technician) who have a Slack user id.
 */
export async function slackApprovers(read: Tx, requestId: string): Promise<SlackApprover[]> {
  const req = await read.requests.byId(requestId);
  const device = req ? await read.devices.byId(req.deviceId) : null;
  if (!req || !device) return [];
  return (await read.users.list({ role: 'approver', includeDisabled: false }))
    .filter((u) => u.slackUserId !== null && isEligibleApprover(u, device, req.technicianId))
    .map((u) => ({ id: u.id, displayName: u.displayName, slackUserId: u.slackUserId! }));
}

export function createSlackJobHandler(d: SlackWorkerDeps): (job: SlackJob) => Promise<void> {
  const read = d.store.read;
  const log = d.logger;

  /** Calls fn for each message; permanent failures are logged and skipped, transient ones fail the job after the rest ran. */
  async function eachMessage(messages: SlackMessage[], what: string, fn: (m: SlackMessage) => Promise<void>): Promise<void> {
    let retry: unknown = null;
    for (const m of messages) {
      try {
        await fn(m);
      } catch (err) {
        if (!isPermanentSlackError(err)) retry ??= err;
        log.warn({ requestId: m.requestId, channel: m.channel, ts: m.ts, error: describeSlackError(err) }, `Slack ${what} failed`);
      }
    }
    if (retry) throw retry;
  }

  const changed = (before: RequestView, after: RequestView | null) =>
    after !== null && (after.status !== before.status || after.decisions.length !== before.decisions.length);

  async function post(requestId: string, approverId: string | null): Promise<void> {
    if (await read.slackMessages.has(requestId, approverId)) return;
    const view = await loadRequestView(read, requestId);
    if (!view || view.status !== 'pending') return;
    const review = reviewUrl(d.publicUrl, requestId);
    let target: string;
    let body: SlackMessageBody;
    if (approverId === null) {
      if (!d.channel) return;
      target = d.channel;
      body = requestMessage(view, { reviewUrl: review });
    } else {
      if (view.decisions.some((x) => x.approverId === approverId)) return;
      const approver = (await slackApprovers(read, requestId)).find((a) => a.id === approverId);
      if (!approver) return;
      const now = d.clock.now();
      const approve = await d.links.mint({ requestId, approverId, action: 'approve' });
      const deny = await d.links.mint({ requestId, approverId, action: 'deny' });
      await d.store.transaction(async (tx) => {
        await tx.approvalLinks.insert(approve.claims, now);
        await tx.approvalLinks.insert(deny.claims, now);
      });
      target = approver.slackUserId;
      body = requestMessage(view, {
        reviewUrl: review, forApproverId: approverId,
        links: { approve: decideUrl(d.publicUrl, approve.token), deny: decideUrl(d.publicUrl, deny.token), expiresAt: approve.claims.expiresAt },
      });
    }
    const posted = await d.api.postMessage({ channel: target, ...body });
    await d.store.transaction((tx) =>
      tx.slackMessages.insert({ requestId, kind: approverId ? 'dm' : 'channel', approverId, channel: posted.channel, ts: posted.ts }, d.clock.now()));
    // a decision may have landed while this was posted: have the message catch up with it
    if (changed(view, await loadRequestView(read, requestId))) {
      await d.enqueue({ kind: 'refresh', requestId }, `slack-refresh-${requestId}-after-${approverId ?? 'channel'}`);
    }
  }

  async function refresh(requestId: string): Promise<void> {
    const view = await loadRequestView(read, requestId);
    if (!view) return;
    const review = reviewUrl(d.publicUrl, requestId);
    // a DM whose approver still has to decide keeps its links (they live in that message only)
    const due = (await read.slackMessages.forRequest(requestId)).filter((m) =>
      m.kind === 'channel' || view.status !== 'pending' || view.decisions.some((x) => x.approverId === m.approverId));
    await eachMessage(due, 'chat.update', async (m) => {
      await d.api.update({ channel: m.channel, ts: m.ts, ...requestMessage(view, { reviewUrl: review, forApproverId: m.approverId }) });
      await d.store.transaction((tx) => tx.slackMessages.markUpdated(m.id, d.clock.now()));
    });
  }

  async function note(requestId: string, mrkdwn: string, text: string): Promise<void> {
    const messages = await read.slackMessages.forRequest(requestId);
    const channelPosts = messages.filter((m) => m.kind === 'channel');
    // in the channel thread when there is one, else in the approvers' DM threads
    const threads = channelPosts.length ? channelPosts : messages;
    if (!threads.length) {
      if (d.channel) await d.api.postMessage({ channel: d.channel, ...noteMessage(mrkdwn, text) });
      return;
    }
    await eachMessage(threads, 'thread note', async (m) => {
      await d.api.postMessage({ channel: m.channel, threadTs: m.ts, ...noteMessage(mrkdwn, text) });
    });
  }

  /** A break-glass alert; an anchor is kept as the request's message (once per target, also when retried). */
  async function alert(job: Extract<SlackJob, { kind: 'alert' }>): Promise<void> {
    const target = job.slackUserId ?? d.channel;
    if (!target) return;
    if (job.anchor && await read.slackMessages.has(job.requestId, job.approverId)) return;
    const posted = await d.api.postMessage({ channel: target, ...emergencyMessage(job.mrkdwn, job.text, d.publicUrl) });
    if (job.anchor) {
      await d.store.transaction((tx) => tx.slackMessages.insert({ requestId: job.requestId, kind: job.approverId ? 'dm' : 'channel',
        approverId: job.approverId, channel: posted.channel, ts: posted.ts }, d.clock.now()));
    }
  }

  return async (job) => {
    switch (job.kind) {
      case 'fanout': {
        const view = await loadRequestView(read, job.requestId);
        if (!view || view.status !== 'pending') return;
        if (d.channel) await d.enqueue({ kind: 'post', requestId: job.requestId, approverId: null }, `slack-post-${job.requestId}-channel`);
        for (const a of await slackApprovers(read, job.requestId)) {
          await d.enqueue({ kind: 'post', requestId: job.requestId, approverId: a.id }, `slack-post-${job.requestId}-${a.id}`);
        }
        return;
      }
      case 'post':
        return post(job.requestId, job.approverId);
      case 'refresh':
        return refresh(job.requestId);
      case 'tell':
        await d.api.postMessage({ channel: job.slackUserId, ...noteMessage(job.mrkdwn, job.text) });
        return;
      case 'note':
        return note(job.requestId, job.mrkdwn, job.text);
      case 'alert':
        return alert(job);
    }
  };
}

export interface SlackWorkerHandle {
  close(): Promise<void>;
}

/** Consumes the Slack queue; resolves once the worker is connected. */
export async function startSlackWorker(conn: QueueConnection, d: SlackWorkerDeps, opts: { concurrency?: number } = {}): Promise<SlackWorkerHandle> {
  const log = d.logger.child({ component: 'slack-worker', queue: conn.queueName(SLACK_QUEUE) });
  const handle = createSlackJobHandler({ ...d, logger: log });
  const processor = async (job: Job<unknown, void>): Promise<void> => {
    const parsed = slackJobSchema.safeParse(job.data);
    if (!parsed.success) {
      log.error({ jobId: job.id, name: job.name }, 'invalid Slack job payload');
      throw new UnrecoverableError('invalid Slack job payload');
    }
    try {
      await handle(parsed.data);
    } catch (err) {
      if (isPermanentSlackError(err)) throw new UnrecoverableError(describeSlackError(err));
      throw err;
    }
  };
  const worker = conn.createWorker<unknown>(SLACK_QUEUE, processor, { concurrency: opts.concurrency ?? 2 });
  worker.on('error', (err) => log.error({ err }, 'Slack worker error'));
  worker.on('failed', (job, err) => {
    const final = err instanceof UnrecoverableError || (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1));
    log[final ? 'error' : 'warn'](
      { jobId: job?.id, kind: job?.name, attemptsMade: job?.attemptsMade, error: describeSlackError(err) },
      final ? 'Slack job failed for good' : 'Slack job failed; will retry',
    );
  });
  await worker.waitUntilReady();
  log.info('Slack worker started');
  return { close: () => worker.close() };
}
