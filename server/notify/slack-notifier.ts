/**
 * The Slack notifier on the workflow's Notifier port. notify() only turns an event into jobs on the
 * Slack queue (bounded in time, so a slow queue never holds up a decision); the worker makes the
 * Slack API calls. Texts for the requester's DMs and thread notes are written here, from the
 * event's names.
 */
import type { Notifier, NotifyEvent, RequestContext } from '../core/workflow-ports.js';
import { escapeMrkdwn, slackDate, technicianLabel } from './slack-blocks.js';
import { emergencyJobs } from './slack-emergency.js';
import { slackJobOptions, defaultSlackRetry, type SlackJob, type SlackRetryPolicy } from './slack-jobs.js';

export interface SlackJobQueue {
  add(name: string, data: SlackJob, opts: ReturnType<typeof slackJobOptions>): Promise<unknown>;
}

interface Enqueued { id: string; job: SlackJob }

const device = (c: RequestContext) => `*${escapeMrkdwn(c.device.name)}*`;
const quoted = (s: string | null | undefined) => (s ? `: “${escapeMrkdwn(s)}”` : '');
/** mrkdwn to plain fallback text */
const flat = (mrkdwn: string) => mrkdwn.replace(/<!date\^\d+\^[^|]*\|([^>]*)>/g, '$1').replace(/\*/g, '');

function tell(c: RequestContext, id: string, mrkdwn: string): Enqueued[] {
  const slackUserId = c.technician.slackUserId;
  return slackUserId ? [{ id: `slack-tell-${id}`, job: { kind: 'tell', slackUserId, mrkdwn, text: flat(mrkdwn) } }] : [];
}

function note(requestId: string, id: string, mrkdwn: string): Enqueued {
  return { id: `slack-note-${id}`, job: { kind: 'note', requestId, mrkdwn, text: flat(mrkdwn) } };
}

const refresh = (requestId: string, key: string): Enqueued => ({ id: `slack-refresh-${requestId}-${key}`, job: { kind: 'refresh', requestId } });

function approvedWindow(c: RequestContext): string {
  if (c.kind === 'extension') return `${c.durationMinutes} more minutes`;
  return c.startsAt ? `from ${slackDate(new Date(c.startsAt))} for ${c.durationMinutes} minutes` : `from now for ${c.durationMinutes} minutes`;
}

/** The jobs one workflow event asks for. */
export function jobsFor(e: NotifyEvent): Enqueued[] {
  switch (e.type) {
    case 'grant.emergency':
      return emergencyJobs(e);
    case 'request.created':
      return [{ id: `slack-fanout-${e.request.requestId}`, job: { kind: 'fanout', requestId: e.request.requestId } }];
    case 'request.decided': {
      const c = e.request;
      const out = [refresh(c.requestId, e.approver.id)];
      const by = escapeMrkdwn(e.approver.displayName);
      if (e.outcome === 'approved') {
        out.push(...tell(c, `${c.requestId}-approved`,
          `✅ Your ${c.kind === 'extension' ? 'extension' : 'request'} for ${device(c)} (ticket ${escapeMrkdwn(c.ticketRef)}) was approved by ${by}: access ${approvedWindow(c)}.`));
      } else if (e.outcome === 'denied') {
        out.push(...tell(c, `${c.requestId}-denied`, `⛔ Your request for ${device(c)} (ticket ${escapeMrkdwn(c.ticketRef)}) was denied by ${by}${quoted(e.comment)}`));
      }
      return out;
    }
    case 'request.closed': {
      const c = e.request;
      const what = e.status === 'expired' ? '⌛ expired: nobody decided in time' : '🚫 was cancelled';
      return [refresh(c.requestId, e.status), ...tell(c, `${c.requestId}-${e.status}`, `Your request for ${device(c)} (ticket ${escapeMrkdwn(c.ticketRef)}) ${what}.`)];
    }
    case 'grant.changed': {
      const c = e.request;
      const who = `${escapeMrkdwn(technicianLabel(c))} on ${device(c)}`;
      if (e.status === 'revoked') {
        return [
          note(c.requestId, `${e.grantId}-revoked`, `🛑 Access for ${who} was revoked${quoted(e.reason)}`),
          ...tell(c, `${e.grantId}-revoked`, `🛑 Your access to ${device(c)} was revoked${quoted(e.reason)}. Live sessions were ended.`),
        ];
      }
      if (e.status === 'expired') return [note(c.requestId, `${e.grantId}-expired`, `⌛ The access window for ${who} ended.`)];
      if (e.status === 'extended') {
        return [note(c.requestId, `${e.grantId}-extended-${Date.parse(e.endsAt)}`, `➕ Access for ${who} extended until ${slackDate(new Date(e.endsAt))}.`)];
      }
      return [];
    }
    case 'session.started':
    case 'session.ended': {
      const s = e.session;
      const who = `${escapeMrkdwn(s.technician.displayName)} (${escapeMrkdwn(s.technician.username)}) on *${escapeMrkdwn(s.device.name)}*`;
      const text = e.type === 'session.started'
        ? `▶️ Session started: ${who} (${s.channel}).`
        : `⏹️ Session ended: ${who} (${s.channel}, ${e.endReason.replace(/_/g, ' ')}).`;
      return [note(s.requestId, `${s.sessionId}-${e.type === 'session.started' ? 'start' : 'end'}`, text)];
    }
    case 'credential.rotation_failed': {
      // no request to thread under: each eligible approver hears of it directly
      const text = `🔑 *Device key rotation failed* on *${escapeMrkdwn(e.device.name)}* (${escapeMrkdwn(e.device.department)}) after ` +
        `${e.attempts} attempts: ${escapeMrkdwn(e.reason)}. The old key is still in place and the device is flagged in the console; ` +
        `check the device's \`~/.ssh/authorized_keys\` and run its connection test.`;
      return e.approvers.filter((a) => a.slackUserId).map((a) => ({
        id: `slack-tell-credential-${e.device.id}-${Date.parse(e.at)}-${a.id}`,
        job: { kind: 'tell', slackUserId: a.slackUserId!, mrkdwn: text, text: flat(text) },
      }));
    }
    case 'device.host_key_changed': {
      const text = `🛑 *Device host key changed* on *${escapeMrkdwn(e.device.name)}* (${escapeMrkdwn(e.device.department)}): it presented ` +
        `${escapeMrkdwn(e.keyType)} \`${e.fingerprint}\` instead of the pinned \`${e.pinnedFingerprint}\`. Connections are refused. ` +
        `If the device was re-imaged or its key replaced on purpose, compare the fingerprint with the device's console and confirm the re-pin on the console's Host keys page.`;
      return e.approvers.filter((a) => a.slackUserId).map((a) => ({
        id: `slack-tell-hostkey-${e.device.id}-${e.fingerprint.slice(7).replace(/[^A-Za-z0-9]/g, '')}-${a.id}`,
        job: { kind: 'tell', slackUserId: a.slackUserId!, mrkdwn: text, text: flat(text) },
      }));
    }
    case 'transfer.undeclared': {
      const s = e.session;
      const t = e.transfer;
      const who = `${escapeMrkdwn(s.technician.displayName)} (${escapeMrkdwn(s.technician.username)})`;
      return [note(s.requestId, `${t.id}-undeclared`,
        `⚠️ Undeclared upload: ${who} wrote \`${escapeMrkdwn(t.path)}\` (${t.bytes} bytes, ${t.outcome}) to *${escapeMrkdwn(s.device.name)}*; ` +
        `SHA-256 \`${t.sha256 ?? 'none'}\` matches no artifact declared on the request.`)];
    }
  }
}

export interface SlackNotifierOptions {
  retry?: SlackRetryPolicy;
  /** how long notify() waits for the queue before giving up (the add may still land) */
  enqueueTimeoutMs?: number;
}

export function createSlackNotifier(queue: SlackJobQueue, opts: SlackNotifierOptions = {}): Notifier {
  const retry = opts.retry ?? defaultSlackRetry;
  const timeoutMs = opts.enqueueTimeoutMs ?? 3000;
  return {
    async notify(e) {
      for (const { id, job } of jobsFor(e)) {
        const added = queue.add(job.kind, job, slackJobOptions(id, retry));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the Slack queue did not take job ${id} within ${timeoutMs} ms`)), timeoutMs);
        });
        // a late failure of an add we stopped waiting for must not become an unhandled rejection
        added.catch(() => undefined);
        try {
          await Promise.race([added, timeout]);
        } finally {
          clearTimeout(timer);
        }
      }
    },
  };
}

/** One notifier that tells all of them; a failing one neither hides nor stops the others. */
export function composeNotifiers(...notifiers: Notifier[]): Notifier {
  return {
    async notify(e) {
      const results = await Promise.allSettled(notifiers.map((n) => n.notify(e)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
