// Bad input, shown where it was typed: the broker answers a refused form with `error.details.fields`
// ({path: message}); inside <FieldErrors error={…}> every <Field name="path"> (or <FieldProblem>) with
// a problem is highlighted and says what is wrong, and the form's ErrorBox only says "check the
// highlighted fields" plus whatever no field on the form shows.
import { createContext, useContext, useEffect, useMemo, useRef, type ReactNode, type RefObject } from 'react';
import { ApiError } from '../api/client';

interface Shown {
  name: string;
  /** also shows problems of the paths below it (policy.maintenanceWindow.days …) */
  nested: boolean;
}

interface Scope {
  fields: Record<string, string>;
  shown: RefObject<Shown[]>;
}

const Ctx = createContext<Scope | null>(null);

/** The field problems an error carries ({} for any other error). */
const NONE: Record<string, string> = {};
export function fieldsOf(error: unknown): Record<string, string> {
  return error instanceof ApiError && Object.keys(error.fields).length ? error.fields : NONE;
}

/** A message as a sentence: "must be at least 1" → "Must be at least 1." */
export function sentence(message: string): string {
  const t = message.trim();
  if (!t) return t;
  const s = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?)]$/.test(s) ? s : `${s}.`;
}

export function FieldErrors({ error, children }: { error: unknown; children: ReactNode }) {
  const shown = useRef<Shown[]>([]);
  const fields = fieldsOf(error);
  const value = useMemo(() => ({ fields, shown }), [fields]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

const covers = (s: Shown, path: string) => path === s.name || (s.nested && path.startsWith(`${s.name}.`));

/** The problem of one field (joined, for a nested one), registering that the form shows it. */
export function useFieldProblem(name: string | undefined, nested = false): string | undefined {
  const scope = useContext(Ctx);
  useEffect(() => {
    if (!scope || !name) return;
    const entry = { name, nested };
    scope.shown.current.push(entry);
    return () => {
      scope.shown.current = scope.shown.current.filter((x) => x !== entry);
    };
  }, [scope, name, nested]);
  if (!scope || !name) return undefined;
  const found = Object.entries(scope.fields).filter(([path]) => covers({ name, nested }, path)).map(([, m]) => sentence(m));
  return found.length ? found.join(' ') : undefined;
}

/** A field problem for controls that are not a single <Field> (checkbox groups, a time window). */
export function FieldProblem({ name, nested = false }: { name: string; nested?: boolean }) {
  const problem = useFieldProblem(name, nested);
  return problem ? <small className="field-problem" role="alert" data-field={name}>{problem}</small> : null;
}

/**
 * For a form's ErrorBox: null when the error has no field problems; else the summary line and the
 * problems no field of the form shows (with their paths, so nothing is lost).
 */
export function useFieldSummary(error: unknown): { count: number; unshown: [string, string][] } | null {
  const scope = useContext(Ctx);
  const fields = fieldsOf(error);
  const paths = Object.keys(fields);
  if (!scope || !paths.length) return null;
  const shown = scope.shown.current;
  const unshown = paths.filter((p) => !shown.some((s) => covers(s, p))).map((p) => [p, sentence(fields[p]!)] as [string, string]);
  return { count: paths.length - unshown.length, unshown };
}

/**
 * For a form with one thing to type (a public key, a reason): a refusal of bad input that names no
 * field is about that one, so it is shown there.
 */
export function onField(error: unknown, name: string): unknown {
  if (!(error instanceof ApiError) || error.code !== 'invalid' || Object.keys(error.fields).length) return error;
  return new ApiError(error.status, error.code, error.message, { ...error.details, fields: { [name]: error.message } });
}
