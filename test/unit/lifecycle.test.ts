import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/core/errors.js';
import { allowedTransitions, assertTransition, isReachable } from '../../server/core/lifecycle.js';
import { LIFECYCLE_STATES, type LifecycleState } from '../../server/core/types.js';

// The contract, written out independently of the implementation (SPEC §2.2):
// staged → deployed → (suspended ⇄ deployed) → retired; a device not yet deployed may be retired too.
const LEGAL: Record<LifecycleState, LifecycleState[]> = {
  staged: ['deployed', 'retired'],
  deployed: ['suspended', 'retired'],
  suspended: ['deployed', 'retired'],
  retired: [],
};

const ready = { hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmv', hasCredential: true };

function outcome(from: LifecycleState, to: LifecycleState, extra: Partial<typeof ready> = {}): 'ok' | AppError {
  try {
    assertTransition({ lifecycleState: from, ...ready, ...extra }, to);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
}

describe('device lifecycle transition table', () => {
  const pairs = LIFECYCLE_STATES.flatMap((from) => LIFECYCLE_STATES.map((to) => [from, to] as const));

  it.each(pairs)('%s → %s follows the contract', (from, to) => {
    const r = outcome(from, to);
    if (LEGAL[from].includes(to)) {
      expect(r).toBe('ok');
    } else {
      expect(r).not.toBe('ok');
      expect((r as AppError).kind).toBe('conflict');
    }
  });

  it('allowedTransitions lists exactly the legal targets', () => {
    for (const from of LIFECYCLE_STATES) {
      expect([...allowedTransitions(from)].sort()).toEqual([...LEGAL[from]].sort());
    }
  });

  it('no state may transition to itself', () => {
    for (const s of LIFECYCLE_STATES) expect(outcome(s, s)).not.toBe('ok');
  });

  it('an illegal move names where the device may go instead', () => {
    const r = outcome('deployed', 'staged') as AppError;
    expect(r.message).toMatch(/deployed.*staged/);
    expect(r.details).toMatchObject({ from: 'deployed', to: 'staged' });
    expect((r.details as { allowed: string[] }).allowed.sort()).toEqual(['retired', 'suspended']);
  });

  it('retirement is final, whatever the device holds', () => {
    for (const to of LIFECYCLE_STATES) {
      const r = outcome('retired', to);
      expect(r).not.toBe('ok');
      expect((r as AppError).kind).toBe('conflict');
      expect((r as AppError).message).toMatch(/retire/);
    }
  });

  describe('deploying needs a pinned host key and a vaulted credential', () => {
    for (const from of ['staged', 'suspended'] as const) {
      it(`${from} → deployed is refused without a host key`, () => {
        const r = outcome(from, 'deployed', { hostKey: null as unknown as string });
        expect((r as AppError).kind).toBe('conflict');
        expect((r as AppError).message).toMatch(/host key/);
      });
      it(`${from} → deployed is refused without a credential`, () => {
        const r = outcome(from, 'deployed', { hasCredential: false });
        expect((r as AppError).kind).toBe('conflict');
        expect((r as AppError).message).toMatch(/credential/);
      });
      it(`${from} → deployed is refused with neither`, () => {
        expect((outcome(from, 'deployed', { hostKey: null as unknown as string, hasCredential: false }) as AppError).kind).toBe('conflict');
      });
    }

    it('the requirements do not block leaving deployed or retiring', () => {
      const bare = { hostKey: null as unknown as string, hasCredential: false };
      expect(outcome('staged', 'retired', bare)).toBe('ok');
      expect(outcome('deployed', 'suspended', bare)).toBe('ok');
      expect(outcome('suspended', 'retired', bare)).toBe('ok');
    });
  });

  it('only deployed devices are reachable', () => {
    expect(LIFECYCLE_STATES.filter((s) => isReachable({ lifecycleState: s }))).toEqual(['deployed']);
  });
});
