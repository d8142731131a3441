import { useId, useState, type FormEvent } from 'react';
import type { DecisionKind } from '../api/decisions';

/**
 * The reason for a decision, and the buttons. A reason is required for both outcomes: it is what the
 * audit log and the package's history keep about why.
 */
export function DecisionForm({
  decisions = ['approve', 'reject'],
  busy,
  onDecide,
  onCancel,
  what,
  initialReason = '',
  autoFocus = false,
}: {
  decisions?: DecisionKind[];
  busy: boolean;
  onDecide(decision: DecisionKind, reason: string): void;
  onCancel?(): void;
  /** What is decided on, for the field's description ("3 packages"). */
  what: string;
  initialReason?: string;
  /** In a dialog the reason field takes the focus. */
  autoFocus?: boolean;
}) {
  const id = useId();
  const [reason, setReason] = useState(initialReason);
  const [missing, setMissing] = useState(false);
  const decide = (d: DecisionKind) => (e?: FormEvent) => {
    e?.preventDefault();
    if (!reason.trim()) {
      setMissing(true);
      document.getElementById(`${id}-reason`)?.focus();
      return;
    }
    onDecide(d, reason.trim());
  };
  return (
    <form className="form decision-form" onSubmit={decide(decisions[0]!)}>
      <div className="field">
        <label htmlFor={`${id}-reason`}>Reason</label>
        <textarea
          id={`${id}-reason`}
          value={reason}
          required
          maxLength={2000}
          rows={3}
          aria-describedby={`${id}-hint${missing ? ` ${id}-missing` : ''}`}
          aria-invalid={missing || undefined}
          onChange={(e) => {
            setReason(e.target.value);
            setMissing(false);
          }}
          onKeyDown={(e) => {
            // Ctrl+Enter (or Cmd+Enter) decides without leaving the keyboard.
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) decide(decisions[0]!)();
          }}
          autoFocus={autoFocus}
        />
        <p id={`${id}-hint`} className="muted small">
          Kept in the audit log and in the history of {what}. Ctrl+Enter to confirm.
        </p>
        {missing && (
          <p id={`${id}-missing`} className="field-error">
            Give a reason.
          </p>
        )}
      </div>
      <div className="actions">
        {decisions.map((d) => (
          <button
            key={d}
            type="button"
            className={`button ${d === 'approve' ? 'button--primary' : 'button--danger'}`}
            disabled={busy}
            onClick={() => decide(d)()}
          >
            {d === 'approve' ? 'Approve' : 'Reject'}
          </button>
        ))}
        {onCancel && (
          <button type="button" className="button button--quiet" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
