import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AppError,
  countLicenseUsage,
  createLicense,
  deleteLicense,
  getLicense,
  listLicenses,
  updateLicense,
  type SupportedLicense,
} from '@spm/db';
import { audit } from '../audit.js';
import { canonicalPolicyId } from '../licenses/spdx.js';
import { authErrors, MultilineText, Nullable, Timestamp } from '../schemas/common.js';

const Tier = Type.Union(
  [Type.Literal('always_allowed'), Type.Literal('allowed'), Type.Literal('avoid'), Type.Literal('blocked')],
  {
    description: 'always_allowed and allowed pass; avoid passes flagged; blocked rejects',
  },
);
const SpdxParam = Type.Object({ spdxId: Type.String({ minLength: 1, maxLength: 200 }) });

const LicenseSchema = Type.Object({
  id: Type.Integer(),
  spdx_id: Type.String(),
  name: Type.String(),
  tier: Tier,
  notes: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

function licenseJson(l: SupportedLicense) {
  return {
    id: l.id,
    spdx_id: l.spdx_id,
    name: l.name,
    tier: l.tier,
    notes: l.notes,
    created_at: l.created_at,
    updated_at: l.updated_at,
  };
}

function validId(raw: string): string {
  const id = canonicalPolicyId(raw);
  if (!id) {
    throw new AppError(
      'ERR_INVALID_SPDX_ID',
      `"${raw.slice(0, 100)}" is not an SPDX licence id (see https://spdx.org/licenses/) or a LicenseRef-* id.`,
      { status: 400 },
    );
  }
  return id;
}

async function mustGet(app: { db: Parameters<typeof getLicense>[0] }, spdxId: string): Promise<SupportedLicense> {
  const l = await getLicense(app.db, spdxId);
  if (!l)
    throw new AppError('ERR_LICENSE_NOT_FOUND', `${spdxId.slice(0, 100)} is not in the licence policy.`, {
      status: 404,
    });
  return l;
}

/** Licence policy CRUD under /api/admin/licenses (admin). Edits take effect for the worker without a restart. */
const adminLicenseRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The licence policy',
        security,
        response: { 200: Type.Object({ licenses: Type.Array(LicenseSchema) }), ...authErrors() },
      },
    },
    async () => ({ licenses: (await listLicenses(app.db)).map(licenseJson) }),
  );

  app.get(
    '/:spdxId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'One licence and how many packages use it',
        security,
        params: SpdxParam,
        response: {
          200: Type.Object({ ...LicenseSchema.properties, packages_using: Type.Integer() }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const l = await mustGet(app, request.params.spdxId);
      return { ...licenseJson(l), packages_using: await countLicenseUsage(app.db, l.spdx_id) };
    },
  );

  app.post(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Add a licence to the policy',
        security,
        body: Type.Object(
          {
            spdx_id: Type.String({ minLength: 1, maxLength: 200 }),
            name: Type.String({ minLength: 1, maxLength: 300 }),
            tier: Tier,
            notes: Type.Optional(Nullable(MultilineText({ maxLength: 2000 }))),
          },
          { additionalProperties: false },
        ),
        response: { 201: LicenseSchema, ...authErrors(409) },
      },
    },
    async (request, reply) => {
      const spdxId = validId(request.body.spdx_id);
      const l = await createLicense(app.db, {
        spdxId,
        name: request.body.name,
        tier: request.body.tier,
        notes: request.body.notes ?? null,
      });
      await audit(request, 'license.create', { type: 'license', id: l.spdx_id }, { tier: l.tier, name: l.name });
      return reply.code(201).send(licenseJson(l));
    },
  );

  app.patch(
    '/:spdxId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change a licence: tier, name, notes',
        security,
        params: SpdxParam,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
            tier: Type.Optional(Tier),
            notes: Type.Optional(Nullable(MultilineText({ maxLength: 2000 }))),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: LicenseSchema, ...authErrors(404) },
      },
    },
    async (request) => {
      const before = await mustGet(app, request.params.spdxId);
      const l = await updateLicense(app.db, before.spdx_id, request.body);
      if (!l)
        throw new AppError('ERR_LICENSE_NOT_FOUND', `${before.spdx_id} is not in the licence policy.`, { status: 404 });
      await audit(
        request,
        'license.update',
        { type: 'license', id: l.spdx_id },
        {
          from: { tier: before.tier, name: before.name, notes: before.notes },
          to: { tier: l.tier, name: l.name, notes: l.notes },
        },
      );
      return licenseJson(l);
    },
  );

  app.delete(
    '/:spdxId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Remove a licence from the policy (409 when packages use it, unless force=true)',
        security,
        params: SpdxParam,
        querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }),
        response: { 204: Type.Null({ description: 'Deleted' }), ...authErrors(404, 409) },
      },
    },
    async (request, reply) => {
      const l = await mustGet(app, request.params.spdxId);
      const force = request.query.force === true;
      const { deleted, usage } = await deleteLicense(app.db, l.spdx_id, { force });
      if (!deleted)
        throw new AppError('ERR_LICENSE_NOT_FOUND', `${l.spdx_id} is not in the licence policy.`, { status: 404 });
      await audit(
        request,
        'license.delete',
        { type: 'license', id: l.spdx_id },
        { tier: l.tier, force, packages_using: usage },
      );
      return reply.code(204).send(null);
    },
  );
};

export default adminLicenseRoutes;
