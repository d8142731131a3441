import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  getRequestProcessing,
  getRequestStatusSummary,
  listRequests,
  progressPercent,
  queryRequestPackages,
  setRequestPriority,
  SETTLED_STATUSES,
  STAGES,
} from '@spm/db';
import { hasRole } from '../plugins/auth.js';
import { visibleRequest } from '../request-access.js';
import { revalidateGets } from '../plugins/revalidate.js';
import {
  authErrors,
  IdParam,
  Nullable,
  PageInfo,
  pageInfo,
  pageOf,
  Pagination,
  Timestamp,
  wantsPage,
} from '../schemas/common.js';
import { Rejection } from '../schemas/packages.js';
import {
  allowedPriority,
  Priority,
  progressOfCounts,
  RequestListQuery,
  RequestPackageSchema,
  requestJson,
  requestPackageJson,
  RequestPackagesQuery,
  RequestSchema,
} from '../schemas/requests.js';

const OptionalPageInfo = Object.fromEntries(Object.entries(PageInfo).map(([k, v]) => [k, Type.Optional(v)]));

/** Request listing and detail, and per-request processing status, under /api/packages. */
const requestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  await revalidateGets(app);

  app.get(
    '/requests',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'Submitted requests, newest first (users see their own; approvers and admins see all)',
        security,
        querystring: RequestListQuery,
        response: { 200: Type.Object({ requests: Type.Array(RequestSchema), ...PageInfo }), ...authErrors() },
      },
    },
    async (request) => {
      const q = request.query;
      const page = pageOf(q);
      const all = hasRole(request.user.role, 'approver');
      const { total, requests } = await listRequests(app.db, {
        requestorId: all ? undefined : request.user.id,
        requestor: all ? q.requestor : undefined,
        q: q.q,
        state: q.state,
        ...page,
      });
      return { requests: requests.map(requestJson), ...pageInfo(total, page) };
    },
  );

  app.get(
    '/requests/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'One request with its packages: state, licence verdict, scan summary, highest severity, signals',
        description:
          'Without page parameters every package is returned (sorted by name). With `page`/`page_size` (or ' +
          '`limit`/`offset`) one page of the packages that match the filters, in the chosen order, and `total` ' +
          'matching. `summary=true` returns the request and its counts only.',
        security,
        params: Type.Object({ id: IdParam }),
        querystring: RequestPackagesQuery,
        response: {
          200: Type.Object({
            request: RequestSchema,
            packages: Type.Optional(Type.Array(RequestPackageSchema)),
            ...OptionalPageInfo,
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const r = await visibleRequest(request, request.params.id);
      const q = request.query;
      if (q.summary === true) return { request: requestJson(r) };
      const page = wantsPage(q) ? pageOf(q) : undefined;
      const { total, packages } = await queryRequestPackages(app.db, r.id, {
        statuses: q.status,
        q: q.q,
        licenseTiers: q.license_tier,
        minSeverity: q.severity,
        link: q.link,
        sort: q.sort,
        order: q.order,
        ...page,
      });
      return {
        request: requestJson(r),
        packages: packages.map(requestPackageJson),
        ...(page ? pageInfo(total, page) : {}),
      };
    },
  );

  app.patch(
    '/requests/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: "Change a request's priority while its packages wait",
        description:
          'Its packages still in the pipeline are re-ranked at once: each runs as soon as the most urgent request ' +
          'that holds it. The requestor may lower their own request (normal or low); approvers and admins may set ' +
          'any priority on any request. Audited as `request.priority`.',
        security,
        params: Type.Object({ id: IdParam }),
        body: Type.Object({ priority: Priority }, { additionalProperties: false }),
        response: {
          200: Type.Object({ request: RequestSchema, repositioned_packages: Type.Integer() }),
          ...authErrors(403, 404),
        },
      },
    },
    async (request) => {
      const r = await visibleRequest(request, request.params.id);
      const priority = allowedPriority(request.user.role, request.body.priority);
      const moved = await setRequestPriority(app.db, r.id, priority, {
        actorId: request.user.id,
        actorUsername: request.user.username,
        ip: request.ip,
        from: r.priority,
      });
      const updated = await visibleRequest(request, r.id);
      return { request: requestJson(updated), repositioned_packages: moved };
    },
  );

  app.get(
    '/requests/:id/processing-status',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'Where each package of a request is: status, progress, time per stage, errors; done when all settled',
        description:
          '`done` is true when every package is Published, Rejected, Pending Approval or in its release cooldown ' +
          '(nothing more happens without a person or the passing of time). `summary=true` leaves out the packages: a small answer to poll (with If-None-Match, ' +
          'a 304 while nothing changed). Page parameters return one page of the packages, by name.',
        security,
        params: Type.Object({ id: IdParam }),
        querystring: Type.Object({
          ...Pagination.properties,
          summary: Type.Optional(Type.Boolean({ description: 'Counts only, no packages' })),
        }),
        response: {
          200: Type.Object({
            request_id: Type.Integer(),
            done: Type.Boolean(),
            progress_percent: Type.Integer(),
            summary: Type.Object({
              total: Type.Integer(),
              by_status: Type.Record(Type.String(), Type.Integer()),
              settled: Type.Integer(),
              in_progress: Type.Integer(),
              pending_approval: Type.Integer(),
              in_cooldown: Type.Integer({
                description: 'Held by the policy until they come of age (counted as settled: decided by time)',
              }),
              published: Type.Integer(),
              rejected: Type.Integer(),
              with_errors: Type.Integer(),
            }),
            packages: Type.Optional(
              Type.Array(
                Type.Object({
                  package_id: Type.Integer(),
                  name: Type.String(),
                  version: Type.String(),
                  status: Type.String(),
                  progress_percent: Type.Integer(),
                  attempts: Type.Integer(),
                  next_attempt_at: Nullable(Timestamp),
                  last_error: Nullable(Type.String()),
                  rejection: Rejection,
                  stage_seconds: Type.Record(Type.String(), Type.Number(), {
                    description: 'Seconds spent working in each stage (licence, download, scan, decide, publish)',
                  }),
                  status_seconds: Type.Record(Type.String(), Type.Number(), {
                    description: 'Seconds spent in each status',
                  }),
                  elapsed_seconds: Type.Number(),
                  decision: Nullable(
                    Type.String({
                      description:
                        'Which rule of which policy version decided, or why it waits (for a person, or a cooldown until a time)',
                    }),
                  ),
                  policy: Nullable(
                    Type.Object({
                      version: Type.Integer(),
                      rule: Nullable(Type.String()),
                      outcome: Type.String(),
                      cooldown_until: Nullable(Timestamp),
                    }),
                  ),
                  updated_at: Timestamp,
                }),
              ),
            ),
            ...OptionalPageInfo,
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const r = await visibleRequest(request, request.params.id);
      const q = request.query;
      const s = await getRequestStatusSummary(app.db, r.id);
      // A package in its release cooldown waits for time, not for the machine: the request is done with it.
      const settled = SETTLED_STATUSES.reduce((n, status) => n + (s.byStatus[status] ?? 0), 0) + s.inCooldown;
      const head = {
        request_id: r.id,
        done: settled === s.total,
        progress_percent: progressOfCounts(s.byStatus),
        summary: {
          total: s.total,
          by_status: s.byStatus,
          settled,
          in_progress: s.total - settled,
          pending_approval: s.byStatus['Pending Approval'] ?? 0,
          in_cooldown: s.inCooldown,
          published: s.byStatus.Published ?? 0,
          rejected: s.byStatus.Rejected ?? 0,
          with_errors: s.withErrors,
        },
      };
      if (q.summary === true) return head;
      const page = wantsPage(q) ? pageOf(q) : undefined;
      const pkgs = await getRequestProcessing(app.db, r.id, page);
      const now = Date.now();
      const packages = pkgs.map((p) => {
        const stageSeconds: Record<string, number> = {};
        for (const st of STAGES) {
          const secs = p.secondsByStatus[st.work];
          if (secs !== undefined) stageSeconds[st.name] = secs;
        }
        return {
          package_id: p.packageId,
          name: p.name,
          version: p.version,
          status: p.status,
          progress_percent: progressPercent(p.status),
          attempts: p.attempts,
          next_attempt_at: p.runAt.getTime() > now && !SETTLED_STATUSES.includes(p.status) ? p.runAt : null,
          last_error: p.lastError,
          rejection: p.rejectionKind || p.rejectionReason ? { kind: p.rejectionKind, reason: p.rejectionReason } : null,
          stage_seconds: stageSeconds,
          status_seconds: p.secondsByStatus,
          elapsed_seconds: p.elapsedSeconds,
          decision: p.policy?.explanation ?? null,
          policy: p.policy && {
            version: p.policy.version,
            rule: p.policy.rule,
            outcome: p.policy.outcome,
            cooldown_until: p.policy.cooldownUntil,
          },
          updated_at: p.updatedAt,
        };
      });
      return { ...head, packages, ...(page ? pageInfo(s.total, page) : {}) };
    },
  );
};

export default requestRoutes;
