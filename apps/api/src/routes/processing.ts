import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AppError,
  getProcessingStatus,
  getRequest,
  getStageTimings,
  lastSyncRuns,
  retryRejected,
  type AdvisorySyncRun,
  type SecondsStats,
} from '@spm/db';
import { revalidateGets } from '../plugins/revalidate.js';
import { audit } from '../audit.js';
import { authErrors, emptyBodyAsObject, IdParam, Nullable, Timestamp } from '../schemas/common.js';

const Seconds = Type.Object({
  count: Type.Integer(),
  avg: Type.Number(),
  p50: Type.Number(),
  p95: Type.Number(),
  max: Type.Number(),
});

const round = (n: number) => Math.round(n * 1000) / 1000;
function secondsJson(s: SecondsStats | null) {
  return s && { count: s.count, avg: round(s.avg), p50: round(s.p50), p95: round(s.p95), max: round(s.max) };
}

const SyncRun = Type.Object({
  id: Type.Integer(),
  source: Type.String(),
  started_at: Timestamp,
  finished_at: Nullable(Timestamp),
  outcome: Type.String({ description: 'running, imported, not_modified or failed' }),
  http_status: Nullable(Type.Integer()),
  bytes: Nullable(Type.Integer()),
  written: Nullable(Type.Integer()),
  unchanged: Nullable(Type.Integer()),
  rejected: Nullable(Type.Integer()),
  newly_affected: Nullable(Type.Integer()),
  quarantined: Nullable(Type.Integer()),
  resolved: Nullable(Type.Integer()),
  duration_ms: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
});

function syncRunJson(r: AdvisorySyncRun | null) {
  return (
    r && {
      id: r.id,
      source: r.source,
      started_at: r.started_at,
      finished_at: r.finished_at,
      outcome: r.outcome,
      http_status: r.http_status,
      bytes: r.bytes,
      written: r.written,
      unchanged: r.unchanged,
      rejected: r.rejected,
      newly_affected: r.newly_affected,
      quarantined: r.quarantined,
      resolved: r.resolved,
      duration_ms: r.duration_ms,
      error: r.error,
    }
  );
}

/** The pipeline as a whole (GET /api/packages/processing/status) and manual retry (admin). */
const processingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  await revalidateGets(app);

  app.get(
    '/processing/status',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'Pipeline overview: counts per status, queue depth, stuck resets, retries, workers, recent activity',
        security,
        response: {
          200: Type.Object({
            counts: Type.Record(Type.String(), Type.Integer()),
            total: Type.Integer(),
            queue_depth: Type.Integer(),
            runnable_now: Type.Integer(),
            in_progress: Type.Integer(),
            oldest_runnable_age_seconds: Nullable(Type.Number()),
            stuck_resets: Type.Integer(),
            retries: Type.Integer(),
            workers: Type.Array(
              Type.Object({
                id: Type.Optional(Type.String({ description: 'Admins only (it names the host and pid)' })),
                hostname: Type.Optional(Type.String({ description: 'Admins only' })),
                pid: Type.Optional(Type.Integer({ description: 'Admins only' })),
                started_at: Timestamp,
                last_heartbeat: Timestamp,
                heartbeat_age_seconds: Type.Number(),
                in_flight: Type.Integer(),
                alive: Type.Boolean(),
              }),
            ),
            stage_timings: Type.Object(
              {
                events: Type.Integer({ description: 'How many of the newest package events the figures come from' }),
                since: Nullable(Timestamp),
                stages: Type.Array(
                  Type.Object({
                    stage: Type.String(),
                    work: Nullable(Seconds),
                    wait: Nullable(Seconds),
                  }),
                ),
              },
              {
                description:
                  'Seconds per stage: work (held by a worker) and wait (at the checkpoint before a claim), over recent events',
              },
            ),
            advisory_sync: Type.Object(
              { last_run: Nullable(SyncRun), last_success: Nullable(SyncRun) },
              {
                description:
                  'The scheduled advisory sync (ADVISORIES_SYNC_INTERVAL): the newest run and the newest that reached the source',
              },
            ),
            recent_activity: Type.Array(
              Type.Object({
                package_id: Type.Integer(),
                name: Type.String(),
                version: Type.String(),
                from: Nullable(Type.String()),
                to: Type.String(),
                actor: Type.String(),
                reason: Nullable(Type.String()),
                at: Timestamp,
              }),
            ),
          }),
          ...authErrors(),
        },
      },
    },
    async (request) => {
      // Least information: plain users see activity on their own requests only; worker hosts and pids are for admins.
      const role = request.user.role;
      const [s, timings, sync] = await Promise.all([
        getProcessingStatus(app.db, role === 'user' ? { requestorId: request.user.id } : {}),
        getStageTimings(app.db),
        lastSyncRuns(app.db),
      ]);
      return {
        counts: s.counts,
        total: s.total,
        queue_depth: s.queueDepth,
        runnable_now: s.runnableNow,
        in_progress: s.inProgress,
        oldest_runnable_age_seconds: s.oldestRunnableAgeSeconds,
        stuck_resets: s.stuckResets,
        retries: s.retries,
        workers: s.workers.map((w) => ({
          ...(role === 'admin' ? { id: w.id, hostname: w.hostname, pid: w.pid } : {}),
          started_at: w.startedAt,
          last_heartbeat: w.lastHeartbeat,
          heartbeat_age_seconds: w.heartbeatAgeSeconds,
          in_flight: w.inFlight,
          alive: w.alive,
        })),
        stage_timings: {
          events: timings.events,
          since: timings.since,
          stages: timings.stages.map((t) => ({ stage: t.stage, work: secondsJson(t.work), wait: secondsJson(t.wait) })),
        },
        advisory_sync: { last_run: syncRunJson(sync.last), last_success: syncRunJson(sync.lastOk) },
        recent_activity: s.recentActivity.map((a) => ({
          package_id: a.packageId,
          name: a.name,
          version: a.version,
          from: a.from,
          to: a.to,
          actor: a.actor,
          reason: a.reason,
          at: a.at,
        })),
      };
    },
  );

  app.post(
    '/processing/retry',
    {
      config: { access: 'admin' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['packages'],
        summary: 'Re-queue packages rejected by errors (and, with include_policy, by policy); never human rejections',
        security,
        body: Type.Object(
          { request_id: Type.Optional(IdParam), include_policy: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ requeued: Type.Integer(), package_ids: Type.Array(Type.Integer()) }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const requestId = request.body.request_id;
      const includePolicy = request.body.include_policy === true;
      if (requestId !== undefined && !(await getRequest(app.db, requestId))) {
        throw new AppError('ERR_REQUEST_NOT_FOUND', `No request with id ${requestId}.`, { status: 404 });
      }
      const ids = await retryRejected(app.db, {
        requestId,
        includePolicy,
        actor: request.user.username,
        actorKind: 'user',
      });
      await audit(
        request,
        'processing.retry',
        { type: requestId === undefined ? 'queue' : 'request', id: requestId ?? null },
        {
          include_policy: includePolicy,
          requeued: ids.length,
        },
      );
      return { requeued: ids.length, package_ids: ids };
    },
  );
};

export default processingRoutes;
