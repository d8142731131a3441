import type { ReactNode } from 'react';
import { ApiError } from '../api/client';

export function Loading({ label = 'Loading' }: { label?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}…
    </p>
  );
}

/** An error for a person: what went wrong in words, with the API's code for a bug report. */
export function ErrorMessage({ error, title = 'Something went wrong' }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  return (
    <div className="alert alert--error" role="alert">
      <p className="alert__title">
        <span aria-hidden="true">✕ </span>
        {title}
      </p>
      <p>{e ? e.message : String((error as Error).message ?? error)}</p>
      {e && e.code && <p className="muted small">Code: {e.code}</p>}
    </div>
  );
}

export function Notice({ children, kind = 'info' }: { children: ReactNode; kind?: 'info' | 'success' | 'warning' }) {
  const icon = { info: 'ℹ', success: '✓', warning: '!' }[kind];
  return (
    <div className={`alert alert--${kind}`} role="status">
      <p>
        <span aria-hidden="true">{icon} </span>
        {children}
      </p>
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
