import { useCallback, useEffect, useRef, useState } from 'react';
import { get, type Query } from '../api/client';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  reload(): void;
}

/**
 * GETs a path (null: nothing yet) and keeps the answer; `pollMs` refreshes it in the background
 * (while the tab is visible) so statuses and queues stay live.
 */
export function useApi<T>(path: string | null, query?: Query, opts: { pollMs?: number } = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const key = path === null ? null : JSON.stringify([path, query ?? {}]);
  const lastKey = useRef<string | null>(null);

  useEffect(() => {
    if (key === null) return;
    let live = true;
    const [p, q] = JSON.parse(key) as [string, Query];
    // a new question clears the old answer; a refresh of the same one keeps it on screen
    if (lastKey.current !== key) {
      setData(undefined);
      setLoading(true);
      lastKey.current = key;
    }
    get<T>(p, q)
      .then((d) => live && (setData(d), setError(null)))
      .catch((e: Error) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [key, tick]);

  useEffect(() => {
    if (!opts.pollMs || key === null) return;
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, opts.pollMs);
    return () => clearInterval(t);
  }, [opts.pollMs, key]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** The current time, re-rendering every `ms` (countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Sets the page title: "Approvals · Portcullis". */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Portcullis`;
  }, [title]);
}
