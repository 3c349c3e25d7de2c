/**
 * Block Kit for Slack messages about access requests. Pure: a RequestView in, `{ text, blocks }` out.
 * Everything people read is a name (device, department, vendor, technician, approvers), never a bare
 * id. Text from users (reason, ticket, comments, names) is escaped, so it can neither break the layout
 * nor mention @channel. Times use Slack's date formatting: each reader sees their own time zone.
 */
import type { RequestContext } from '../core/workflow-ports.js';
import type { DecisionView, RequestView } from './slack-view.js';

export interface TextObject { type: 'plain_text' | 'mrkdwn'; text: string; emoji?: boolean }
export interface SlackBlock { type: string; [field: string]: unknown }
export interface SlackMessageBody { text: string; blocks: SlackBlock[] }

export interface RenderOptions {
  /** the web console page of the request */
  reviewUrl: string;
  /** approve/deny links of one approver (their DM while they still have to decide) */
  links?: { approve: string; deny: string; expiresAt: Date };
  /** the approver whose DM this is (null or absent: the channel post) */
  forApproverId?: string | null;
}

/** The request's page in the web console (its approvals view), for Review links. */
export const reviewUrl = (publicUrl: string, requestId: string) => `${publicUrl}/approvals/${requestId}`;

/** Slack's mrkdwn control characters; escaping them also defuses <!channel> and <@U…> mentions. */
export const escapeMrkdwn = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const plain = (text: string): TextObject => ({ type: 'plain_text', text: text.length > 150 ? `${text.slice(0, 147)}…` : text, emoji: true });
const md = (text: string): TextObject => ({ type: 'mrkdwn', text });
const field = (label: string, value: string): TextObject => md(`*${label}*\n${value}`);

/** A time rendered in the reader's zone, with a UTC fallback for clients that cannot. */
export function slackDate(d: Date, format = '{date_short_pretty} {time}'): string {
  const fallback = `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${Math.floor(d.getTime() / 1000)}^${format}|${fallback}>`;
}

export const technicianLabel = (c: RequestContext) => `${c.technician.displayName} (${c.technician.username})`;
const vendorLabel = (c: RequestContext) => c.vendor?.name ?? 'no vendor';
const capitalise = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : '—');
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function windowText(c: RequestContext): string {
  const duration = plural(c.durationMinutes, 'minute');
  if (c.kind === 'extension') return `${duration} more, from the end of the current grant`;
  return c.startsAt ? `${slackDate(new Date(c.startsAt))} for ${duration}` : `When approved, for ${duration}`;
}

const HEADINGS: Record<RequestView['status'], string> = {
  pending: '🔐 Access request',
  approved: '✅ Approved',
  denied: '⛔ Denied',
  expired: '⌛ Expired',
  cancelled: '🚫 Cancelled',
};

function heading(v: RequestView): string {
  const what = v.status === 'pending' && v.context.kind === 'extension' ? '🔐 Extension request' : HEADINGS[v.status];
  return `${what}: ${v.context.device.name}`;
}

function decisionLine(d: DecisionView): string {
  const [icon, verb] = d.decision === 'approve' ? ['✅', 'approved'] : ['⛔', 'denied'];
  const via = d.channel === 'slack-link' ? 'from Slack' : d.channel === 'api' ? 'through the API' : 'in the web console';
  const comment = d.comment ? ` — “${escapeMrkdwn(d.comment)}”` : '';
  return `${icon} *${escapeMrkdwn(d.approverName)}* ${verb} ${slackDate(d.at)} ${via}${comment}`;
}

function outcomeLine(v: RequestView): string | null {
  switch (v.status) {
    case 'pending': {
      const missing = v.context.approvalsRequired - v.context.approvalsSoFar;
      return `Waiting for ${plural(missing, 'more approval')} (${v.context.approvalsSoFar} of ${v.context.approvalsRequired}).`;
    }
    case 'approved':
      return v.grant
        ? `*Access granted* ${slackDate(v.grant.startsAt)} – ${slackDate(v.grant.endsAt, '{time}')}.`
        : '*Access granted.*';
    case 'denied':
      return '*Access denied.*';
    case 'expired':
      return `*Not decided in time*; the request lapsed ${slackDate(v.closedAt ?? v.expiresAt)}.`;
    case 'cancelled':
      return `*Cancelled* ${slackDate(v.closedAt ?? v.createdAt)}.`;
  }
}

/** The files the request declares it will deliver, with their SHA-256 (what an upload is checked against). */
export function artifactsText(artifacts: NonNullable<RequestContext['artifacts']>): string {
  const lines = artifacts.slice(0, 10).map((a) =>
    `• ${escapeMrkdwn(a.name)}${a.sizeBytes !== undefined ? ` (${a.sizeBytes} bytes)` : ''} — SHA-256 \`${escapeMrkdwn(a.sha256)}\``);
  if (artifacts.length > 10) lines.push(`… and ${artifacts.length - 10} more`);
  return `*Declared artifacts*\n${lines.join('\n')}`;
}

/** The fallback text (notifications, screen readers): names, the window and the state. */
export function summaryText(v: RequestView): string {
  const c = v.context;
  return `${heading(v)} — ${c.technician.displayName} (${vendorLabel(c)}) asks for ${plural(c.durationMinutes, 'minute')} on ` +
    `${c.device.name} [${c.device.department}], ticket ${c.ticketRef}`;
}

function button(text: string, actionId: string, url: string, style?: 'primary' | 'danger'): SlackBlock {
  return { type: 'button', text: plain(text), action_id: actionId, url, ...(style ? { style } : {}) };
}

/** The message for a request in its current state, for the channel post or one approver's DM. */
export function requestMessage(v: RequestView, opts: RenderOptions): SlackMessageBody {
  const c = v.context;
  const blocks: SlackBlock[] = [
    { type: 'header', text: plain(heading(v)) },
    {
      type: 'section',
      fields: [
        field('Device', escapeMrkdwn(c.device.name)),
        field('Department', escapeMrkdwn(c.device.department || '—')),
        field('Criticality', capitalise(c.device.criticality)),
        field('Vendor', escapeMrkdwn(vendorLabel(c))),
        field('Technician', escapeMrkdwn(technicianLabel(c))),
        field('Ticket', escapeMrkdwn(c.ticketRef)),
        field('Window', windowText(c)),
        field('Approvals', `${c.approvalsSoFar} of ${c.approvalsRequired}`),
      ],
    },
    { type: 'section', text: md(`*Reason*\n${escapeMrkdwn(c.reason)}`) },
  ];
  if (c.artifacts?.length) blocks.push({ type: 'section', text: md(artifactsText(c.artifacts)) });
  const lines = [...v.decisions.map(decisionLine), outcomeLine(v)].filter((l): l is string => l !== null);
  blocks.push({ type: 'section', text: md(lines.join('\n')) });

  const review = button('Review', 'portcullis_review', opts.reviewUrl);
  const mine = opts.forApproverId ? v.decisions.find((d) => d.approverId === opts.forApproverId) : undefined;
  if (v.status === 'pending' && opts.links && !mine) {
    blocks.push({
      type: 'actions',
      elements: [
        button('Approve', 'portcullis_approve', opts.links.approve, 'primary'),
        button('Deny', 'portcullis_deny', opts.links.deny, 'danger'),
        review,
      ],
    });
    blocks.push({
      type: 'context',
      elements: [md(`These links are yours alone, work once, and expire ${slackDate(opts.links.expiresAt, '{time}')}; after that use Review.`)],
    });
  } else {
    blocks.push({ type: 'actions', elements: [review] });
    if (mine && v.status === 'pending') {
      blocks.push({ type: 'context', elements: [md(`You ${mine.decision === 'approve' ? 'approved' : 'denied'} this request.`)] });
    }
  }
  return { text: summaryText(v), blocks };
}

/** A short message (a DM to the requester, a thread note): one mrkdwn section plus its fallback text. */
export function noteMessage(mrkdwn: string, fallback: string): SlackMessageBody {
  return { text: fallback, blocks: [{ type: 'section', text: md(mrkdwn) }] };
}
