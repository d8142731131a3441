import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError, requestBillOfMaterials } from '@spm/db';
import { visibleRequest } from '../request-access.js';
import { CYCLONEDX_MEDIA_TYPE, cycloneDx } from '../sbom/cyclonedx.js';
import { SPDX_MEDIA_TYPE, spdxDocument } from '../sbom/spdx.js';
import { authErrors, IdParam } from '../schemas/common.js';

const TOOL_VERSION = '0.1.0';

/**
 * GET /api/packages/requests/:id/sbom: the request's software bill of materials, CycloneDX 1.6 JSON
 * (default) or SPDX 2.3 JSON, for whoever may see the request (an API token needs the read scope).
 */
const sbomRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const publicBase = app.config.publicUrl ? app.config.publicUrl.replace(/\/+$/, '') : null;
  app.get(
    '/requests/:id/sbom',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: "A request's software bill of materials: CycloneDX 1.6 or SPDX 2.3 JSON",
        description:
          'Every package of the request with its purl, hashes (lockfile, registry and the stored tarball), licence, ' +
          "the gate's status and policy decision, and the vulnerabilities of its latest scan. A vulnerability an approver " +
          'waived carries a VEX analysis (CycloneDX `analysis.state: not_affected` with the waiver; SPDX: a review ' +
          'annotation). The download location is the vetted tarball on this server.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: IdParam }),
        querystring: Type.Object(
          {
            format: Type.Optional(
              Type.Union([Type.Literal('cyclonedx'), Type.Literal('spdx')], {
                description: 'cyclonedx (default): CycloneDX 1.6 JSON; spdx: SPDX 2.3 JSON',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unknown({ description: `${CYCLONEDX_MEDIA_TYPE}, or ${SPDX_MEDIA_TYPE}` }),
          ...authErrors(404),
        },
      },
    },
    async (request, reply) => {
      await visibleRequest(request, request.params.id);
      const bom = await requestBillOfMaterials(app.db, request.params.id);
      if (!bom) {
        throw new AppError('ERR_REQUEST_NOT_FOUND', `No request with id ${request.params.id}.`, { status: 404 });
      }
      const base = publicBase ?? `${request.protocol}://${request.host}`;
      const servedRegistry = `${base}/registry/`;
      const spdx = request.query.format === 'spdx';
      const body = spdx
        ? spdxDocument(bom, { toolVersion: TOOL_VERSION, servedRegistry, namespaceBase: `${base}/` })
        : cycloneDx(bom, { toolVersion: TOOL_VERSION, servedRegistry });
      const file = `${bom.applicationName.replace(/[^A-Za-z0-9._-]+/g, '_')}-${bom.applicationVersion.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
      return reply
        .header('content-type', spdx ? SPDX_MEDIA_TYPE : CYCLONEDX_MEDIA_TYPE)
        .header('content-disposition', `attachment; filename="${file}.${spdx ? 'spdx' : 'cdx'}.json"`)
        .send(body);
    },
  );
};

export default sbomRoutes;
