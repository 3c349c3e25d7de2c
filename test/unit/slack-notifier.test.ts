/** Workflow events → Slack jobs: what each event asks for, idempotent job ids, and a notify() that never hangs. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NotifyEvent, RequestContext } from '../../server/core/workflow-ports.js';
import { composeNotifiers, createSlackNotifier, jobsFor } from '../../server/notify/slack-notifier.js';

const ctx = (slackUserId: string | null = 'U0TECH'): RequestContext => ({
  requestId: randomUUID(), kind: 'access',
  device: { id: randomUUID(), name: 'icu-pump-07', department: 'ICU', criticality: 'high', approverDepartment: 'Clinical Engineering' },
  vendor: { id: randomUUID(), name: 'Acme Medical' },
  technician: { id: randomUUID(), username: 'jdoe', displayName: 'Jane Doe', slackUserId },
  reason: 'firmware', ticketRef: 'CHG-1', startsAt: null, durationMinutes: 30, approvalsRequired: 2, approvalsSoFar: 1,
});
const approver = { id: randomUUID(), displayName: 'Alice Smith' };
const kinds = (e: NotifyEvent) => jobsFor(e).map((j) => j.job.kind);

describe('Slack jobs per workflow event', () => {
  it('a new request fans out once per request', () => {
    const c = ctx();
    expect(jobsFor({ type: 'request.created', request: c })).toEqual([{ id: `slack-fanout-${c.requestId}`, job: { kind: 'fanout', requestId: c.requestId } }]);
  });

  it('each decision refreshes the messages; the requester hears only the final outcome', () => {
    const c = ctx();
    expect(kinds({ type: 'request.decided', request: c, decision: 'approve', approver, outcome: 'pending', comment: null })).toEqual(['refresh']);
    const approved = jobsFor({ type: 'request.decided', request: c, decision: 'approve', approver, outcome: 'approved', comment: null });
    expect(approved.map((j) => j.id)).toEqual([`slack-refresh-${c.requestId}-${approver.id}`, `slack-tell-${c.requestId}-approved`]);
    expect(approved[1]!.job).toMatchObject({ kind: 'tell', slackUserId: 'U0TECH' });
    expect((approved[1]!.job as { text: string }).text).toContain('approved by Alice Smith');
    const denied = jobsFor({ type: 'request.decided', request: c, decision: 'deny', approver, outcome: 'denied', comment: 'not today' });
    expect((denied[1]!.job as { text: string }).text).toMatch(/denied by Alice Smith: “not today”/);
  });

  it('expiry, cancellation and revocation tell the requester; a requester without a Slack id hears nothing', () => {
    expect(kinds({ type: 'request.closed', request: ctx(), status: 'expired' })).toEqual(['refresh', 'tell']);
    expect(kinds({ type: 'request.closed', request: ctx(), status: 'cancelled' })).toEqual(['refresh', 'tell']);
    expect(kinds({ type: 'request.closed', request: ctx(null), status: 'expired' })).toEqual(['refresh']);
    const revoked: NotifyEvent = { type: 'grant.changed', grantId: randomUUID(), request: ctx(), status: 'revoked', startsAt: '', endsAt: '', reason: 'patient emergency' };
    expect(kinds(revoked)).toEqual(['note', 'tell']);
    expect(jobsFor(revoked)[1]!.job).toMatchObject({ text: expect.stringContaining('revoked: “patient emergency”') });
    expect(kinds({ type: 'grant.changed', grantId: randomUUID(), request: ctx(), status: 'active', startsAt: '', endsAt: '' })).toEqual([]);
  });

  it('sessions starting and ending become thread notes naming the technician and device', () => {
    const session = { sessionId: randomUUID(), grantId: randomUUID(), requestId: randomUUID(), channel: 'shell',
      device: { id: randomUUID(), name: 'icu-pump-07' }, technician: { id: randomUUID(), username: 'jdoe', displayName: 'Jane Doe' } };
    const [start] = jobsFor({ type: 'session.started', session, at: new Date().toISOString() });
    const [end] = jobsFor({ type: 'session.ended', session, at: new Date().toISOString(), endReason: 'client_closed' });
    expect(start).toMatchObject({ id: `slack-note-${session.sessionId}-start`, job: { kind: 'note', requestId: session.requestId } });
    expect((start!.job as { text: string }).text).toBe('▶️ Session started: Jane Doe (jdoe) on icu-pump-07 (shell).');
    expect((end!.job as { text: string }).text).toContain('client closed');
  });

  it('job ids are valid BullMQ ids (no ":" and never all digits)', () => {
    const c = ctx();
    const events: NotifyEvent[] = [
      { type: 'request.created', request: c },
      { type: 'request.decided', request: c, decision: 'approve', approver, outcome: 'approved', comment: null },
      { type: 'grant.changed', grantId: randomUUID(), request: c, status: 'extended', startsAt: '', endsAt: new Date().toISOString() },
    ];
    for (const e of events) for (const { id } of jobsFor(e)) expect(id).toMatch(/^slack-[a-z]+-[^:]+$/);
  });
});

describe('the Slack notifier', () => {
  it('only enqueues, with attempts and exponential backoff', async () => {
    const added: { name: string; data: unknown; opts: unknown }[] = [];
    const n = createSlackNotifier({ add: async (name, data, opts) => added.push({ name, data, opts }) }, { retry: { attempts: 3, backoffMs: 10 } });
    const c = ctx();
    await n.notify({ type: 'request.closed', request: c, status: 'expired' });
    expect(added.map((a) => a.opts)).toEqual([
      expect.objectContaining({ jobId: `slack-refresh-${c.requestId}-expired`, attempts: 3, backoff: { type: 'exponential', delay: 10 } }),
      expect.objectContaining({ jobId: `slack-tell-${c.requestId}-expired` }),
    ]);
  });

  it('gives up waiting for a stuck queue quickly (the decision never hangs on Slack)', async () => {
    const n = createSlackNotifier({ add: () => new Promise(() => undefined) }, { enqueueTimeoutMs: 50 });
    const started = Date.now();
    await expect(n.notify({ type: 'request.created', request: ctx() })).rejects.toThrow(/did not take job/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('composed notifiers all hear every event even when one fails', async () => {
    const heard: string[] = [];
    const composed = composeNotifiers(
      { notify: async () => { throw new Error('slack down'); } },
      { notify: async (e) => void heard.push(e.type) },
    );
    await expect(composed.notify({ type: 'request.created', request: ctx() })).rejects.toThrow('slack down');
    expect(heard).toEqual(['request.created']);
  });
});
