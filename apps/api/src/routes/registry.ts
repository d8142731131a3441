import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type {} from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import validateName from 'validate-npm-package-name';
import {
  Status,
  findRegistryVersion,
  isAppError,
  listRegistryVersions,
  quarantineMessage,
  type DB,
  type RegistryVersion,
} from '@spm/db';
import {
  ABBREVIATED_CONTENT_TYPE,
  abbreviatePackument,
  buildPackument,
  tarballFileName,
  versionFromFileName,
  type ServedVersion,
} from '../registry/packument.js';
import { TarballStore } from '../registry/store.js';

export interface RegistryRoutesOptions {
  db: DB;
  config: {
    /** Where the worker stores tarballs (PACKAGE_CACHE_DIR); storage keys are relative to it. */
    packageCacheDir: string;
    /** The API's external base URL (PUBLIC_URL); without it tarball URLs follow the request's host and protocol. */
    publicUrl?: string | null;
    /** REGISTRY_REQUIRE_AUTH: only callers with credentials are served. */
    registryRequireAuth?: boolean;
    /** QUARANTINE_CONTACT: whom the message about a quarantined version says to ask. */
    quarantineContact?: string | null;
  };
  /**
   * Checks the credentials of a caller that sent an Authorization header (the API's auth plugin: an API
   * token with the `registry` scope, or a session token); throws an AppError 401/403 otherwise. Without
   * it every caller is anonymous.
   */
  authenticate?: (request: FastifyRequest) => Promise<unknown>;
}

const NpmError = Type.Object(
  { error: Type.String() },
  { description: 'npm-style error: npm prints `error` to the user' },
);
const Packument = Type.Object({}, { additionalProperties: true, description: 'full or abbreviated packument' });
const Name = Type.String({ description: 'package name; scoped names as `@scope%2fname`' });
const errors = { 400: NpmError, 404: NpmError, 451: NpmError, 500: NpmError, 503: NpmError };
const tags = ['registry'];

const READ_ONLY =
  'the secure registry is read-only: packages reach it by being submitted in a lockfile, vetted and approved';

type NameParams = { name: string };
type PairParams = { a: string; b: string };
type ScopedVersionParams = { scope: string; name: string; version: string };
type TarballParams = { name: string; file: string };
type ScopedTarballParams = { scope: string; name: string; file: string };

class NpmHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

// PostgreSQL unreachable or restarting: npm retries a 503.
function isDbUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '53300'].includes(code)
  );
}

const notFound = (message: string) => new NpmHttpError(404, message);

function checkName(name: string): string {
  const v = validateName(name);
  if (!v.validForOldPackages) throw new NpmHttpError(400, `${JSON.stringify(name)} is not a valid package name`);
  return name;
}

/** The quarantine message of a version, or null when it is not quarantined. */
function quarantineOf(row: RegistryVersion, contact: string | null | undefined): string | null {
  return row.quarantinedBy ? quarantineMessage(`${row.name}@${row.version}`, row.quarantinedBy, contact) : null;
}

function describeStatus(row: RegistryVersion): string {
  return `${row.name}@${row.version} is not approved for use (status: ${row.status})`;
}

/** Why no version of `name` can be served, naming the statuses of the versions that exist. */
function noPublishedVersions(name: string, rows: RegistryVersion[]): string {
  if (rows.length === 0) return `${name} is not approved for use: no version of it was ever submitted for vetting`;
  const shown = rows.slice(-5).map((r) => `${r.version}: ${r.status}`);
  const more = rows.length > shown.length ? `, and ${rows.length - shown.length} more` : '';
  return `${name} is not approved for use: no version is published yet (${shown.join(', ')}${more})`;
}

/**
 * The built-in, read-only npm registry of published packages, mounted under a prefix (`/registry`):
 * packuments (full, and abbreviated for `Accept: application/vnd.npm.install-v1+json`) that list only
 * Published versions, tarballs streamed from the package cache, npm-style `{ "error": "…" }` answers
 * that say why a version is not available, and 405 for every write. Anonymous by default: anyone who can
 * reach the API can install vetted packages, as from a public registry mirror, but an anonymous caller's
 * 404 says only "not available" (which versions were submitted and their state is for signed-in callers).
 * With `registryRequireAuth` every request needs a token (npm sends `_authToken` from .npmrc as a bearer).
 */
export default async function registryRoutes(app: FastifyInstance, opts: RegistryRoutesOptions): Promise<void> {
  const { db, config } = opts;
  const store = new TarballStore(config.packageCacheDir);
  const prefix = app.prefix;
  const publicBase = config.publicUrl ? config.publicUrl.replace(/\/+$/, '') : null;

  // Callers whose credentials were checked: they get the detailed reason in a 404.
  const authenticated = new WeakSet<FastifyRequest>();
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.authorization !== undefined && opts.authenticate) {
      await opts.authenticate(req);
      authenticated.add(req);
      return;
    }
    if (config.registryRequireAuth) {
      void reply.header('www-authenticate', 'Bearer realm="registry"');
      throw new NpmHttpError(
        401,
        'this registry needs a token: add //<host>/registry/:_authToken=<an API token with the registry scope> to .npmrc',
      );
    }
  });
  /** The detailed reason for a signed-in caller, only "not available" for anyone else. */
  const notAvailable = (req: FastifyRequest, spec: string, detail: () => string) =>
    notFound(authenticated.has(req) ? detail() : `${spec} is not available`);

  const baseUrl = (req: FastifyRequest) => `${publicBase ?? `${req.protocol}://${req.host}`}${prefix}/`;

  // Writes are refused without reading their bodies: `npm publish` to this registry gets the 405, not a 413.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => {
    payload.resume();
    done(null, undefined);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    if (err instanceof NpmHttpError) return reply.code(err.statusCode).send({ error: err.message });
    if (isAppError(err) && err.status < 500) return reply.code(err.status).send({ error: err.message });
    if (err.validation || (err.statusCode && err.statusCode < 500)) {
      return reply.code(err.statusCode ?? 400).send({ error: err.message });
    }
    if (isDbUnavailable(err)) {
      req.log.warn({ err }, 'registry request failed: database unavailable');
      return reply.code(503).send({ error: 'the secure registry is temporarily unavailable; try again shortly' });
    }
    req.log.error({ err }, 'registry request failed');
    return reply.code(500).send({ error: 'internal error in the secure registry; the server log has the details' });
  });
  app.setNotFoundHandler((req, reply) => {
    const write = !['GET', 'HEAD', 'OPTIONS'].includes(req.method);
    if (write) return reply.code(405).header('allow', 'GET, HEAD').send({ error: READ_ONLY });
    return reply.code(404).send({ error: 'Not found' });
  });

  /**
   * 451 for a quarantined version's document and tarball, to every caller: the advisory is public and
   * npm prints this message, which is the only way the person installing learns why.
   */
  function refuseQuarantined(row: RegistryVersion): void {
    const message = quarantineOf(row, config.quarantineContact);
    if (message) throw new NpmHttpError(451, message);
  }

  async function servedVersion(req: FastifyRequest, row: RegistryVersion): Promise<ServedVersion | null> {
    if (!row.checksum || !row.storageKey) {
      req.log.error({ package: `${row.name}@${row.version}` }, 'published package has no stored tarball; not listed');
      return null;
    }
    try {
      const info = await store.describe(row.storageKey, row.checksum);
      return {
        version: row.version,
        integrity: row.checksum,
        shasum: info.shasum,
        manifest: info.manifest,
        publishedAt: row.publishedAt ?? row.updatedAt,
        quarantine: quarantineOf(row, config.quarantineContact),
      };
    } catch (err) {
      req.log.error(
        { err, package: `${row.name}@${row.version}` },
        'stored tarball of a published package is unreadable; not listed',
      );
      return null;
    }
  }

  /** The Published versions among `rows` whose stored tarball verifies, read a few at a time. */
  async function servedVersions(req: FastifyRequest, rows: RegistryVersion[]): Promise<ServedVersion[]> {
    const published = rows.filter((r) => r.status === Status.Published);
    const out: ServedVersion[] = [];
    for (let i = 0; i < published.length; i += 8) {
      const batch = await Promise.all(published.slice(i, i + 8).map((r) => servedVersion(req, r)));
      for (const v of batch) if (v) out.push(v);
    }
    return out;
  }

  async function sendPackument(req: FastifyRequest, reply: FastifyReply, rawName: string) {
    const name = checkName(rawName);
    const rows = await listRegistryVersions(db, name);
    const versions = await servedVersions(req, rows);
    if (versions.length === 0) throw notAvailable(req, name, () => noPublishedVersions(name, rows));
    const base = baseUrl(req);
    const full = buildPackument(name, versions, (v) => `${base}${name}/-/${tarballFileName(name, v)}`);
    const accept = req.headers.accept ?? '';
    reply.header('cache-control', 'no-cache').header('vary', 'accept');
    if (accept.includes(ABBREVIATED_CONTENT_TYPE)) {
      return reply.type(ABBREVIATED_CONTENT_TYPE).send(abbreviatePackument(full));
    }
    return reply.type('application/json').send(full);
  }

  async function sendVersion(req: FastifyRequest, reply: FastifyReply, rawName: string, version: string) {
    const name = checkName(rawName);
    const row = await findRegistryVersion(db, name, version);
    if (!row || row.status !== Status.Published) {
      throw notAvailable(req, `${name}@${version}`, () =>
        row ? describeStatus(row) : `${name}@${version} is not approved for use: it was never submitted for vetting`,
      );
    }
    refuseQuarantined(row);
    const [served] = await servedVersions(req, [row]);
    if (!served) throw new Error(`${name}@${version} is published but its stored tarball is unreadable`);
    const base = baseUrl(req);
    const full = buildPackument(name, [served], (v) => `${base}${name}/-/${tarballFileName(name, v)}`);
    return reply.type('application/json').send((full.versions as Record<string, unknown>)[version]);
  }

  async function sendTarball(req: FastifyRequest, reply: FastifyReply, rawName: string, file: string) {
    const name = checkName(rawName);
    const version = versionFromFileName(name, file);
    if (!version) throw notFound(`${file} is not a tarball of ${name}`);
    const row = await findRegistryVersion(db, name, version);
    if (!row || row.status !== Status.Published) {
      throw notAvailable(req, `${name}@${version}`, () =>
        row ? describeStatus(row) : `${name}@${version} is not approved for use: it was never submitted for vetting`,
      );
    }
    refuseQuarantined(row);
    const path = row.storageKey ? store.path(row.storageKey) : null;
    const size = path
      ? await stat(path).then(
          (s) => s.size,
          () => null,
        )
      : null;
    if (!path || size === null) {
      req.log.error(
        { package: `${name}@${version}`, storageKey: row.storageKey },
        'stored tarball of a published package is missing',
      );
      throw new Error(`the stored tarball of ${name}@${version} is missing`);
    }
    return reply
      .type('application/octet-stream')
      .header('content-length', size)
      .header('cache-control', 'public, max-age=300')
      .header('etag', JSON.stringify(row.checksum ?? ''))
      .send(createReadStream(path));
  }

  app.get('/-/ping', { schema: { tags, summary: 'npm ping', response: { 200: Type.Object({}) } } }, async () => ({}));

  app.get<{ Params: NameParams }>(
    '/:name',
    {
      schema: {
        tags,
        summary: 'Packument of a package (published versions only)',
        params: Type.Object({ name: Name }),
        response: { 200: Packument, ...errors },
      },
    },
    (req, reply) => sendPackument(req, reply, req.params.name),
  );

  // Two segments: `@scope/name` (a scoped packument) or `name/version` (one version document).
  app.get<{ Params: PairParams }>(
    '/:a/:b',
    {
      schema: {
        tags,
        summary: 'Packument of a scoped package (`@scope/name`), or one version document (`name/version`)',
        params: Type.Object({ a: Type.String(), b: Type.String() }),
        response: { 200: Packument, ...errors },
      },
    },
    (req, reply) => {
      const { a, b } = req.params;
      if (a.startsWith('@') && !a.includes('/')) return sendPackument(req, reply, `${a}/${b}`);
      return sendVersion(req, reply, a, b);
    },
  );

  app.get<{ Params: ScopedVersionParams }>(
    '/:scope/:name/:version',
    {
      schema: {
        tags,
        summary: 'One version document of a scoped package',
        params: Type.Object({ scope: Type.String({ pattern: '^@' }), name: Type.String(), version: Type.String() }),
        response: { 200: Packument, ...errors },
      },
    },
    (req, reply) => sendVersion(req, reply, `${req.params.scope}/${req.params.name}`, req.params.version),
  );

  const tarballResponse = {
    200: Type.String({ format: 'binary', description: 'the gzipped tarball, exactly as vetted' }),
    ...errors,
  };
  app.get<{ Params: TarballParams }>(
    '/:name/-/:file',
    {
      schema: {
        tags,
        summary: 'Tarball of a published version',
        params: Type.Object({ name: Name, file: Type.String() }),
        response: tarballResponse,
      },
    },
    (req, reply) => sendTarball(req, reply, req.params.name, req.params.file),
  );
  app.get<{ Params: ScopedTarballParams }>(
    '/:scope/:name/-/:file',
    {
      schema: {
        tags,
        summary: 'Tarball of a published version of a scoped package',
        params: Type.Object({ scope: Type.String({ pattern: '^@' }), name: Type.String(), file: Type.String() }),
        response: tarballResponse,
      },
    },
    (req, reply) => sendTarball(req, reply, `${req.params.scope}/${req.params.name}`, req.params.file),
  );

  app.route({
    method: ['PUT', 'POST', 'DELETE', 'PATCH'],
    url: '/*',
    schema: { tags, summary: 'Writes are refused: the registry is read-only', response: { 405: NpmError } },
    handler: (_req, reply) => reply.code(405).header('allow', 'GET, HEAD').send({ error: READ_ONLY }),
  });
}

export { registryRoutes };
