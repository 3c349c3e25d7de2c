import { cloneElement, isValidElement, useCallback, useId, useState, type ReactElement, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { sentence, useFieldProblem, useFieldSummary } from './form-errors';
import { fmtCountdown } from '../lib/format';
import { useNow, useTitle } from '../lib/hooks';

export function Page({ title, subtitle, actions, children }: { title: string; subtitle?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  useTitle(title);
  return (
    <section className="page">
      <header className="page-head">
        <div>
          <h1>{title}</h1>
          {subtitle && <p className="muted">{subtitle}</p>}
        </div>
        {actions && <div className="page-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Card({ title, actions, children, className = '' }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <div className={`card ${className}`}>
      {(title || actions) && (
        <div className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      {children}
    </div>
  );
}

const TONES: Record<string, string> = {
  pending: 'warn', scheduled: 'info', active: 'ok', approved: 'ok', deployed: 'ok', live: 'ok', approve: 'ok',
  denied: 'bad', deny: 'bad', revoked: 'bad', retired: 'muted', expired: 'muted', cancelled: 'muted', staged: 'info',
  suspended: 'warn', error: 'bad', client_closed: 'muted', device_closed: 'muted', critical: 'bad', high: 'warn',
  medium: 'info', low: 'muted', disabled: 'bad', verified: 'ok', broken: 'bad', emergency: 'bad', locked: 'bad',
};

export function Badge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge tone-${TONES[value] ?? 'muted'}`} data-status={value}>{label ?? value.replace(/_/g, ' ')}</span>;
}

export function ErrorBox({ error }: { error: unknown }) {
  const summary = useFieldSummary(error);
  if (!error) return null;
  if (summary) {
    // inside a form: the fields say what is wrong; here only what no field shows
    return (
      <div className="alert alert-bad" role="alert" data-testid="form-problems">
        {summary.count > 0 && <strong>Please check the highlighted field{summary.count === 1 ? '' : 's'}.</strong>}
        {summary.unshown.length > 0 && (
          <ul className="compact">{summary.unshown.map(([path, m]) => <li key={path}><span className="mono">{path}</span>: {m}</li>)}</ul>
        )}
      </div>
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError ? error.status : 0;
  return (
    <div className="alert alert-bad" role="alert">
      {status === 403 ? <strong>Not allowed. </strong> : status === 404 ? <strong>Not found. </strong> : null}
      {sentence(message)}
    </div>
  );
}

export const Loading = ({ what = 'Loading' }: { what?: string }) => <p className="muted loading">{what}…</p>;
export const Empty = ({ children }: { children: ReactNode }) => <p className="empty muted">{children}</p>;

export function Countdown({ to, prefix = '' }: { to: string; prefix?: string }) {
  const now = useNow(1000);
  const left = new Date(to).getTime() - now;
  const tone = left <= 60_000 ? 'bad' : left <= 5 * 60_000 ? 'warn' : 'ok';
  return (
    <span className={`countdown tone-text-${tone}`} title={new Date(to).toLocaleString()} data-testid="countdown">
      {left > 0 ? `${prefix}${fmtCountdown(left)}` : 'ended'}
    </span>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'done' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('done');
    } catch {
      setState('failed');
    }
    setTimeout(() => setState('idle'), 2000);
  };
  return (
    <button type="button" className="btn btn-small" onClick={copy} aria-label={label} title={label}>
      {state === 'done' ? 'Copied ✓' : state === 'failed' ? 'Select and copy' : 'Copy'}
    </button>
  );
}

/** A read-only block of text with a copy button: certificates, commands, known_hosts lines. */
export function CopyBlock({ label, text, testId }: { label: string; text: string; testId?: string }) {
  return (
    <div className="copy-block">
      <div className="copy-head">
        <span className="label">{label}</span>
        <CopyButton text={text} label={`Copy ${label.toLowerCase()}`} />
      </div>
      <pre data-testid={testId} tabIndex={0}>{text}</pre>
    </div>
  );
}

/**
 * A labelled control; a single child control without an id gets one, so the label names it. `name` is
 * the request field it fills: inside <FieldErrors>, the broker's problem with it is shown and marked.
 */
export function Field({ label, hint, children, htmlFor, name }: { label: string; hint?: ReactNode; children: ReactNode; htmlFor?: string; name?: string }) {
  const generated = useId();
  const problem = useFieldProblem(name);
  let id = htmlFor;
  let control = children;
  if (isValidElement(children)) {
    const el = children as ReactElement<{ id?: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }>;
    id = id ?? el.props.id ?? generated;
    const extra = problem ? { 'aria-invalid': true, 'aria-describedby': `${id}-problem` } : {};
    if (!el.props.id || problem) control = cloneElement(el, { id: el.props.id ?? id, ...extra });
  }
  return (
    <div className={`field${problem ? ' has-problem' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {control}
      {problem && <small className="field-problem" id={`${id}-problem`} data-field={name}>{problem}</small>}
      {hint && <small className="hint">{hint}</small>}
    </div>
  );
}

export function KV({ items }: { items: [ReactNode, ReactNode][] }) {
  return (
    <dl className="kv">
      {items.map(([k, v], i) => (
        <div key={i}>
          <dt>{k}</dt>
          <dd>{v ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Runs one user action at a time, keeping its error for display. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

export function NotAllowed({ need }: { need?: string }) {
  useTitle('Not allowed');
  return (
    <section className="page">
      <div className="card not-allowed" role="alert">
        <h1>Not allowed</h1>
        <p>
          Your account does not have access to this page{need ? ` (it needs the ${need} role)` : ''}. If you need it, ask your
          Portcullis administrator.
        </p>
      </div>
    </section>
  );
}
