/** Block Kit rendering: names not ids, escaped user text, links only where an approver still decides. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeMrkdwn, requestMessage } from '../../server/notify/slack-blocks.js';
import type { RequestView } from '../../server/notify/slack-view.js';
import { blockTexts, buttons } from '../support/slack-standin.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

function view(over: Partial<RequestView> = {}, ctx: Partial<RequestView['context']> = {}): RequestView {
  return {
    context: {
      requestId: randomUUID(), kind: 'access',
      device: { id: randomUUID(), name: 'icu-pump-07', department: 'Intensive Care', criticality: 'critical', approverDepartment: 'Clinical Engineering' },
      vendor: { id: randomUUID(), name: 'Acme Medical' },
      technician: { id: randomUUID(), username: 'jdoe', displayName: 'Jane Doe', slackUserId: 'U0TECH' },
      reason: 'replace the pump firmware', ticketRef: 'CHG-1042', startsAt: null, durationMinutes: 45,
      approvalsRequired: 2, approvalsSoFar: 0, ...ctx,
    },
    status: 'pending', createdAt: new Date('2026-03-01T10:00:00Z'), expiresAt: new Date('2026-03-02T10:00:00Z'), closedAt: null,
    decisions: [], grant: null, ...over,
  };
}
const links = { approve: 'https://p.example/slack/decide?t=A', deny: 'https://p.example/slack/decide?t=D', expiresAt: new Date('2026-03-01T10:30:00Z') };
const text = (m: { blocks: unknown; text: string }) => [m.text, ...blockTexts(m.blocks)].join('\n');

describe('request messages', () => {
  it('show the device, department, criticality, vendor, technician, reason, ticket, window and approvals by name', () => {
    const v = view();
    const m = requestMessage(v, { reviewUrl: `https://p.example/approvals/${v.context.requestId}` });
    const all = text(m);
    for (const s of ['icu-pump-07', 'Intensive Care', 'Critical', 'Acme Medical', 'Jane Doe (jdoe)', 'replace the pump firmware', 'CHG-1042',
      'When approved, for 45 minutes', '0 of 2']) expect(all).toContain(s);
    expect(all).not.toMatch(UUID);
    expect(m.text).toContain('Jane Doe');
  });

  it('give an approver who still decides Approve, Deny and Review links; the channel only Review', () => {
    const v = view();
    const review = `https://p.example/approvals/${v.context.requestId}`;
    const dm = requestMessage(v, { reviewUrl: review, links, forApproverId: randomUUID() });
    expect(buttons(dm.blocks)).toEqual({ portcullis_approve: links.approve, portcullis_deny: links.deny, portcullis_review: review });
    const channel = requestMessage(v, { reviewUrl: review });
    expect(buttons(channel.blocks)).toEqual({ portcullis_review: review });
  });

  it('after a decision say who decided, and drop the links of whoever decided', () => {
    const alice = randomUUID();
    const v = view({ decisions: [{ approverId: alice, approverName: 'Alice Smith', decision: 'approve', comment: 'ok <!channel>', channel: 'slack-link', at: new Date('2026-03-01T10:05:00Z') }] },
      { approvalsSoFar: 1 });
    const dm = requestMessage(v, { reviewUrl: 'https://p.example/r', links, forApproverId: alice });
    expect(Object.keys(buttons(dm.blocks))).toEqual(['portcullis_review']);
    const all = text(dm);
    expect(all).toContain('*Alice Smith* approved');
    expect(all).toContain('1 of 2');
    expect(all).toContain('Waiting for 1 more approval');
    expect(all).toContain('You approved this request');
    expect(all).toContain('ok &lt;!channel&gt;');
    expect(all).not.toContain('<!channel>');
  });

  it('show the outcome once closed, without decision links for anyone', () => {
    const approved = view({ status: 'approved', grant: { status: 'active', startsAt: new Date('2026-03-01T10:06:00Z'), endsAt: new Date('2026-03-01T10:51:00Z') } });
    const m = requestMessage(approved, { reviewUrl: 'https://p.example/r', links, forApproverId: randomUUID() });
    expect(Object.keys(buttons(m.blocks))).toEqual(['portcullis_review']);
    expect(text(m)).toContain('✅ Approved: icu-pump-07');
    expect(text(m)).toContain('Access granted');
    for (const status of ['denied', 'expired', 'cancelled'] as const) {
      expect(text(requestMessage(view({ status, closedAt: new Date() }), { reviewUrl: 'x' }))).toMatch(new RegExp(status, 'i'));
    }
  });

  it('escape what users typed, so it cannot mention @channel or forge links', () => {
    const m = requestMessage(view({}, { reason: '<!channel> see <https://evil.example|the docs> & more', ticketRef: '<@U123>' }), { reviewUrl: 'x' });
    const all = text(m);
    expect(all).toContain('&lt;!channel&gt; see &lt;https://evil.example|the docs&gt; &amp; more');
    expect(all).toContain('&lt;@U123&gt;');
    expect(escapeMrkdwn('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
  });

  it('name a requested start time and an extension as such', () => {
    const scheduled = text(requestMessage(view({}, { startsAt: '2026-03-05T08:00:00.000Z' }), { reviewUrl: 'x' }));
    expect(scheduled).toContain('2026-03-05 08:00 UTC');
    const ext = text(requestMessage(view({}, { kind: 'extension', durationMinutes: 15 }), { reviewUrl: 'x' }));
    expect(ext).toContain('Extension request');
    expect(ext).toContain('15 minutes more');
  });
});
