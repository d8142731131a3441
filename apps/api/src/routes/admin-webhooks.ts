import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AppError,
  checkWebhookHost,
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhooks,
  parseWebhookUrl,
  queuePing,
  redeliverWebhook,
  updateWebhook,
  WEBHOOK_EVENTS,
  type Webhook,
} from '@spm/db';
import { audit } from '../audit.js';
import {
  authErrors,
  IdParam,
  MultilineText,
  Nullable,
  pageInfo,
  pageOf,
  Pagination,
  Timestamp,
} from '../schemas/common.js';

const EventName = Type.Union(
  WEBHOOK_EVENTS.map((e) => Type.Literal(e)),
  { description: 'request.settled, package.pending_approval, package.rejected, package.published' },
);
const Events = Type.Array(EventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true });
const Url = Type.String({ minLength: 1, maxLength: 2000, description: 'An http or https URL (no credentials in it)' });
const Secret = Type.String({
  minLength: 16,
  maxLength: 200,
  pattern: '^[\\x21-\\x7e]+$',
  description: 'The signing secret (16+ printable characters); generated when omitted and shown once',
});
const WebhookParams = Type.Object({ id: IdParam });

const WebhookSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  enabled: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const DeliverySchema = Type.Object({
  id: Type.Integer(),
  event_id: Type.String(),
  event_type: Type.String(),
  status: Type.String({ description: 'pending, delivered or failed' }),
  attempts: Type.Integer(),
  next_attempt_at: Timestamp,
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  last_attempt_at: Nullable(Timestamp),
  delivered_at: Nullable(Timestamp),
  created_at: Timestamp,
});

function webhookJson(w: Webhook) {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    description: w.description,
    enabled: w.enabled,
    created_at: w.created_at,
    updated_at: w.updated_at,
  };
}

/**
 * Webhook endpoints under /api/admin/webhooks (admin): register, list, change, remove, the delivery
 * log, redelivery and a test ping. The worker delivers (apps/worker/src/webhooks.ts); docs/webhooks.md
 * says what a receiver gets and how to verify it.
 */
const adminWebhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  const allowPrivate = app.config.webhookAllowPrivate;

  async function validUrl(raw: string): Promise<string> {
    const url = parseWebhookUrl(raw);
    await checkWebhookHost(url, allowPrivate);
    return url.toString();
  }

  async function mustGet(id: number): Promise<Webhook> {
    const w = await getWebhook(app.db, id);
    if (!w) throw new AppError('ERR_WEBHOOK_NOT_FOUND', `There is no webhook ${id}.`, { status: 404 });
    return w;
  }

  app.get(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The webhook endpoints (secrets are never shown again)',
        security,
        response: { 200: Type.Object({ webhooks: Type.Array(WebhookSchema) }), ...authErrors() },
      },
    },
    async () => ({ webhooks: (await listWebhooks(app.db)).map(webhookJson) }),
  );

  app.post(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Register a webhook endpoint',
        description:
          'http(s) only; loopback, private and link-local addresses are refused unless WEBHOOK_ALLOW_PRIVATE=true. The answer carries the signing secret, once.',
        security,
        body: Type.Object(
          {
            url: Url,
            events: Events,
            secret: Type.Optional(Secret),
            description: Type.Optional(Nullable(MultilineText({ maxLength: 500 }))),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ ...WebhookSchema.properties, secret: Type.String() }), ...authErrors() },
      },
    },
    async (request, reply) => {
      const url = await validUrl(request.body.url);
      const secret = request.body.secret ?? `whsec_${randomBytes(32).toString('base64url')}`;
      const w = await createWebhook(app.db, {
        url,
        secret,
        events: request.body.events,
        description: request.body.description ?? null,
        createdBy: request.user.id,
      });
      await audit(request, 'webhook.create', { type: 'webhook', id: w.id }, { url: w.url, events: w.events });
      return reply.code(201).send({ ...webhookJson(w), secret });
    },
  );

  app.patch(
    '/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change a webhook endpoint: URL, events, secret, description, enabled',
        security,
        params: WebhookParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Events),
            secret: Type.Optional(Secret),
            description: Type.Optional(Nullable(MultilineText({ maxLength: 500 }))),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: WebhookSchema, ...authErrors(404) },
      },
    },
    async (request) => {
      const before = await mustGet(request.params.id);
      const { url, ...rest } = request.body;
      const w = await updateWebhook(app.db, before.id, {
        ...rest,
        ...(url !== undefined && { url: await validUrl(url) }),
      });
      if (!w) throw new AppError('ERR_WEBHOOK_NOT_FOUND', `There is no webhook ${before.id}.`, { status: 404 });
      await audit(
        request,
        'webhook.update',
        { type: 'webhook', id: w.id },
        {
          from: { url: before.url, events: before.events, enabled: before.enabled },
          to: { url: w.url, events: w.events, enabled: w.enabled },
          secret_changed: rest.secret !== undefined,
        },
      );
      return webhookJson(w);
    },
  );

  app.delete(
    '/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Remove a webhook endpoint and its delivery log',
        security,
        params: WebhookParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...authErrors(404) },
      },
    },
    async (request, reply) => {
      const w = await mustGet(request.params.id);
      if (!(await deleteWebhook(app.db, w.id)))
        throw new AppError('ERR_WEBHOOK_NOT_FOUND', `There is no webhook ${w.id}.`, { status: 404 });
      await audit(request, 'webhook.delete', { type: 'webhook', id: w.id }, { url: w.url });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:id/deliveries',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "A webhook endpoint's delivery log, newest first",
        security,
        params: WebhookParams,
        querystring: Type.Object({
          ...Pagination.properties,
          status: Type.Optional(
            Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
          ),
        }),
        response: {
          200: Type.Object({
            deliveries: Type.Array(DeliverySchema),
            total: Type.Integer(),
            limit: Type.Integer(),
            offset: Type.Integer(),
            page: Type.Integer(),
            page_size: Type.Integer(),
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const w = await mustGet(request.params.id);
      const page = pageOf(request.query);
      const { deliveries, total } = await listWebhookDeliveries(app.db, w.id, {
        ...page,
        status: request.query.status,
      });
      return { deliveries, ...pageInfo(total, page) };
    },
  );

  app.post(
    '/:id/deliveries/:deliveryId/redeliver',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Send a delivery again (same event id), now',
        security,
        params: Type.Object({ id: IdParam, deliveryId: IdParam }),
        response: { 202: Type.Object({ id: Type.Integer(), event_id: Type.String() }), ...authErrors(404) },
      },
    },
    async (request, reply) => {
      const w = await mustGet(request.params.id);
      const d = await redeliverWebhook(app.db, w.id, request.params.deliveryId);
      if (!d)
        throw new AppError(
          'ERR_WEBHOOK_DELIVERY_NOT_FOUND',
          `Webhook ${w.id} has no delivery ${request.params.deliveryId}.`,
          { status: 404 },
        );
      await audit(request, 'webhook.redeliver', { type: 'webhook', id: w.id }, d);
      return reply.code(202).send(d);
    },
  );

  app.post(
    '/:id/ping',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Queue a `ping` event to this endpoint, to test it',
        security,
        params: WebhookParams,
        response: { 202: Type.Object({ event_id: Type.String() }), ...authErrors(404) },
      },
    },
    async (request, reply) => {
      const w = await mustGet(request.params.id);
      const eventId = await queuePing(app.db, w.id, request.user.username);
      return reply.code(202).send({ event_id: eventId });
    },
  );
};

export default adminWebhookRoutes;
