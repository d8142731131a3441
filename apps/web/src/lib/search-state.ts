import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';

/**
 * Page state kept in the URL (filters, sort, page), so it survives a reload, can be shared, and the back
 * button steps through it. Values are strings; lists repeat the key. Changing anything but `page` goes back
 * to the first page.
 */
export function useSearchState<T extends Record<string, string | string[]>>(defaults: T) {
  const [params, setParams] = useSearchParams();
  const values = useMemo(() => {
    const out: Record<string, string | string[]> = {};
    for (const [k, d] of Object.entries(defaults)) {
      out[k] = Array.isArray(d) ? (params.has(k) ? params.getAll(k) : d) : (params.get(k) ?? d);
    }
    return out as T;
    // defaults is a literal at each call site: its identity changes every render, its content does not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [params]);

  const update = useCallback(
    (patch: Partial<T>) => {
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          for (const [k, v] of Object.entries(patch)) {
            next.delete(k);
            const d = defaults[k];
            if (Array.isArray(v)) v.forEach((x) => next.append(k, x));
            else if (v !== undefined && v !== '' && v !== d) next.set(k, v as string);
          }
          if (!('page' in patch)) next.delete('page');
          return next;
        },
        { replace: false },
      );
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [setParams],
  );
  return [values, update] as const;
}

/** A positive integer from a search value, else the fallback. */
export function intParam(v: string | string[] | undefined, fallback: number): number {
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
