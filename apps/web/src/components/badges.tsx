import type { ReactNode } from 'react';
import { severityTone, statusLook, TIER_LABELS, tierTone, type Tone } from '../lib/status';

export function Badge({ tone, icon, children }: { tone: Tone; icon?: string; children: ReactNode }) {
  return (
    <span className={`badge badge--${tone}`}>
      {icon && <span aria-hidden="true">{icon} </span>}
      {children}
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const look = statusLook(status);
  return (
    <Badge tone={look.tone} icon={look.icon}>
      {status}
    </Badge>
  );
}

/** The most severe finding; never colour alone: the word is always there. */
export function SeverityBadge({ severity }: { severity: string | null | undefined }) {
  if (!severity) return <span className="muted">not scanned</span>;
  if (severity === 'none') return <span className="muted">none</span>;
  const icon = severity === 'malware' || severity === 'critical' ? '▲' : severity === 'high' ? '▲' : undefined;
  return (
    <Badge tone={severityTone(severity)} icon={icon}>
      {severity}
    </Badge>
  );
}

export function TierBadge({ tier }: { tier: string | null | undefined }) {
  const t = tier ?? 'unknown';
  return <Badge tone={tierTone(t)}>{TIER_LABELS[t] ?? t}</Badge>;
}

const ACTION_TONE: Record<string, Tone> = {
  approve: 'success',
  warn: 'info',
  hold: 'warning',
  reject: 'danger',
  wait: 'neutral',
};
const ACTION_ICON: Record<string, string> = { approve: '✓', warn: '!', hold: '‖', reject: '✕', wait: '○' };

/** A policy action or outcome (approve, warn, hold, reject, wait), with an icon so colour is not the only signal. */
export function ActionBadge({ action }: { action: string }) {
  return (
    <Badge tone={ACTION_TONE[action] ?? 'neutral'} icon={ACTION_ICON[action]}>
      {action}
    </Badge>
  );
}
