import { useMutation, useQueryClient } from '@tanstack/react-query';
import { call } from './client';
import { keys } from './queries';
import type { Decision } from './types';

export type DecisionKind = 'approve' | 'reject';

export interface BatchResult {
  results: Decision[];
  approved: number;
  rejected: number;
  skipped: number;
}

/** Approves or rejects packages (one or many) with a reason; refreshes everything that shows them. */
export function useDecide() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (v: { ids: number[]; decision: DecisionKind; reason: string }) =>
      call<BatchResult>('/api/approvals/batch', {
        method: 'POST',
        body: { package_ids: v.ids, decision: v.decision, reason: v.reason },
      }),
    onSuccess: (_res, v) => {
      void client.invalidateQueries({ queryKey: keys.pending });
      void client.invalidateQueries({ queryKey: keys.requests });
      for (const id of v.ids) void client.invalidateQueries({ queryKey: keys.report(id) });
      void client.invalidateQueries({ predicate: (q) => q.queryKey[0] === 'request' });
    },
  });
}

/** "Approved 3 packages." / "Rejected 1 package; 2 were no longer waiting." */
export function describeBatch(r: BatchResult, decision: DecisionKind): string {
  const n = decision === 'approve' ? r.approved : r.rejected;
  const verb = decision === 'approve' ? 'Approved' : 'Rejected';
  const main = `${verb} ${n.toLocaleString()} package${n === 1 ? '' : 's'}.`;
  if (r.skipped === 0) return main;
  return `${main} ${r.skipped.toLocaleString()} ${r.skipped === 1 ? 'was' : 'were'} no longer waiting for approval.`;
}
