import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { SETTLED_STATUSES } from '@spm/db/vocabulary';
import { call, qs } from './client';
import type {
  AdminUser,
  AdvisoryImpact,
  PackageImpact,
  QuarantinedPackage,
  ApiToken,
  PolicyVersion,
  AuditEntry,
  License,
  Page,
  PackageReport,
  PendingPackage,
  ProcessingStatus,
  ProcessingSummary,
  RequestDetail,
  RequestSummary,
} from './types';

/* One hook per read the pages make; the query keys name what they hold, so a write can refresh them. */

export const keys = {
  requests: ['requests'] as const,
  request: (id: number) => ['request', id] as const,
  report: (id: number) => ['report', id] as const,
  pending: ['pending'] as const,
  licenses: ['licenses'] as const,
  users: ['users'] as const,
  audit: ['audit'] as const,
  processing: ['processing'] as const,
  tokens: ['tokens'] as const,
  policy: ['policy'] as const,
  quarantine: ['quarantine'] as const,
  impact: ['impact'] as const,
};

export function useRequests(params: {
  page: number;
  page_size: number;
  q?: string;
  state?: string;
  requestor?: string;
}) {
  return useQuery({
    queryKey: [...keys.requests, params],
    queryFn: ({ signal }) =>
      call<{ requests: RequestSummary[] } & Page>(`/api/packages/requests${qs(params)}`, { signal }),
    placeholderData: keepPreviousData,
    // Requests still moving are refreshed while the list is open.
    refetchInterval: (q) => (q.state.data?.requests.some((r) => hasWork(r.status_counts)) ? 4000 : false),
  });
}

function hasWork(counts: Record<string, number>): boolean {
  return Object.keys(counts).some((s) => !SETTLED_STATUSES.includes(s));
}

/** The live summary of a request: polled every 2 s until every package has settled (304s while unchanged). */
export function useRequestSummary(id: number) {
  return useQuery({
    queryKey: [...keys.request(id), 'summary'],
    queryFn: ({ signal }) =>
      call<ProcessingSummary>(`/api/packages/requests/${id}/processing-status?summary=true`, { signal }),
    refetchInterval: (q) => (q.state.data?.done ? false : 2000),
  });
}

export interface PackageTableParams {
  page: number;
  page_size: number;
  sort: string;
  order: string;
  q?: string;
  status?: string[];
  severity?: string;
  license_tier?: string[];
}

export function useRequestPackages(id: number, params: PackageTableParams) {
  return useQuery({
    queryKey: [...keys.request(id), 'packages', params],
    queryFn: ({ signal }) => call<RequestDetail>(`/api/packages/requests/${id}${qs(params)}`, { signal }),
    placeholderData: keepPreviousData,
  });
}

export function useReport(id: number) {
  return useQuery({
    queryKey: keys.report(id),
    queryFn: ({ signal }) => call<PackageReport>(`/api/packages/${id}/report`, { signal }),
    // A package still in the pipeline changes; one that settled does not.
    refetchInterval: (q) => {
      const s = q.state.data?.status.status;
      return s && !SETTLED_STATUSES.includes(s) ? 3000 : false;
    },
  });
}

export function usePending(params: Record<string, unknown>) {
  return useQuery({
    queryKey: [...keys.pending, params],
    queryFn: ({ signal }) =>
      call<{ packages: PendingPackage[] } & Page>(`/api/approvals/pending${qs(params)}`, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
}

export function useLicenses() {
  return useQuery({
    queryKey: keys.licenses,
    queryFn: ({ signal }) => call<{ licenses: License[] }>('/api/admin/licenses', { signal }),
  });
}

export function useUsers() {
  return useQuery({
    queryKey: keys.users,
    queryFn: ({ signal }) => call<{ users: AdminUser[] }>('/api/admin/users', { signal }),
  });
}

export function useAudit(params: Record<string, unknown>) {
  return useQuery({
    queryKey: [...keys.audit, params],
    queryFn: ({ signal }) => call<{ entries: AuditEntry[] } & Page>(`/api/admin/audit${qs(params)}`, { signal }),
    placeholderData: keepPreviousData,
  });
}

export function useProcessing() {
  return useQuery({
    queryKey: keys.processing,
    queryFn: ({ signal }) => call<ProcessingStatus>('/api/packages/processing/status', { signal }),
    refetchInterval: 5000,
  });
}

export function useApiTokens() {
  return useQuery({
    queryKey: keys.tokens,
    queryFn: ({ signal }) => call<{ tokens: ApiToken[] }>('/api/auth/tokens', { signal }),
  });
}

/** The approval policy in force. */
export function usePolicy() {
  return useQuery({
    queryKey: keys.policy,
    queryFn: ({ signal }) => call<PolicyVersion>('/api/admin/policy', { signal }),
  });
}

export function usePolicyVersions(params: { page: number; page_size: number }) {
  return useQuery({
    queryKey: [...keys.policy, 'versions', params],
    queryFn: ({ signal }) =>
      call<{ versions: PolicyVersion[] } & Page>(`/api/admin/policy/versions${qs(params)}`, { signal }),
    placeholderData: keepPreviousData,
  });
}

export function useQuarantine() {
  return useQuery({
    queryKey: keys.quarantine,
    queryFn: ({ signal }) =>
      call<{ packages: QuarantinedPackage[] }>('/api/approvals/quarantine?page_size=200', { signal }),
    refetchInterval: 30_000,
  });
}

/** Advisories that matched a version after its approval, and who includes it (approvers and admins). */
export function usePackageImpact(id: number, enabled: boolean) {
  return useQuery({
    queryKey: [...keys.impact, 'package', id],
    queryFn: ({ signal }) => call<PackageImpact>(`/api/impact/packages/${id}`, { signal }),
    enabled,
  });
}

export function useAdvisoryImpact(id: string) {
  return useQuery({
    queryKey: [...keys.impact, 'advisory', id],
    queryFn: ({ signal }) => call<AdvisoryImpact>(`/api/impact/advisories/${encodeURIComponent(id)}`, { signal }),
    enabled: id !== '',
    retry: false,
  });
}
