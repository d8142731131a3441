import { Type, type TSchema } from '@sinclair/typebox';
import { MULTILINE_TEXT_PATTERN, PLAIN_TEXT_PATTERN } from '../input.js';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. ERR_LOCKFILE_ENTRY' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { description: 'Every error has this shape.' },
);

const errorDescriptions: Record<number, string> = {
  400: 'Bad request',
  401: 'Missing, invalid or expired token, or a disabled account',
  403: 'The role does not allow this',
  404: 'Not found',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal error (details are never exposed)',
  503: 'A dependency (the database) is unavailable',
};

/** Response schemas for the error codes a route can answer, plus 500 and 503 which every route can. */
export function errors(...codes: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const c of [...codes, 500, 503]) {
    out[c] = { ...ErrorResponse, description: errorDescriptions[c] ?? 'Error' };
  }
  return out;
}

/** Errors of an authenticated route: 400 (validation), 401, 403. */
export function authErrors(...codes: number[]): Record<number, TSchema> {
  return errors(400, 401, 403, ...codes);
}

export const Pagination = Type.Object({
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Page number (1-based), with page_size' }),
  ),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'Items per page (default 50)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'Alternative to page_size' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'Alternative to page' })),
});

/** Free text to search for: no control characters (PostgreSQL refuses NUL; none belongs in a search). */
export const SearchText = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: PLAIN_TEXT_PATTERN,
  description: 'Contains this text (case-insensitive)',
});

/** Free text a person writes (a reason, notes): line breaks and tabs allowed, other control characters refused. */
export const MultilineText = (opts: { minLength?: number; maxLength: number; description?: string }) =>
  Type.String({ ...opts, pattern: MULTILINE_TEXT_PATTERN });

/** True when the query asked for a page (page, page_size, limit or offset). */
export function wantsPage(q: { page?: number; page_size?: number; limit?: number; offset?: number }): boolean {
  return q.page !== undefined || q.page_size !== undefined || q.limit !== undefined || q.offset !== undefined;
}

export const PageInfo = {
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer(),
};

/** Resolves page/page_size or limit/offset (limit/offset win when both are given). */
export function pageOf(q: { page?: number; page_size?: number; limit?: number; offset?: number }): {
  limit: number;
  offset: number;
} {
  const limit = q.limit ?? q.page_size ?? 50;
  const offset = q.offset ?? ((q.page ?? 1) - 1) * limit;
  return { limit, offset };
}

export function pageInfo(total: number, p: { limit: number; offset: number }) {
  return { total, limit: p.limit, offset: p.offset, page: Math.floor(p.offset / p.limit) + 1, page_size: p.limit };
}

/** Ids of bigserial rows (requests, packages, audit entries). */
export const IdParam = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
/** Ids of serial rows (users). */
export const UserIdParam = Type.Integer({ minimum: 1, maximum: 2147483647 });
/** A timestamp: handlers return Date objects, which the serializer writes as ISO 8601. */
export const Timestamp = Type.Unsafe<Date | string>({ type: 'string', format: 'date-time' });
export const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);

/** preValidation hook for routes whose JSON body is optional: a request without a body validates as `{}`. */
export async function emptyBodyAsObject(request: { body: unknown }): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}
