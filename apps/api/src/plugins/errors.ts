import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError } from '@spm/db';
import {
  CONTROL_CHARACTER_PATTERNS,
  controlCharacterMessage,
  ERR_CONTROL_CHARACTER,
  ERR_INVALID_TIMESTAMP,
} from '../input.js';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const TOO_LARGE = new Set([
  'FST_ERR_CTP_BODY_TOO_LARGE',
  'FST_REQ_FILE_TOO_LARGE',
  'FST_FILES_LIMIT',
  'FST_PARTS_LIMIT',
  'FST_FIELDS_LIMIT',
]);

// PostgreSQL is unreachable or going away: the request may succeed later.
const DB_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

function isDbUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && DB_UNAVAILABLE.has(e.code)) return true;
  return (
    typeof e.message === 'string' && /Connection terminated|timeout exceeded when trying to connect/i.test(e.message)
  );
}

/** Maps any error to a status and the public body. Internals of 5xx errors are never exposed. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (isAppError(err)) {
    const status = err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500 && err.code !== 'ERR_DB_UNAVAILABLE') {
      return { status: 500, body: { error: { code: 'ERR_INTERNAL', message: 'Internal server error' } } };
    }
    return {
      status,
      body: {
        error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
      },
    };
  }
  const e = err as FastifyError & {
    validation?: Array<{ instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> }>;
  };
  if (e && Array.isArray(e.validation)) {
    const first = e.validation[0];
    const path = `${e.validationContext ?? ''}${first?.instancePath ?? ''}`;
    if (first?.keyword === 'pattern' && CONTROL_CHARACTER_PATTERNS.has(String(first.params?.pattern))) {
      return {
        status: 400,
        body: { error: { code: ERR_CONTROL_CHARACTER, message: controlCharacterMessage(path), details: [{ path }] } },
      };
    }
    if (first?.keyword === 'format' && first.params?.format === 'date-time') {
      return {
        status: 400,
        body: {
          error: {
            code: ERR_INVALID_TIMESTAMP,
            message: `${path} is not a real instant: send an RFC 3339 date-time such as 2026-01-31T12:00:00Z.`,
            details: [{ path }],
          },
        },
      };
    }
    return {
      status: 400,
      body: {
        error: {
          code: 'ERR_VALIDATION',
          message: e.message,
          details: e.validation.map((v) => ({
            path: `${e.validationContext ?? ''}${v.instancePath ?? ''}`,
            message: v.message ?? '',
          })),
        },
      },
    };
  }
  const code = typeof e?.code === 'string' ? e.code : '';
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (TOO_LARGE.has(code) || status === 413) {
    return {
      status: 413,
      body: { error: { code: 'ERR_PAYLOAD_TOO_LARGE', message: 'The request body is too large.' } },
    };
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
    return {
      status: 415,
      body: {
        error: {
          code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
          message:
            'Unsupported Content-Type: send application/json (or multipart/form-data where a route accepts files).',
        },
      },
    };
  }
  if (
    code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    (status === 400 && e instanceof SyntaxError)
  ) {
    return {
      status: 400,
      body: {
        error: {
          code: 'ERR_NOT_JSON',
          message: `The request body is not valid JSON: ${String(e.message).slice(0, 200)}`,
        },
      },
    };
  }
  if (status === 429) {
    return {
      status: 429,
      body: { error: { code: 'ERR_RATE_LIMITED', message: 'Too many requests: wait a minute and try again.' } },
    };
  }
  if (code.startsWith('FST_JWT_') || status === 401) {
    return {
      status: 401,
      body: { error: { code: 'ERR_UNAUTHORIZED', message: 'Authentication required: send a valid bearer token.' } },
    };
  }
  if (status >= 400 && status < 500) {
    return {
      status,
      body: {
        error: {
          code: status === 404 ? 'ERR_NOT_FOUND' : 'ERR_BAD_REQUEST',
          message: String(e.message ?? 'Bad request').slice(0, 300),
        },
      },
    };
  }
  if (isDbUnavailable(err)) {
    return {
      status: 503,
      body: { error: { code: 'ERR_DB_UNAVAILABLE', message: 'The database is unavailable; try again shortly.' } },
    };
  }
  return { status: 500, body: { error: { code: 'ERR_INTERNAL', message: 'Internal server error' } } };
}

/** The one error handler and the 404 handler: every error leaves as `{ error: { code, message, details? } }`. */
export default fp(
  async function errorsPlugin(app: FastifyInstance) {
    app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = toErrorResponse(err);
      if (status >= 500) request.log.error({ err }, 'request failed');
      else request.log.info({ code: body.error.code, status }, body.error.message);
      if (status === 429 && (err as { headers?: Record<string, string> }).headers) {
        void reply.headers((err as { headers: Record<string, string> }).headers);
      }
      void reply.code(status).send(body);
    });
    app.setNotFoundHandler((request, reply) => {
      void reply.code(404).send({
        error: {
          code: 'ERR_NOT_FOUND',
          message: `No route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`,
        },
      } satisfies ErrorBody);
    });
  },
  { name: 'spm-errors' },
);
