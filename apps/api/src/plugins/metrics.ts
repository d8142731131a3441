import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ALL_STATUSES, getProcessingStatus, webhookDeliveryStats, type DB } from '@spm/db';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { registry: Registry; refreshQueueGauges(): Promise<void> };
  }
}

/**
 * Prometheus metrics in a registry of this app instance (tests build many apps): an HTTP request
 * duration histogram labelled by route pattern (never the raw URL, to bound cardinality), and queue
 * gauges read from the database when /metrics is scraped.
 */
export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const http = new Histogram({
      name: 'spm_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const errors = new Counter({
      name: 'spm_http_errors_total',
      help: 'HTTP responses with a 5xx status',
      labelNames: ['route'] as const,
      registers: [registry],
    });
    const byStatus = new Gauge({
      name: 'spm_packages',
      help: 'Packages per pipeline status',
      labelNames: ['status'] as const,
      registers: [registry],
    });
    const queueDepth = new Gauge({
      name: 'spm_queue_depth',
      help: 'Packages at a runnable checkpoint',
      registers: [registry],
    });
    const runnable = new Gauge({
      name: 'spm_queue_runnable_now',
      help: 'Packages runnable now (run_at reached)',
      registers: [registry],
    });
    const inProgress = new Gauge({
      name: 'spm_queue_in_progress',
      help: 'Packages held by a worker',
      registers: [registry],
    });
    const oldest = new Gauge({
      name: 'spm_queue_oldest_runnable_age_seconds',
      help: 'Age of the oldest runnable package',
      registers: [registry],
    });
    const stuck = new Gauge({
      name: 'spm_queue_stuck_resets',
      help: 'Stuck or lease-expired resets recorded on packages',
      registers: [registry],
    });
    const retries = new Gauge({
      name: 'spm_queue_manual_retries',
      help: 'Manual retries recorded on packages',
      registers: [registry],
    });
    const workers = new Gauge({
      name: 'spm_workers_alive',
      help: 'Workers with a recent heartbeat',
      registers: [registry],
    });
    const staleWorkers = new Gauge({
      name: 'spm_workers_stale',
      help: 'Workers that never shut down but whose heartbeat is no longer recent (crashed or hung)',
      registers: [registry],
    });
    const pendingAge = new Gauge({
      name: 'spm_pending_approval_oldest_age_seconds',
      help: 'How long the package that has waited longest for a person has waited (0 when none waits)',
      registers: [registry],
    });

    const webhooksFailed = new Gauge({
      name: 'spm_webhook_deliveries_failed',
      help: 'Webhook deliveries that failed for good (WEBHOOK_MAX_ATTEMPTS reached) and were not redelivered',
      registers: [registry],
    });
    const webhooksRetrying = new Gauge({
      name: 'spm_webhook_deliveries_retrying',
      help: 'Webhook deliveries waiting for another attempt after a failure',
      registers: [registry],
    });

    const refreshQueueGauges = async (): Promise<void> => {
      const [s, hooks] = await Promise.all([
        getProcessingStatus(app.db as DB, { recentLimit: 1 }),
        webhookDeliveryStats(app.db as DB),
      ]);
      webhooksFailed.set(hooks.failed);
      webhooksRetrying.set(hooks.retrying);
      for (const status of ALL_STATUSES) byStatus.set({ status }, s.counts[status] ?? 0);
      queueDepth.set(s.queueDepth);
      runnable.set(s.runnableNow);
      inProgress.set(s.inProgress);
      oldest.set(s.oldestRunnableAgeSeconds ?? 0);
      stuck.set(s.stuckResets);
      retries.set(s.retries);
      workers.set(s.workers.filter((w) => w.alive).length);
      staleWorkers.set(s.workers.filter((w) => w.stale).length);
      pendingAge.set(s.pendingApprovalOldestAgeSeconds ?? 0);
    };

    app.decorate('metrics', { registry, refreshQueueGauges });
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      http.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
      if (reply.statusCode >= 500) errors.inc({ route });
    });
  },
  { name: 'spm-metrics', dependencies: ['spm-db'] },
);
