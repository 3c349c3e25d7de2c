// Step-up: an action the broker lets through only with a fresh second-factor proof (approving or denying
// a request; removing a factor). The action is tried as it is first — a recent sign-in with a second
// factor may be enough. When the broker answers 403 with error.details.stepUpRequired, the prompt asks
// for a passkey (its challenge from `optionsPath`, bound by the broker to what is being decided) or a
// code, and the same action is sent again with the proof. A wrong proof keeps the prompt open; any other
// answer ends it and goes to the caller.
import { useCallback, useRef, useState, type ReactNode } from 'react';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { ApiError, post } from '../api/client';
import type { MfaMethod, MfaProof } from '../api/types';
import { MfaPrompt } from './mfa-prompt';

const ALL: MfaMethod[] = ['webauthn', 'totp', 'recovery'];

/** The broker wants a fresh second factor for this action. */
export function needsStepUp(e: unknown): e is ApiError {
  return e instanceof ApiError && e.status === 403 && e.details.stepUpRequired === true;
}

/** A proof the broker did not accept (wrong or reused code, a passkey for something else): worth another try. */
const proofRefused = (e: unknown) => needsStepUp(e) || (e instanceof ApiError && (e.status === 400 || e.status === 401) && 'stepUp' in e.fields);

interface Pending {
  methods: MfaMethod[];
  /** the user has a passkey, but nothing here for it to sign */
  passkeyElsewhere: boolean;
  why: string;
  optionsPath?: string;
  action(proof: MfaProof): Promise<unknown>;
  resolve(value: unknown): void;
  reject(e: unknown): void;
}

export interface StepUp {
  /**
   * Runs `action` without a proof, then — if the broker asks for one — with the proof the user gives.
   * Resolves with the action's result, or undefined when the user cancels.
   */
  attempt<T>(action: (proof: MfaProof | undefined) => Promise<T>, opts?: { optionsPath?: string; why?: string }): Promise<T | undefined>;
  /** the prompt while one is open (render it where the action's buttons are) */
  prompt: ReactNode;
}

export function useStepUp(): StepUp {
  const [pending, setPending] = useState<Pending | null>(null);
  const current = useRef<Pending | null>(null);

  const close = useCallback(() => {
    current.current = null;
    setPending(null);
  }, []);

  const attempt = useCallback(async <T,>(action: (proof: MfaProof | undefined) => Promise<T>, opts: { optionsPath?: string; why?: string } = {}) => {
    try {
      return await action(undefined);
    } catch (e) {
      if (!needsStepUp(e)) throw e;
      const offered = Array.isArray(e.details.methods) ? ALL.filter((m) => (e.details.methods as unknown[]).includes(m)) : ALL;
      // a passkey needs a challenge from the broker: without a place to ask for one, codes only
      const methods = opts.optionsPath ? offered : offered.filter((m) => m !== 'webauthn');
      return new Promise<T | undefined>((resolve, reject) => {
        const p: Pending = {
          methods, passkeyElsewhere: offered.includes('webauthn') && !methods.includes('webauthn'), optionsPath: opts.optionsPath, why: opts.why ?? 'This action needs a fresh confirmation of your second factor.',
          action, resolve: resolve as (v: unknown) => void, reject,
        };
        current.current = p;
        setPending(p);
      });
    }
  }, []);

  const submit = useCallback(async (proof: MfaProof) => {
    const p = current.current;
    if (!p) return;
    try {
      const result = await p.action(proof);
      close();
      p.resolve(result);
    } catch (e) {
      if (proofRefused(e)) throw e;
      close();
      p.reject(e);
    }
  }, [close]);

  const cancel = useCallback(() => {
    const p = current.current;
    close();
    p?.resolve(undefined);
  }, [close]);

  const prompt = pending && (
    <section className="form inset step-up" data-testid="step-up" aria-labelledby="step-up-title">
      <h3 id="step-up-title">Confirm it is you</h3>
      <p className="muted">{pending.why}</p>
      {pending.passkeyElsewhere && (
        <p className="muted small">A passkey cannot confirm this change. Enter a code, or log out and sign in again with your passkey, then retry within a few minutes.</p>
      )}
      {!pending.methods.length ? (
        <p className="alert alert-warn">You have no second factor that can confirm this here. Set one up on your Security page.</p>
      ) : (
        <MfaPrompt methods={pending.methods} idPrefix="step-up" autoFocus submit={submit}
          passkeyOptions={() => post<PublicKeyCredentialRequestOptionsJSON>(pending.optionsPath!)} />
      )}
      <button type="button" className="btn btn-ghost btn-block" onClick={cancel}>Cancel</button>
    </section>
  );

  return { attempt, prompt };
}
