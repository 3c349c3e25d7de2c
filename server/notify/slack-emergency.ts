/**
 * Slack for break-glass (§8.6): an emergency is loud. When one is opened, the channel gets an alert and
 * every eligible approver a DM, each with a Review button (the alerts become the request's messages,
 * so session notes and the revocation thread under them); an overdue review is posted and DMed again;
 * the review itself is a thread note, and the technician is told its outcome. Texts are built here from
 * the event's names (escaped); the worker only posts them.
 */
import type { NotifyEvent } from '../core/workflow-ports.js';
import { escapeMrkdwn, slackDate, technicianLabel, type SlackMessageBody } from './slack-blocks.js';
import type { SlackJob } from './slack-jobs.js';

type EmergencyEvent = Extract<NotifyEvent, { type: 'grant.emergency' }>;
interface Enqueued { id: string; job: SlackJob }

/** The console page where approvers review emergency access. */
export const emergencyUrl = (publicUrl: string) => `${publicUrl}/emergency`;

const flat = (mrkdwn: string) => mrkdwn.replace(/<!date\^\d+\^[^|]*\|([^>]*)>/g, '$1').replace(/\*/g, '');

function headline(e: EmergencyEvent): string {
  const c = e.request;
  const g = e.grant;
  const who = `${escapeMrkdwn(technicianLabel(c))} of ${escapeMrkdwn(c.vendor?.name ?? 'no vendor')}`;
  const where = `*${escapeMrkdwn(c.device.name)}* (${escapeMrkdwn(c.device.department)}, ${escapeMrkdwn(c.device.criticality)} criticality)`;
  const reason = `Reason: “${escapeMrkdwn(c.reason)}”.`;
  const due = slackDate(new Date(g.reviewDueAt));
  const dept = escapeMrkdwn(c.device.approverDepartment);
  if (e.stage === 'opened') {
    return `🚨 *EMERGENCY ACCESS (break-glass)*: ${who} opened access to ${where} without approval, for ${c.durationMinutes} minutes ` +
      `until ${slackDate(new Date(g.endsAt))}. ${reason} Any approver of ${dept} can revoke it now; one must review it by ${due}.`;
  }
  return `⏰ *Emergency access review overdue*: the break-glass access of ${who} to ${where} (opened ${slackDate(new Date(g.startsAt))}) ` +
    `was due for review by ${due} and nobody has reviewed it. ${reason} An approver of ${dept} must review it now.`;
}

/** The Slack jobs of a break-glass event. */
export function emergencyJobs(e: EmergencyEvent): Enqueued[] {
  const c = e.request;
  const g = e.grant;
  if (e.stage === 'reviewed' && e.review) {
    const r = e.review;
    const mark = r.outcome === 'justified' ? '✅' : '⛔';
    const text = `${mark} Emergency access of ${escapeMrkdwn(technicianLabel(c))} to *${escapeMrkdwn(c.device.name)}* reviewed as ` +
      `*${r.outcome}* by ${escapeMrkdwn(r.reviewer.displayName)}: “${escapeMrkdwn(r.comment)}”`;
    const out: Enqueued[] = [{ id: `slack-note-${g.grantId}-reviewed`, job: { kind: 'note', requestId: c.requestId, mrkdwn: text, text: flat(text) } }];
    if (c.technician.slackUserId) {
      out.push({ id: `slack-tell-${g.grantId}-reviewed`, job: { kind: 'tell', slackUserId: c.technician.slackUserId, mrkdwn: text, text: flat(text) } });
    }
    return out;
  }
  if (e.stage === 'reviewed') return [];
  const mrkdwn = headline(e);
  const anchor = e.stage === 'opened';
  const alert = (approverId: string | null, slackUserId: string | null): Enqueued => ({
    id: `slack-alert-${g.grantId}-${e.stage}-${approverId ?? 'channel'}`,
    job: { kind: 'alert', requestId: c.requestId, approverId, slackUserId, anchor, mrkdwn, text: flat(mrkdwn) },
  });
  return [alert(null, null), ...g.approvers.filter((a) => a.slackUserId).map((a) => alert(a.id, a.slackUserId))];
}

/** The alert as Slack shows it: the text and a Review button to the console. */
export function emergencyMessage(mrkdwn: string, text: string, publicUrl: string): SlackMessageBody {
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: mrkdwn } },
      { type: 'actions', elements: [
        { type: 'button', action_id: 'portcullis_review', style: 'danger', text: { type: 'plain_text', text: 'Review emergency access' },
          url: emergencyUrl(publicUrl) },
      ] },
    ],
  };
}
