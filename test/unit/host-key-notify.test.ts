/** A device's host key change (§8.4) told to its approvers: one Slack message each, idempotent, naming both fingerprints; and the operators' log line. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NotifyEvent } from '../../server/core/workflow-ports.js';
import { describe as describeEvent } from '../../server/notify/log-notifier.js';
import { jobsFor } from '../../server/notify/slack-notifier.js';

const event = (): Extract<NotifyEvent, { type: 'device.host_key_changed' }> => ({
  type: 'device.host_key_changed', keyType: 'ssh-ed25519',
  fingerprint: 'SHA256:p6cVUrAiKLtEnrZC+bRk8LCy79aYRDEsCnM0WL7xqVU', pinnedFingerprint: 'SHA256:k6V92dZJc2jCb7wVeq1Ur65IZhLMN23wA3G/CjrP1Ag',
  seenBy: 'a connection test', at: '2031-03-03T09:00:00.000Z',
  device: { id: randomUUID(), name: 'icu-pump-07', department: 'ICU', approverDepartment: 'Clinical Engineering' },
  approvers: [
    { id: randomUUID(), displayName: 'Alice Smith', slackUserId: 'U0ALICE' },
    { id: randomUUID(), displayName: 'Bob Jones', slackUserId: null },
  ],
});

describe('host key change notifications', () => {
  it('each approver with a Slack id is told once, with both fingerprints, under an id without ":"', () => {
    const e = event();
    const jobs = jobsFor(e);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.job).toMatchObject({ kind: 'tell', slackUserId: 'U0ALICE' });
    const text = (jobs[0]!.job as { text: string }).text;
    expect(text).toContain(e.fingerprint);
    expect(text).toContain(e.pinnedFingerprint);
    expect(text).toContain('icu-pump-07');
    expect(jobs[0]!.id).not.toMatch(/[:/+]/);
    // the same change told twice is the same job
    expect(jobsFor(e)[0]!.id).toBe(jobs[0]!.id);
    // another key is another message
    expect(jobsFor({ ...e, fingerprint: 'SHA256:Zk6V92dZJc2jCb7wVeq1Ur65IZhLMN23wA3GCjrP1Ag' })[0]!.id).not.toBe(jobs[0]!.id);
  });

  it('the log line names the device, both keys and who was told', () => {
    const line = describeEvent(event());
    expect(line).toMatch(/^DEVICE HOST KEY CHANGED on icu-pump-07 \[ICU\]: it presented ssh-ed25519 SHA256:p6cV.* instead of the pinned SHA256:k6V9.*approvers told: Alice Smith, Bob Jones/);
  });
});
