import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import { Type } from '@sinclair/typebox';
import { AppError, enqueueLockfile } from '@spm/db';
import { LOCKFILE_FORMATS, parseLockfileText, storedLockfile } from '../lockfile/index.js';
import { assertPlainText } from '../input.js';
import { authErrors } from '../schemas/common.js';
import { allowedPriority, Priority } from '../schemas/requests.js';

// The format is told by content, whatever the media type says: JSON for npm, text for yarn.lock and pnpm-lock.yaml.
const RAW_TYPES = [
  'application/json',
  'text/plain',
  'application/octet-stream',
  'application/yaml',
  'application/x-yaml',
  'text/yaml',
  'text/x-yaml',
];
const MAX_META = 214;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(buf: Buffer): string {
  try {
    return utf8.decode(buf);
  } catch {
    throw new AppError('ERR_NOT_JSON', 'The lockfile is not UTF-8 text.', { status: 400 });
  }
}

function metaField(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_META) {
    throw new AppError('ERR_VALIDATION', `${name} must be 1 to ${MAX_META} characters.`, { status: 400 });
  }
  assertPlainText(name, value);
  return value.trim();
}

/**
 * POST /api/packages/upload: a lockfile (package-lock.json, npm-shrinkwrap.json, yarn.lock or
 * pnpm-lock.yaml) as the raw body or as multipart field `file`. The whole
 * lockfile is validated before anything is written; the request, its packages and the queue rows are
 * then written in one transaction, and the answer is 202 at once (the worker does the rest).
 */
const uploadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const limit = app.config.uploadMaxBytes;
  // In this scope the body stays raw: our parser reports lockfile problems with precise codes, and
  // JSON.parse (not a merging parser) keeps `__proto__` keys as plain data.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: limit }, (_req, body, done) => done(null, body));
  await app.register(multipart, {
    limits: { fileSize: limit, files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 100 },
  });

  app.post(
    '/upload',
    {
      bodyLimit: limit,
      config: { access: 'user', tokenScope: 'submit' },
      schema: {
        tags: ['packages'],
        summary: 'Submit a lockfile (package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml) for vetting',
        description:
          'Send the lockfile as the request body (application/json for npm lockfiles; text/plain, application/yaml or ' +
          'application/octet-stream for any format) or as multipart/form-data field `file`. The format is told by ' +
          'content: package-lock v1–v3 and npm-shrinkwrap, yarn.lock v1 and Yarn Berry (2–4), pnpm-lock.yaml 6.x and 9.x. ' +
          'Application name and version come from the lockfile root, or from `application_name` / `application_version` ' +
          '(query parameters or multipart fields) when the lockfile has none. `priority` (query) orders its packages in ' +
          'the queue: users may choose normal or low, approvers and admins also high or urgent. Answers 202 at once; ' +
          'poll `status_url`. More than MAX_LOCKFILE_ENTRIES packages: 413 ERR_MAX_LOCKFILE_ENTRIES. Over your quota ' +
          '(USER_MAX_OPEN_REQUESTS requests or USER_MAX_QUEUED_PACKAGES packages waiting for the workers; admins have ' +
          'none): 429 ERR_QUOTA_OPEN_REQUESTS / ERR_QUOTA_QUEUED_PACKAGES with Retry-After.',
        security: [{ bearerAuth: [] }],
        consumes: [...RAW_TYPES, 'multipart/form-data'],
        querystring: Type.Object({
          application_name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_META })),
          application_version: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_META })),
          priority: Type.Optional(Priority),
        }),
        body: Type.Unknown({ description: 'The lockfile (JSON or text), or multipart/form-data with field `file`' }),
        response: {
          202: Type.Object({
            request_id: Type.Integer(),
            application_name: Type.String(),
            application_version: Type.String(),
            lockfile_format: Type.Union(
              LOCKFILE_FORMATS.map((f) => Type.Literal(f)),
              { description: 'The format the lockfile was recognised as, from its content' },
            ),
            lockfile_version: Type.Integer({
              description: "The format's version: npm 1–3, yarn classic 1, Yarn Berry __metadata.version, pnpm 6 or 9",
            }),
            package_count: Type.Integer(),
            new_packages: Type.Integer(),
            existing_packages: Type.Integer(),
            skipped_entries: Type.Integer({
              description:
                'Workspaces, links and local folders, bundled dependencies and Yarn patches: not vetted separately',
            }),
            priority: Priority,
            status_url: Type.String(),
          }),
          ...authErrors(403, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      // Checked before the body is read: a user asking for urgent gets the 403 whatever the lockfile.
      const priorityName = request.query.priority ?? 'normal';
      const priority = allowedPriority(request.user.role, priorityName);
      let text: string;
      let name = request.query.application_name;
      let version = request.query.application_version;
      if (request.isMultipart()) {
        let file: Buffer | undefined;
        try {
          for await (const part of request.parts()) {
            if (part.type === 'file') {
              if (part.fieldname !== 'file' || file) {
                part.file.resume();
                throw new AppError('ERR_MULTIPART_FIELD', 'Send exactly one file, in the multipart field "file".', {
                  status: 400,
                });
              }
              file = await part.toBuffer();
            } else if (part.fieldname === 'application_name') name = metaField('application_name', part.value) ?? name;
            else if (part.fieldname === 'application_version')
              version = metaField('application_version', part.value) ?? version;
          }
        } catch (err) {
          if (err instanceof AppError) throw err;
          const e = err as { statusCode?: number };
          if (typeof e.statusCode === 'number' && e.statusCode < 500) throw err;
          throw new AppError('ERR_MULTIPART_INVALID', 'The multipart body could not be read.', {
            status: 400,
            cause: err,
          });
        }
        if (!file)
          throw new AppError('ERR_MULTIPART_FIELD', 'The multipart body has no "file" field with the lockfile.', {
            status: 400,
          });
        text = decode(file);
      } else if (Buffer.isBuffer(request.body)) {
        text = decode(request.body);
      } else {
        throw new AppError(
          'ERR_UNSUPPORTED_MEDIA_TYPE',
          'Send the lockfile as application/json (npm), as text/plain or application/yaml (yarn.lock, pnpm-lock.yaml), or as multipart/form-data field "file".',
          { status: 415 },
        );
      }

      const parsed = parseLockfileText(text);
      const entries = parsed.packages.length;
      if (entries > app.config.maxLockfileEntries) {
        throw new AppError(
          'ERR_MAX_LOCKFILE_ENTRIES',
          `The lockfile has ${entries} packages to vet; this server accepts at most ${app.config.maxLockfileEntries} per upload (MAX_LOCKFILE_ENTRIES). Split it, or ask an operator to raise the limit.`,
          { status: 413, details: { setting: 'MAX_LOCKFILE_ENTRIES', limit: app.config.maxLockfileEntries, entries } },
        );
      }
      const applicationName = parsed.applicationName ?? name ?? 'unnamed';
      const applicationVersion = parsed.applicationVersion ?? version ?? '0.0.0';
      const result = await enqueueLockfile(app.db, {
        priority,
        applicationName,
        applicationVersion,
        requestorId: request.user.id,
        actor: request.user.username,
        lockfile: storedLockfile(parsed.format, text),
        lockfileFormat: parsed.format,
        lockfileVersion: parsed.lockfileVersion,
        packages: parsed.packages,
        audit: { ip: request.ip },
        // Admins have no quota: they are the override when someone's work must go in anyway.
        quota:
          request.user.role === 'admin'
            ? undefined
            : {
                maxOpenRequests: app.config.userMaxOpenRequests,
                maxQueuedPackages: app.config.userMaxQueuedPackages,
              },
      });
      return reply.code(202).send({
        request_id: result.requestId,
        application_name: applicationName,
        application_version: applicationVersion,
        lockfile_format: parsed.format,
        lockfile_version: parsed.lockfileVersion,
        priority: priorityName,
        package_count: result.packageCount,
        new_packages: result.newCount,
        existing_packages: result.existingCount,
        skipped_entries: parsed.skipped.filter((s) => s.reason !== 'root').length,
        status_url: `/api/packages/requests/${result.requestId}/processing-status`,
      });
    },
  );
};

export default uploadRoutes;
